// robo-os web console: one plain ES module, no build step, no third-party code, no
// network access beyond this brain's own API.
//
// Safety: text from the API reaches the page only as text nodes (el() below), never as
// HTML. The API token lives in this tab's sessionStorage and travels only in the
// Authorization header, never in a URL (that is why events are read with fetch:
// EventSource cannot send headers).

/** Every API call the console makes. tests/brain/console checks each method, path and
 *  query parameter against the app's OpenAPI schema, so the two cannot drift apart. */
export const API = Object.freeze({
  health: { method: "GET", path: "/healthz" },
  robots: { method: "GET", path: "/v1/robots" },
  objects: { method: "GET", path: "/v1/memory/objects" },
  places: { method: "GET", path: "/v1/memory/places" },
  changes: { method: "GET", path: "/v1/memory/changes", query: ["cursor", "kind", "name", "count", "wait_s"] },
  tasks: { method: "GET", path: "/v1/tasks", query: ["limit"] },
  task: { method: "GET", path: "/v1/tasks/{task_id}" },
  submit: { method: "POST", path: "/v1/tasks" },
  cancel: { method: "POST", path: "/v1/tasks/{task_id}/cancel" },
  events: { method: "GET", path: "/v1/tasks/{task_id}/events", query: ["cursor"] },
  camera: { method: "GET", path: "/v1/robots/{robot_id}/camera", query: ["target"] },
  estop: { method: "GET", path: "/v1/estop" },
  engageEstop: { method: "POST", path: "/v1/estop" },
  releaseEstop: { method: "POST", path: "/v1/estop/release" },
  approve: { method: "POST", path: "/v1/tasks/{task_id}/subtasks/{subtask_id}/approve" },
  reject: { method: "POST", path: "/v1/tasks/{task_id}/subtasks/{subtask_id}/reject" },
});

/** Task statuses (and event kinds) after which nothing changes. */
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** The change feed's cursor for "from now on". */
export const LATEST = "latest";

const WORLD_KINDS = ["robot", "object", "place"];
const CHANGES_PAGE = 1000;
const CHANGES_WAIT_S = 25; // long poll: the brain holds the request until a change or this
const TASKS_POLL_MS = 5000; // nothing announces new tasks: the list is re-read this often
const HEALTH_POLL_MS = 10000;
const RETRY_MS = 3000;
const MAX_EVENTS = 500;
const TOKEN_KEY = "robo-os-api-token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** From the API's error body {"error": {"code", "message", "problems"?}}. */
  static from(status, body) {
    const error = body && typeof body === "object" ? body.error : null;
    if (!error || typeof error.message !== "string") {
      return new ApiError(status, `http_${status}`, `HTTP ${status}`);
    }
    const problems = Array.isArray(error.problems) ? error.problems : [];
    const detail = problems.map((p) => `${p.subtask ?? p.field ?? ""} ${p.message}`.trim());
    // The message usually lists the problems already; add only what it lacks.
    const missing = detail.filter((d) => !error.message.includes(d));
    return new ApiError(status, String(error.code), [error.message, ...missing].join("; "));
  }
}

/** Splits Server-Sent Events text into events the way the HTML standard's parser does:
 *  lines end with CRLF, LF or CR; ":" starts a comment (keepalive); an empty line ends an
 *  event; the last `id` seen is the event's id. */
export class SSEParser {
  constructor() {
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.lastId = null;
  }

  /** Feeds the next chunk of text; returns the events it completed: {id, event, data}. */
  push(text) {
    this.buffer += text;
    const out = [];
    // A CR at the very end may be half of a CRLF split across chunks: wait for more.
    const eol = /\r\n|\n|\r(?!$)/;
    for (let m = eol.exec(this.buffer); m; m = eol.exec(this.buffer)) {
      const event = this.line(this.buffer.slice(0, m.index));
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (event) out.push(event);
    }
    return out;
  }

  line(line) {
    if (line === "") {
      const done = this.data.length > 0;
      const event = { id: this.lastId, event: this.event || "message", data: this.data.join("\n") };
      this.data = [];
      this.event = "";
      return done ? event : null;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    return null;
  }
}

/** The brain's REST API as the console uses it; `root` is the brain's base URL. */
export class Client {
  constructor(root, token, fetchFn = (...args) => globalThis.fetch(...args)) {
    this.root = new URL(root);
    this.token = token;
    this.fetchFn = fetchFn;
  }

  url(route, params = {}, query = {}) {
    const path = route.path.replace(/\{(\w+)\}/g, (_, name) => {
      if (params[name] === undefined) throw new Error(`${route.path} needs ${name}`);
      return encodeURIComponent(params[name]);
    });
    const url = new URL(path.slice(1), this.root);
    for (const [name, value] of Object.entries(query)) {
      if (!route.query?.includes(name)) throw new Error(`${route.path} takes no ${name}`);
      for (const one of [value].flat()) {
        if (one !== undefined && one !== null && one !== "") url.searchParams.append(name, String(one));
      }
    }
    return url;
  }

