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
const session = { client: null, stop: null, selected: null, follow: null, cancelling: null };
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
    el("td", {}, progress));
}

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
    el("td", { className: "instruction" }, dash(t.instruction)),
    el("td", {}, badge(t.status)),
    el("td", {}, clock(t.created_at))));
  const none = el("tr", {}, el("td", { colSpan: 4 }, "No tasks yet."));
  ui.tasks.replaceChildren(...(rows.length ? rows : [none]));
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
  ui.taskSummary.replaceChildren(badge(task.status), " ", task.instruction ?? "(explicit plan)",
    el("span", { className: "muted" }, facts));
  ui.taskError.hidden = !task.error;
  if (task.error) {
    const problem = (p) =>
      el("li", {}, el("code", {}, p.code), p.subtask ? ` (${p.subtask})` : "", ` ${p.message}`);
    const list = el("ul", {}, task.error.problems.map(problem));
    ui.taskError.replaceChildren(el("p", {}, task.error.message), list);
  }
  ui.cancel.disabled = TERMINAL.has(task.status) || session.cancelling === task.id;
  const rows = task.subtasks.map(subtaskRow);
  const none = el("tr", {}, el("td", { colSpan: 8 }, "No plan yet."));
  ui.subtasks.replaceChildren(...(rows.length ? rows : [none]));
}

function subtaskRow(s) {
  const r = s.result;
  const took = s.started_at && s.finished_at ? ` (${(s.finished_at - s.started_at).toFixed(1)} s)` : "";
  const result = r ? [r.error ? el("strong", {}, `${r.error}: `) : null, r.message || r.status, took] : "—";
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
  refreshWorld = coalesced(loadWorld, 500, signal);
  refreshTasks = coalesced(loadTasks, 500, signal);
  every(HEALTH_POLL_MS, loadHealth, signal);
  every(TASKS_POLL_MS, loadTasks, signal);
  followMemory(signal);
  selectFromHash();
}

function signOut(message) {
  session.stop?.abort();
  Object.assign(session, { client: null, stop: null, selected: null, follow: null });
  sessionStorage.removeItem(TOKEN_KEY);
  problems.clear();
  setProblem("auth", message);
  ui.app.hidden = true;
  ui.task.hidden = true;
  ui.signOut.hidden = true;
  ui.login.hidden = false;
  ui.live.textContent = "";
  ui.token.focus();
}

function main() {
  for (const id of ["health", "health-parts", "live", "sign-out", "notice", "login", "token", "app", "robots",
    "objects", "places", "submit", "instruction", "tasks", "tasks-refresh", "task", "task-title",
    "task-summary", "task-error", "cancel", "subtasks", "events"]) {
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
