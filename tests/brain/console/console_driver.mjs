// Drives the console's own API client (console.js, imported as a module) against a real
// brain over HTTP, for test_console_js.py. Prints one JSON line per step; where the test
// must act in between (finish a skill call, write memory), it waits for a line on stdin.
//
//   node console_driver.mjs <console.mjs> <scenario> <brain base URL> <token>

import { createInterface } from "node:readline";

const [modulePath, scenario, root, token] = process.argv.slice(2);
const { API, ApiError, Client, SSEParser, TERMINAL } = await import(modulePath);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));
const go = async () => (await lines.next()).value;

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return { name: err.name, status: err.status, code: err.code, message: err.message, api: err instanceof ApiError };
  }
}

const scenarios = {
  // The SSE parser on chunks cut anywhere, as a network delivers them.
  async parser() {
    const stream = ": keepalive\r\n\r\nid: 1-0\r\nevent: created\r\ndata: {\"a\":\r\ndata:  1}\r\n\r\n"
      + "id: 2-0\nevent: planned\ndata: x\n\n: keepalive\n\ndata: no-id-field\r\rid: 3-0\rdata: cr\r\r"
      + "event: ignored-without-data\n\nid\ndata: last\n\n";
    const expected = [
      { id: "1-0", event: "created", data: "{\"a\":\n 1}" },
      { id: "2-0", event: "planned", data: "x" },
      { id: "2-0", event: "message", data: "no-id-field" },
      { id: "3-0", event: "message", data: "cr" },
      { id: "", event: "message", data: "last" },
    ];
    const outcomes = new Set();
    for (let size = 1; size <= stream.length; size += 1) {
      const parser = new SSEParser();
      const got = [];
      for (let i = 0; i < stream.length; i += size) got.push(...parser.push(stream.slice(i, i + size)));
      outcomes.add(JSON.stringify(got));
    }
    say("parser", { outcomes: [...outcomes].map((o) => JSON.parse(o)), expected });
  },

  // Login, fleet, follow a task live to its end, resume its stream, the change feed.
  async follow() {
    const bad = new Client(root, "not-the-token");
    say("bad-token", { error: await failure(bad.call(API.robots)) });
    const client = new Client(root, token);
    const { robots } = await client.call(API.robots);
    say("robots", { ids: robots.map((r) => r.id) });
    const health = await client.call(API.health, { alsoOk: [503] });
    say("health", { status: health.status });

    const tail = await client.tailCursor();
    say("tail", { cursor: tail });
    await go(); // the test writes to memory
    const page = await client.call(API.changes, { query: { cursor: tail, kind: ["robot", "object", "place"], count: 1000 } });
    say("changes", { names: page.changes.map((c) => `${c.kind}:${c.name}`), cursor: page.cursor });

    const task = await client.call(API.submit, { body: { instruction: await go() } });
    say("submitted", { id: task.id, status: task.status });
    const seen = [];
    for await (const sse of client.events(task.id, null)) {
      const event = JSON.parse(sse.data);
      seen.push({ id: sse.id, event: sse.event, kind: event.kind, subtask: event.subtask });
      say("event", { kind: event.kind, subtask: event.subtask }); // the test finishes calls on these
    }
    say("stream-ended", { seen });
    const resumed = [];
    for await (const sse of client.events(task.id, seen[1].id)) resumed.push(sse.event);
    say("resumed", { kinds: resumed });
    const final = await client.call(API.task, { params: { task_id: task.id } });
    say("task", { status: final.status, subtasks: final.subtasks.map((s) => [s.id, s.status, s.result?.data]) });
    const { tasks } = await client.call(API.tasks, { query: { limit: 50 } });
    say("tasks", { ids: tasks.map((t) => t.id) });
    say("errors", {
      missing: await failure(client.call(API.task, { params: { task_id: "no-such-task" } })),
      invalid: await failure(client.call(API.submit, { body: { instruction: "" } })),
      events: await failure(client.events("no-such-task", null).next()),
      query: await failure(Promise.resolve().then(() => client.url(API.robots, {}, { limit: 1 }))),
    });
  },

  // Cancel a running task while following it; a stream given up early is closed.
  async cancel() {
    const client = new Client(root, token);
    const task = await client.call(API.submit, { body: { instruction: await go() } });
    const kinds = [];
    for await (const sse of client.events(task.id, null)) {
      kinds.push(sse.event);
      if (sse.event === "subtask_started") {
        const cancelled = await client.call(API.cancel, { params: { task_id: task.id } });
        say("cancel-answer", { status: cancelled.status, terminal: TERMINAL.has(cancelled.status) });
      }
    }
    say("cancelled-stream", { kinds });
    const controller = new AbortController();
    const early = client.events(task.id, null, controller.signal);
    const first = await early.next();
    await early.return(); // the consumer stops: the reader is cancelled, the connection closed
    say("early-stop", { first: first.value.event });
  },
};

await scenarios[scenario]();
process.exit(0);