  headers(accept) {
    return { Authorization: `Bearer ${this.token}`, Accept: accept };
  }

  /** One JSON call; throws ApiError unless the answer is 2xx or one of `alsoOk`. */
  async call(route, { params, query, body, signal, alsoOk = [] } = {}) {
    const init = { method: route.method, headers: this.headers("application/json"), signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await this.fetchFn(this.url(route, params, query), init);
    const data = await response.json().catch(() => null);
    if (!response.ok && !alsoOk.includes(response.status)) throw ApiError.from(response.status, data);
    return data;
  }

  /** One binary call (an image); throws ApiError unless the answer is 2xx. */
  async blob(route, { params, query, signal } = {}) {
    const response = await this.fetchFn(this.url(route, params, query), { headers: this.headers("image/png"), signal });
    if (!response.ok) throw ApiError.from(response.status, await response.json().catch(() => null));
    return response.blob();
  }

  /** The task's events (from the first, or after `cursor`) as they happen, until the
   *  server ends the stream after the terminal event. */
  async *events(taskId, cursor, signal) {
    const url = this.url(API.events, { task_id: taskId }, { cursor });
    const response = await this.fetchFn(url, { headers: this.headers("text/event-stream"), signal });
    if (!response.ok) throw ApiError.from(response.status, await response.json().catch(() => null));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SSEParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        yield* parser.push(value);
      }
    } finally {
      reader.cancel().catch(() => {}); // closes the connection when the caller stops early
    }
  }

  /** The memory change feed's newest cursor. */
  async tailCursor(signal) {
    const page = await this.call(API.changes, { query: { cursor: LATEST, count: 1 }, signal });
    return page.cursor;
  }
}

// ---------------------------------------------------------------------------- the page

const ui = {};
const problems = new Map(); // what is wrong now, by source; shown in #notice
const session = {
  client: null, stop: null, selected: null, follow: null, cancelling: null,
  world: { robots: [], objects: [], places: [] }, task: null, camera: null,
};
let refreshWorld = () => {};
let refreshTasks = () => {};
let refreshTask = () => {};

/** An element; props with a "-" are attributes, others properties; strings become text. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key.includes("-")) node.setAttribute(key, String(value));
    else node[key] = value;
  }
  const kept = children.flat().filter((c) => c !== null && c !== undefined);
  node.append(...kept.map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

const dash = (value) => (value === null || value === undefined || value === "" ? "—" : value);
const clock = (ts = Date.now() / 1000) => new Date(ts * 1000).toLocaleTimeString();
const badge = (value) => {
  const kind = /^[a-z_]+$/.test(value) ? value : "other"; // statuses are snake_case words
  return el("span", { className: `status s-${kind}` }, String(value));
};

function delay(ms, signal) {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
  });
}

/** Waits `ms`, then while the tab is hidden (a hidden console asks the brain nothing). */
async function pause(ms, signal) {
  await delay(ms, signal);
  while (document.hidden && !signal.aborted) {
    await new Promise((resolve) => {
      document.addEventListener("visibilitychange", resolve, { once: true });
      signal.addEventListener("abort", resolve, { once: true });
    });
  }
}

/** A refresh that many events may ask for: one run at a time, at most one every `gapMs`. */
function coalesced(fn, gapMs, signal) {
  let busy = false;
  let again = false;
  const run = async () => {
    busy = true;
    await fn(signal);
    await delay(gapMs, signal);
    busy = false;
    if (again && !signal.aborted) {
      again = false;
      run();
    }
  };
  return () => (busy ? (again = true) : run());
}

function setProblem(source, message) {
  if (message) problems.set(source, message);
  else problems.delete(source);
  ui.notice.textContent = [...problems.values()].join(" · ");
  ui.notice.hidden = problems.size === 0;
}

/** Runs fn(signal), reporting its failure under `source` (a 401 ends the session). */
function guarded(source, fn) {
  return async (signal, ...args) => {
    try {
      const out = await fn(signal, ...args);
      setProblem(source, null);
      return out;
    } catch (err) {
      if (signal.aborted || err.name === "AbortError") return undefined;
      if (err instanceof ApiError && err.status === 401) {
        signOut(`The brain refused the token: ${err.message}`);
        return undefined;
      }
      // fetch fails with a TypeError when the brain cannot be reached at all
      const why = err instanceof TypeError ? `cannot reach the brain (${err.message})` : err.message;
      setProblem(source, `${source}: ${why}`);
      return undefined;
    }
  };
}

