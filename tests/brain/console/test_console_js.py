"""console.js itself, run by Node.js: its SSE parser, and its API client against the real
brain over HTTP (login, fleet, change feed, a task followed live to its end, resume,
cancel, errors). The DOM part of the page is not exercised here."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from .console_support import TOKEN, TWO_STEPS, WAIT_S, Brain

NODE = shutil.which("node")
DRIVER = Path(__file__).with_name("console_driver.mjs")

pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (18+) to run console.js")


class Driver:
    """console_driver.mjs in a subprocess: JSON lines out, plain lines in."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.skipped: list[dict[str, Any]] = []

    async def expect(self, step: str, **match: Any) -> dict[str, Any]:
        """The next line for `step` (matching `match`), skipping others."""
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), WAIT_S)
            if not raw:
                err = await self.proc.stderr.read() if self.proc.stderr else b""
                raise AssertionError(f"driver ended before {step!r}: {err.decode()[-2000:]}")
            line = json.loads(raw)
            if line["step"] == step and all(line.get(k) == v for k, v in match.items()):
                return line
            self.skipped.append(line)

    async def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()


@asynccontextmanager
async def driver(
    tmp_path: Path, scenario: str, root: str = "http://127.0.0.1:9/"
) -> AsyncIterator[Driver]:
    # The .mjs name makes Node load it as an ES module, as <script type="module"> does.
    module = tmp_path / "console.mjs"
    module.write_bytes(
        resources.files("robo_os.brain.api.console").joinpath("console.js").read_bytes()
    )
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(DRIVER),
        module.as_uri(),
        scenario,
        root,
        TOKEN,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield Driver(proc)
        assert await asyncio.wait_for(proc.wait(), WAIT_S) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sse_parser_handles_any_chunking(tmp_path: Path) -> None:
    async with driver(tmp_path, "parser") as d:
        out = await d.expect("parser")
    # Cut into chunks of every size from 1 byte to the whole stream: always the same events.
    assert out["outcomes"] == [out["expected"]]


async def test_client_follows_a_task_live_over_http(
    brain: Brain, served: str, tmp_path: Path
) -> None:
    async with driver(tmp_path, "follow", served) as d:
        bad = (await d.expect("bad-token"))["error"]
        assert (bad["api"], bad["status"], bad["code"]) == (True, 401, "unauthorized")
        assert (await d.expect("robots"))["ids"] == ["r1"]
        assert (await d.expect("health"))["status"] in ("ok", "degraded")

        await d.expect("tail")
        await brain.memory.update_robot("r1", activity="waving", progress=0.25)
        await d.send("go")
        assert (await d.expect("changes"))["names"] == ["robot:r1"]

        await d.send(TWO_STEPS)
        submitted = await d.expect("submitted")
        for sub in ("s1", "s2"):
            call = await brain.agent.next_call(WAIT_S)
            assert call.subtask_id == sub
            # The console sees the start while the call still runs: the stream is live.
            await d.expect("event", kind="subtask_started", subtask=sub)
            brain.agent.finish(call.call_id)
        seen = (await d.expect("stream-ended"))["seen"]
        resumed = (await d.expect("resumed"))["kinds"]
        task = await d.expect("task")
        listed = (await d.expect("tasks"))["ids"]
        errors = await d.expect("errors")

    kinds = [e["kind"] for e in seen]
    assert kinds[0] == "created" and kinds[-1] == "succeeded"
    assert [e["event"] for e in seen] == kinds  # the SSE event name is the kind
    order = [(e["kind"], e["subtask"]) for e in seen if e["subtask"]]
    assert order.index(("subtask_started", "s1")) < order.index(("subtask_succeeded", "s1"))
    assert order.index(("subtask_succeeded", "s1")) < order.index(("subtask_started", "s2"))
    assert order.index(("subtask_started", "s2")) < order.index(("subtask_succeeded", "s2"))
    assert all(e["id"] for e in seen)
    assert resumed == kinds[2:]  # resumed after the second event's cursor

    assert task["status"] == "succeeded"
    assert task["subtasks"] == [
        ["s1", "succeeded", {"note": "<b>ok</b>"}],
        ["s2", "succeeded", {"note": "<b>ok</b>"}],
    ]
    assert submitted["id"] in listed
    assert (errors["missing"]["status"], errors["missing"]["code"]) == (404, "not_found")
    assert (errors["invalid"]["status"], errors["invalid"]["code"]) == (422, "invalid_request")
    assert "instruction" in errors["invalid"]["message"]
    assert (errors["events"]["status"], errors["events"]["code"]) == (404, "not_found")
    assert errors["query"]["api"] is False and "limit" in errors["query"]["message"]


async def test_client_cancels_a_running_task(brain: Brain, served: str, tmp_path: Path) -> None:
    async with driver(tmp_path, "cancel", served) as d:
        await d.send(TWO_STEPS)
        call = await brain.agent.next_call(WAIT_S)
        answer = await d.expect("cancel-answer")
        assert answer == {"step": "cancel-answer", "status": "cancelled", "terminal": True}
        assert brain.agent.cancelled == [call.call_id]
        kinds = (await d.expect("cancelled-stream"))["kinds"]
        assert kinds[0] == "created" and kinds[-1] == "cancelled"
        assert "subtask_started" in kinds
        assert (await d.expect("early-stop"))["first"] == "created"