const loadWorld = guarded("fleet", async (signal) => {
  const routes = [API.robots, API.objects, API.places];
  const [r, o, p] = await Promise.all(routes.map((route) => session.client.call(route, { signal })));
  const byKey = (key) => (a, b) => String(a[key]).localeCompare(String(b[key]));
  ui.robots.replaceChildren(...r.robots.sort(byKey("id")).map(robotRow));
  ui.objects.replaceChildren(...o.objects.sort(byKey("name")).map(objectRow));
  ui.places.replaceChildren(...p.places.sort(byKey("name")).map(placeRow));
  for (const body of [ui.robots, ui.objects, ui.places]) labelCells(body);
  session.world = { robots: r.robots, objects: o.objects, places: p.places };
  renderMap();
  if (session.task) renderDag(session.task);
});

/** Copies each column's header into its cells' data-label: on a narrow screen the CSS
 *  stacks a row's cells and shows the label before each value. */
function labelCells(tbody) {
  const heads = [...tbody.closest("table").querySelectorAll("thead th")].map((th) => th.textContent);
  for (const row of tbody.rows) {
    [...row.cells].forEach((cell, i) => { if (heads[i]) cell.dataset.label = heads[i]; });
  }
}

// ------------------------------------------------------------------ map and plan graph

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element; every prop is an attribute; strings become text. */
function svg(tag, props = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  const kept = children.flat().filter((c) => c !== null && c !== undefined);
  node.append(...kept.map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

const num = (v) => Math.round(v * 1000) / 1000; // short attribute values

/** Where a subtask takes its robot: the first argument naming a place, else one naming
 *  an object with a pose, else x/y arguments; null when we know of nowhere. */
function destination(s, places, objects) {
  const names = Object.values(s.args ?? {}).filter((v) => typeof v === "string");
  for (const pool of [places, objects]) {
    const where = names.map((n) => pool.get(n)?.pose).find(Boolean);
    if (where) return where;
  }
  const { x, y } = s.args ?? {};
  return typeof x === "number" && typeof y === "number" ? { x, y } : null;
}

/** The top-down map: places (with their docking slots), robots (heading, planned path,
 *  load), objects where memory has them; unknown and unobserved ones are marked. */
function renderMap() {
  const { robots, objects, places } = session.world;
  const placeBy = new Map(places.map((p) => [p.name, p]));
  const objectBy = new Map(objects.map((o) => [o.name, o]));
  const xs = [];
  const ys = [];
  for (const p of places) {
    const [sx, sy] = p.size ?? [1, 1];
    xs.push(p.pose.x - sx / 2, p.pose.x + sx / 2);
    ys.push(p.pose.y - sy / 2, p.pose.y + sy / 2);
  }
  for (const thing of [...robots, ...objects]) {
    if (thing.pose) { xs.push(thing.pose.x); ys.push(thing.pose.y); }
  }
  const missing = [...robots.filter((r) => !r.pose).map((r) => r.id), ...objects.filter((o) => !o.pose).map((o) => o.name)];
  ui.mapNote.textContent = missing.length ? `Not on the map (no pose in memory): ${missing.join(", ")}` : "";
  if (!xs.length) {
    ui.map.replaceChildren();
    ui.map.setAttribute("aria-label", "Map: nothing in memory has a position yet");
    return;
  }
  const pad = 0.6;
  const [x0, x1] = [Math.min(...xs) - pad, Math.max(...xs) + pad];
  const [y0, y1] = [Math.min(...ys) - pad, Math.max(...ys) + pad];
  const unit = Math.max(x1 - x0, y1 - y0) / 45; // text and marks scale with the scene
  ui.map.setAttribute("viewBox", `${num(x0)} ${num(-y1)} ${num(x1 - x0)} ${num(y1 - y0)}`);
  ui.map.style.setProperty("--unit", String(unit));
  const Y = (y) => num(-y); // the world's y axis points up, the screen's down

  const docked = new Map(); // place → slot → robot
  for (const r of robots) {
    if (r.place && r.slot !== null && r.slot !== undefined) {
      if (!docked.has(r.place)) docked.set(r.place, new Map());
      docked.get(r.place).set(r.slot, r.id);
    }
  }
  const placeMarks = places.map((p) => {
    const [sx, sy] = p.size ?? [1, 1];
    const slots = Number.isInteger(p.attrs?.slots) ? p.attrs.slots : 0;
    const taken = docked.get(p.name) ?? new Map();
    const slotMarks = Array.from({ length: slots }, (_, i) => {
      const cx = p.pose.x - sx / 2 + ((i + 0.5) * sx) / slots;
      return svg("rect", {
        class: taken.has(i) ? "slot taken" : "slot",
        x: num(cx - unit * 0.5), y: Y(p.pose.y - sy / 2) - unit * 0.5, width: num(unit), height: num(unit),
      }, svg("title", {}, `${p.name} slot ${i}: ${taken.get(i) ?? "free"}`));
    });
    return svg("g", { class: `place k-${/^[a-z_]+$/.test(p.kind) ? p.kind : "other"}`, "data-place": p.name },
      svg("rect", { x: num(p.pose.x - sx / 2), y: Y(p.pose.y + sy / 2), width: num(sx), height: num(sy) }),
      svg("text", { x: num(p.pose.x - sx / 2 + unit * 0.3), y: num(Y(p.pose.y + sy / 2) + unit * 1.3) }, p.name),
      svg("title", {}, `${p.name} (${p.kind})${slots ? `, ${taken.size}/${slots} slots taken` : ""}`),
      slotMarks);
  });

  // planned path: from the robot through the destinations of its unfinished subtasks
  const routes = new Map();
  for (const s of session.task?.subtasks ?? []) {
    if (TERMINAL.has(s.status) || s.status === "skipped") continue;
    const to = destination(s, placeBy, objectBy);
    if (!to) continue;
    if (!routes.has(s.robot)) routes.set(s.robot, []);
    routes.get(s.robot).push(to);
  }
  const pathMarks = robots.filter((r) => r.pose && routes.has(r.id)).map((r) => svg("polyline", {
    class: "path", "data-robot": r.id,
    points: [r.pose, ...routes.get(r.id)].map((q) => `${num(q.x)},${Y(q.y)}`).join(" "),
  }));

  const objectMarks = objects.filter((o) => o.pose).map((o) => {
    const unknown = o.unknown_since !== null && o.unknown_since !== undefined;
    const state = unknown ? "unknown" : o.source === "observed" ? "observed" : "believed";
    const where = unknown ? "not found where memory had it" : o.held_by ? `held by ${o.held_by}` : `on ${o.on ?? "?"}`;
    return svg("g", { class: `object ${state}`, "data-object": o.name },
      svg("rect", { x: num(o.pose.x - unit * 0.45), y: num(Y(o.pose.y) - unit * 0.45), width: num(unit * 0.9), height: num(unit * 0.9) }),
      svg("text", { x: num(o.pose.x + unit * 0.7), y: num(Y(o.pose.y) + unit * 0.35) }, unknown ? `${o.name} ?` : o.name),
      svg("title", {}, `${o.name} (${o.type}): ${where}; ${state}`));
  });

  const robotMarks = robots.filter((r) => r.pose).map((r) => {
    const yaw = r.pose.yaw ?? 0;
    const { x } = r.pose;
    const y = Y(r.pose.y);
    const tip = [num(x + Math.cos(yaw) * unit * 1.6), num(y - Math.sin(yaw) * unit * 1.6)];
    const load = [r.holding, ...objects.filter((o) => o.on === r.id).map((o) => o.name)].filter(Boolean);
    return svg("g", { class: `robot s-${/^[a-z_]+$/.test(r.status) ? r.status : "other"}`, "data-robot": r.id },
      svg("circle", { cx: num(x), cy: y, r: num(unit) }),
      svg("line", { class: "heading", x1: num(x), y1: y, x2: tip[0], y2: tip[1] }),
      svg("text", { x: num(x + unit * 1.2), y: num(y - unit * 1.2), class: "label" }, r.id),
      load.length ? svg("text", { x: num(x + unit * 1.2), y: num(y + unit * 1.6), class: "load" }, `carries ${load.join(", ")}`) : null,
      svg("title", {}, `${r.id} (${r.embodiment}): ${r.status}${r.activity ? `, ${r.activity}` : ""}${load.length ? `, carries ${load.join(", ")}` : ""}`));
  });
  ui.map.replaceChildren(svg("g", { class: "places" }, placeMarks), svg("g", { class: "paths" }, pathMarks),
    svg("g", { class: "objects" }, objectMarks), svg("g", { class: "robots" }, robotMarks));
  ui.map.setAttribute("aria-label",
    `Map of ${places.length} places, ${robots.length} robots and ${objects.length} objects (details in the tables below)`);
}

/** The plan as a graph: one column per dependency depth, arrows from each subtask to
 *  those waiting on it, states as text and colour, progress of running ones. */
function renderDag(task) {
  const subtasks = task.subtasks ?? [];
  const byId = new Map(subtasks.map((s) => [s.id, s]));
  const depth = new Map();
  const depthOf = (s, seen = new Set()) => {
    if (depth.has(s.id)) return depth.get(s.id);
    if (seen.has(s.id)) return 0; // a cycle would be refused by the brain; do not loop here
    seen.add(s.id);
    const deps = s.depends_on.map((d) => byId.get(d)).filter(Boolean);
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(x, seen))) : 0;
    depth.set(s.id, d);
    return d;
  };
  const columns = [];
  for (const s of subtasks) (columns[depthOf(s)] ??= []).push(s);
  const [W, H, GX, GY] = [170, 58, 44, 14];
  const at = new Map();
  columns.forEach((col, c) => col.forEach((s, r) => at.set(s.id, { x: c * (W + GX), y: r * (H + GY) })));
  const width = Math.max(1, columns.length * (W + GX) - GX);
  const height = Math.max(1, ...columns.map((col) => col.length * (H + GY) - GY));
  ui.dag.setAttribute("viewBox", `-2 -2 ${width + 4} ${height + 4}`);
  ui.dag.setAttribute("width", String(width + 4));
  ui.dag.setAttribute("height", String(height + 4));
  const progressOf = new Map(session.world.robots
    .filter((r) => r.current_subtask && typeof r.progress === "number")
    .map((r) => [r.id, Math.min(1, Math.max(0, r.progress))]));
  const edges = subtasks.flatMap((s) => s.depends_on.filter((d) => at.has(d)).map((d) => {
    const a = at.get(d);
    const b = at.get(s.id);
    const [ax, ay, bx, by] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
    const mid = (ax + bx) / 2;
    return svg("path", { class: "edge", "marker-end": "url(#arrow)", d: `M${ax},${ay} C${mid},${ay} ${mid},${by} ${bx - 4},${by}` });
  }));
  const nodes = subtasks.map((s) => {
    const { x, y } = at.get(s.id);
    const kind = /^[a-z_]+$/.test(s.status) ? s.status : "other";
    const running = s.status === "running" && progressOf.has(s.robot);
    const pct = running ? progressOf.get(s.robot) : s.status === "succeeded" ? 1 : 0;
    return svg("g", { class: `node s-${kind}`, "data-subtask": s.id, "data-status": s.status, transform: `translate(${x},${y})` },
      svg("rect", { class: "box", width: W, height: H, rx: 6 }),
      svg("text", { x: 8, y: 16, class: "id" }, s.id),
      svg("text", { x: 8, y: 32 }, `${s.skill} @ ${s.robot}`),
      svg("text", { x: 8, y: 47, class: "state" }, running ? `${s.status} ${Math.round(pct * 100)}%` : s.status),
      svg("rect", { class: "bar-bg", x: 0, y: H - 4, width: W, height: 4 }),
      svg("rect", { class: "bar", x: 0, y: H - 4, width: num(W * pct), height: 4 }),
      svg("title", {}, `${s.id}: ${s.skill} on ${s.robot}, ${s.status}${s.depends_on.length ? `, after ${s.depends_on.join(", ")}` : ""}`));
  });
  const defs = svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 8 8", refX: 7, refY: 4, markerWidth: 8, markerHeight: 8, orient: "auto" },
    svg("path", { d: "M0,0 L8,4 L0,8 z", class: "arrowhead" })));
  ui.dag.replaceChildren(defs, svg("g", {}, edges), svg("g", {}, nodes));
  ui.dag.setAttribute("aria-label", `Plan graph of ${subtasks.length} subtasks (the table below lists them)`);
  ui.dag.parentElement.hidden = subtasks.length === 0;
}

function renderEstop(state) {
  session.estop = state;
  ui.estopBanner.hidden = !state.engaged;
  ui.estop.hidden = state.engaged;
  if (state.engaged) {
    const by = state.by ? ` by ${state.by}` : "";
    const since = state.since ? ` at ${clock(state.since)}` : "";
    ui.estopText.textContent = `Emergency stop engaged${by}${since}${state.reason ? `: ${state.reason}` : ""}.`
      + " Nothing moves or is dispatched until it is released.";
  }
}

const loadEstop = guarded("e-stop", async (signal) => {
  renderEstop(await session.client.call(API.estop, { signal }));
});

const engageEstop = guarded("e-stop", async (signal) => {
  ui.estop.disabled = true;
  try {
    renderEstop(await session.client.call(API.engageEstop, { body: { reason: "from the console" }, signal }));
  } finally {
    ui.estop.disabled = false;
  }
  refreshTask();
});

const releaseEstop = guarded("e-stop", async (signal) => {
  ui.estopRelease.disabled = true;
  try {
    renderEstop(await session.client.call(API.releaseEstop, { body: { reason: "from the console" }, signal }));
  } finally {
    ui.estopRelease.disabled = false;
  }
  refreshTask();
});

const decide = guarded("approval", async (signal, taskId, subtaskId, verdict) => {
  const route = verdict === "approve" ? API.approve : API.reject;
  const task = await session.client.call(route, {
    params: { task_id: taskId, subtask_id: subtaskId }, body: { reason: "from the console" }, signal,
  });
  if (session.selected === taskId) renderTask(task);
});

const showCamera = guarded("camera", async (signal, robotId) => {
  session.camera = robotId;
  ui.cameraCard.hidden = false;
  ui.cameraTitle.textContent = `Camera of ${robotId}`;
  ui.cameraNote.textContent = "Taking a picture…";
  const blob = await session.client.blob(API.camera, { params: { robot_id: robotId }, signal });
  if (session.camera !== robotId) return;
  const old = ui.cameraImage.src;
  ui.cameraImage.src = URL.createObjectURL(blob);
  ui.cameraImage.alt = `What ${robotId}'s camera saw at ${clock()}`;
  ui.cameraImage.hidden = false;
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  ui.cameraNote.textContent = `Taken at ${clock()}.`;
});

function robotRow(r) {
  let progress = "—";
  if (typeof r.progress === "number") {
    const pct = Math.round(Math.min(1, Math.max(0, r.progress)) * 100);
    const bar = el("progress", { max: 100, value: pct, "aria-hidden": "true" }); // the text says it
    progress = el("span", { className: "progress" }, bar, ` ${pct}%`);
  }
  return el("tr", {},
    el("th", { scope: "row" }, r.id, el("div", { className: "muted" }, r.embodiment)),
    el("td", {}, badge(r.status)),
    el("td", {}, dash(r.place)),
    el("td", {}, dash(r.holding)),
    el("td", {}, dash(r.activity ?? r.current_subtask)),
    el("td", {}, progress),
    el("td", {}, el("button", { type: "button", className: "small camera", "data-robot": r.id,
      "aria-label": `Camera of ${r.id}` }, "View"),
      // the robot's own e-stop: stop it alone (operator), or release it (admin)
      el("button", { type: "button", className: `small robot-stop${r.estop ? " stopped" : ""}`,
        "data-robot": r.id, "data-stopped": r.estop ? "true" : "false",
        "aria-label": `${r.estop ? "Release" : "Stop"} ${r.id}`,
        title: r.estop ? `stopped by ${r.estop.by}${r.estop.reason ? `: ${r.estop.reason}` : ""}` : "" },
      r.estop ? "Release" : "Stop")));
}

const robotStop = guarded("e-stop", async (signal, robot, stopped) => {
  const route = stopped ? API.releaseEstop : API.engageEstop;
  renderEstop(await session.client.call(route, { body: { reason: "from the console", robots: [robot] }, signal }));
  await loadWorld(signal);
});

function objectRow(o) {
  return el("tr", {},
    el("th", { scope: "row" }, o.name, el("div", { className: "muted" }, o.type)),
    el("td", {}, dash(o.place)),
    el("td", {}, dash(o.on)),
    el("td", {}, dash(o.held_by)),
    el("td", {}, String(o.version)),
    el("td", {}, dash(o.updated_by)));
}

function placeRow(p) {
  const at = p.pose ? `${p.pose.x.toFixed(2)}, ${p.pose.y.toFixed(2)}` : "—";
  return el("tr", {}, el("th", { scope: "row" }, p.name), el("td", {}, p.kind), el("td", {}, at));
}

const loadTasks = guarded("tasks", async (signal) => {
  const { tasks } = await session.client.call(API.tasks, { query: { limit: 50 }, signal });
  const rows = tasks.map((t) => el("tr", { "data-task": t.id },
    el("th", { scope: "row" },
      el("a", { href: `#task=${encodeURIComponent(t.id)}`, className: "task-link" }, t.id)),
    el("td", { className: "instruction" }, el("span", { className: "clamp", title: t.instruction ?? "" }, dash(t.instruction))),
    el("td", {}, badge(t.status)),
    el("td", {}, clock(t.created_at))));
  const none = el("tr", {}, el("td", { colSpan: 4 }, "No tasks yet."));
  ui.tasks.replaceChildren(...(rows.length ? rows : [none]));
  labelCells(ui.tasks);
  markSelected();
});

function markSelected() {
  for (const row of ui.tasks.querySelectorAll("tr[data-task]")) {
    const link = row.querySelector("a");
    if (row.dataset.task === session.selected) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

const loadTask = guarded("task", async (signal, taskId) => {
  const task = await session.client.call(API.task, { params: { task_id: taskId }, signal });
  if (session.selected === taskId) renderTask(task);
  return task;
});

function renderTask(task) {
  ui.taskTitle.textContent = `Task ${task.id}`;
  // what a queued (or blocked) task waits for, and which task holds it
  const waits = (task.waiting_for ?? [])
    .map((w) => `${w.kind} ${w.name}${w.holder ? ` (held by task ${w.holder})` : ""}`);
  const facts = ` · created ${clock(task.created_at)} · ${task.model_calls} model call(s)`
    + ` · ${task.replans} replan(s)`
    + (task.priority ? ` · priority ${task.priority}` : "")
    + (waits.length ? ` · waits for ${waits.join(", ")}` : "");
  const what = task.instruction ?? (task.goal ? "(goal)" : "(explicit plan)");
  ui.taskSummary.replaceChildren(badge(task.status), " ", el("span", { className: "clamp", title: what }, what),
    el("span", { className: "muted" }, facts));
  ui.taskError.hidden = !task.error;
  if (task.error) {
    const problem = (p) =>
      el("li", {}, el("code", {}, p.code), p.subtask ? ` (${p.subtask})` : "", ` ${p.message}`);
    const list = el("ul", {}, task.error.problems.map(problem));
    ui.taskError.replaceChildren(el("p", { className: "clamp", title: task.error.message }, task.error.message), list);
  }
  ui.cancel.disabled = TERMINAL.has(task.status) || session.cancelling === task.id;
  const rows = task.subtasks.map(subtaskRow);
  const none = el("tr", {}, el("td", { colSpan: 8 }, "No plan yet."));
  ui.subtasks.replaceChildren(...(rows.length ? rows : [none]));
  labelCells(ui.subtasks);
  session.task = task;
  renderDag(task);
  renderMap();
}

function subtaskRow(s) {
  const r = s.result;
  const took = s.started_at && s.finished_at ? ` (${(s.finished_at - s.started_at).toFixed(1)} s)` : "";
  let result = r ? [r.error ? el("strong", {}, `${r.error}: `) : null, r.message || r.status, took] : "—";
  if (s.status === "awaiting_approval") {
    result = el("span", { className: "decide" },
      el("button", { type: "button", className: "approve", "data-subtask": s.id }, "Approve"), " ",
      el("button", { type: "button", className: "reject", "data-subtask": s.id }, "Reject"));
  }
  return el("tr", {},
    el("th", { scope: "row" }, s.id),
    el("td", {}, s.robot),
    el("td", {}, s.skill),
    el("td", {}, el("code", {}, JSON.stringify(s.args))),
    el("td", {}, dash(s.depends_on.join(", "))),
    el("td", {}, badge(s.status)),
    el("td", {}, String(s.attempts)),
    el("td", {}, result));
}

function appendEvent(e) {
  const where = [e.subtask, e.robot && `@${e.robot}`].filter(Boolean).join(" ");
  const log = ui.events;
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4; // else the reader scrolled back
  log.append(el("li", {}, el("time", {}, clock(e.ts)), " ", el("span", { className: "kind" }, e.kind),
    where ? ` ${where}` : "", e.message ? ` — ${e.message}` : ""));
  while (log.childElementCount > MAX_EVENTS) log.firstElementChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}

/** Follows the selected task's event stream, resuming after the last event on a drop. */
async function followTask(taskId, signal) {
  let cursor = null;
  const follow = guarded("events", async () => {
    try {
      for await (const sse of session.client.events(taskId, cursor, signal)) {
        if (signal.aborted) return true; // events parsed before another task was selected
        cursor = sse.id;
        const event = JSON.parse(sse.data);
        appendEvent(event);
        refreshTask();
        if (TERMINAL.has(event.kind)) return true;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return true; // loadTask says so
      throw err;
    }
    return false; // ended without the terminal event: see what the task says
  });
  while (!signal.aborted) {
    if (await follow(signal)) break;
    const task = await loadTask(signal, taskId);
    if (task && TERMINAL.has(task.status)) break;
    await pause(RETRY_MS, signal);
  }
  refreshTasks();
}

/** Keeps fleet, objects and places current from the memory's change feed. */
async function followMemory(signal) {
  let cursor = null;
  const read = guarded("memory feed", async () => {
    if (cursor === null) {
      cursor = await session.client.tailCursor(signal);
      await loadWorld(signal); // read after the cursor: nothing between the two is missed
    }
    const query = { cursor, kind: WORLD_KINDS, count: CHANGES_PAGE, wait_s: CHANGES_WAIT_S };
    const page = await session.client.call(API.changes, { query, signal });
    cursor = page.cursor;
    if (page.changes.length) refreshWorld();
    ui.live.textContent = `memory read ${clock()}`;
    return page.changes.length === CHANGES_PAGE;
  });
  while (!signal.aborted) {
    if ((await read(signal)) === undefined) await pause(RETRY_MS, signal); // failed: back off
  }
}

async function every(ms, fn, signal) {
  while (!signal.aborted) {
    await fn(signal);
    await pause(ms, signal);
  }
}

const loadHealth = async (signal) => {
  let body;
  try {
    body = await session.client.call(API.health, { signal, alsoOk: [503] });
  } catch {
    if (!signal.aborted) ui.health.replaceChildren("health: ", badge("unreachable"));
    return;
  }
  ui.health.replaceChildren("health: ", badge(body.status));
  ui.healthParts.replaceChildren(...["redis", "dispatcher", "planner", "scheduler"].flatMap((part) => {
    const { ok, ...detail } = body[part] ?? {};
    const shown = (v) => (typeof v === "object" ? JSON.stringify(v) : v);
    const text = Object.entries(detail).map(([k, v]) => `${k}: ${shown(v)}`).join(", ");
    return [el("dt", {}, part), el("dd", {}, badge(ok ? "ok" : "failing"), text ? ` ${text}` : "")];
  }));
};

function select(taskId) {
  if (!session.client || session.selected === taskId) return;
  session.follow?.abort();
  session.selected = taskId;
  ui.task.hidden = !taskId;
  // Nothing of the previous task stays on screen under the new one's name.
  ui.taskTitle.textContent = `Task ${taskId}`;
  ui.taskSummary.replaceChildren("Loading…");
  ui.taskError.hidden = true;
  ui.cancel.disabled = true;
  ui.events.replaceChildren();
  ui.subtasks.replaceChildren();
  session.task = null;
  ui.dag.replaceChildren();
  ui.dag.parentElement.hidden = true;
  renderMap();
  markSelected();
  if (!taskId) return;
  session.follow = new AbortController();
  const signal = AbortSignal.any([session.stop.signal, session.follow.signal]);
  refreshTask = coalesced((s) => loadTask(s, taskId), 300, signal);
  loadTask(signal, taskId);
  followTask(taskId, signal);
}

const selectFromHash = () => select(new URLSearchParams(location.hash.slice(1)).get("task"));

const submit = guarded("submit", async (signal, instruction) => {
  const task = await session.client.call(API.submit, { body: { instruction }, signal });
  ui.instruction.value = "";
  refreshTasks();
  location.hash = `task=${encodeURIComponent(task.id)}`;
});

const cancel = guarded("cancel", async (signal, taskId) => {
  session.cancelling = taskId;
  ui.cancel.disabled = true;
  ui.cancel.textContent = "Cancelling…";
  try {
    // Answers once the task ended (or after the brain's cancel grace period).
    const task = await session.client.call(API.cancel, { params: { task_id: taskId }, signal });
    if (session.selected === taskId) renderTask(task);
    refreshTasks();
  } finally {
    session.cancelling = null;
    ui.cancel.textContent = "Cancel task";
    refreshTask(); // the button's state from the task as it is now
  }
});

function start(token) {
  session.client = new Client(new URL("..", document.baseURI), token);
  session.stop = new AbortController();
  const { signal } = session.stop;
  setProblem("auth", null);
  ui.login.hidden = true;
  ui.app.hidden = false;
  ui.signOut.hidden = false;
  ui.estop.hidden = false;
  refreshWorld = coalesced(loadWorld, 500, signal);
  refreshTasks = coalesced(loadTasks, 500, signal);
  every(HEALTH_POLL_MS, loadHealth, signal);
  every(HEALTH_POLL_MS, loadEstop, signal);
  every(TASKS_POLL_MS, loadTasks, signal);
  followMemory(signal);
  selectFromHash();
}

function signOut(message) {
  session.stop?.abort();
  Object.assign(session, { client: null, stop: null, selected: null, follow: null, task: null, camera: null });
  ui.cameraCard.hidden = true;
  sessionStorage.removeItem(TOKEN_KEY);
  problems.clear();
  setProblem("auth", message);
  ui.app.hidden = true;
  ui.task.hidden = true;
  ui.signOut.hidden = true;
  ui.estop.hidden = true;
  ui.estopBanner.hidden = true;
  ui.login.hidden = false;
  ui.live.textContent = "";
  ui.token.focus();
}

function main() {
  for (const id of ["health", "health-parts", "live", "sign-out", "notice", "login", "token", "app", "robots",
    "objects", "places", "submit", "instruction", "tasks", "tasks-refresh", "task", "task-title",
    "task-summary", "task-error", "cancel", "subtasks", "events", "map", "map-note", "dag", "camera-card",
    "camera-title", "camera-image", "camera-note", "camera-refresh", "camera-close", "estop", "estop-banner",
    "estop-text", "estop-release"]) {
    ui[id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = document.getElementById(id);
  }
  ui.login.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = ui.token.value.trim();
    ui.token.value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    start(token);
  });
  ui.signOut.addEventListener("click", () => signOut("Token forgotten."));
  ui.tasksRefresh.addEventListener("click", () => refreshTasks());
  ui.robots.addEventListener("click", (ev) => {
    const button = ev.target.closest("button.camera");
    if (button && session.stop) showCamera(session.stop.signal, button.dataset.robot);
    const stop = ev.target.closest("button.robot-stop");
    if (stop && session.stop) robotStop(session.stop.signal, stop.dataset.robot, stop.dataset.stopped === "true");
  });
  ui.estop.addEventListener("click", () => { if (session.stop) engageEstop(session.stop.signal); });
  ui.estopRelease.addEventListener("click", () => { if (session.stop) releaseEstop(session.stop.signal); });
  ui.subtasks.addEventListener("click", (ev) => {
    const button = ev.target.closest("button.approve, button.reject");
    if (!button || !session.stop || !session.selected) return;
    button.disabled = true;
    decide(session.stop.signal, session.selected, button.dataset.subtask,
      button.classList.contains("approve") ? "approve" : "reject");
  });
  ui.cameraRefresh.addEventListener("click", () => {
    if (session.camera && session.stop) showCamera(session.stop.signal, session.camera);
  });
  ui.cameraClose.addEventListener("click", () => {
    session.camera = null;
    ui.cameraCard.hidden = true;
  });
  ui.submit.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const instruction = ui.instruction.value.trim();
    const button = ui.submit.querySelector("button");
    if (!instruction || !session.stop) return;
    button.disabled = true;
    await submit(session.stop.signal, instruction);
    button.disabled = false;
  });
  ui.cancel.addEventListener("click", () => {
    if (session.selected) cancel(session.stop.signal, session.selected);
  });
  window.addEventListener("hashchange", selectFromHash);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) start(token);
  else signOut(null);
}

if (typeof document !== "undefined") main();
