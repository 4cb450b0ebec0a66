"""Server-Sent Events over a real HTTP server (uvicorn): order, end at the terminal
event, resumption with Last-Event-ID and ?cursor=."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from robo_os_memory import Memory

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.services import bind_listener

from .runtime_fakes import WAIT_S, ScriptedPlanner
from .runtime_support import TOKEN, brain_settings

PLAN = {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick", "args": {"obj": "apple"}}]}


@pytest.fixture
async def served(
    fleet, memory: Memory, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    f = await fleet("r1")
    app = create_app(
        brain_settings(redis_url, key_prefix),
        memory=memory,
        dispatcher=LocalDispatcher(f.agents),
        planner=ScriptedPlanner(),
        watch_liveness=False,
    )
    sock = bind_listener("127.0.0.1", 0, backlog=16)  # connections queue here until uvicorn accepts: no need to wait for it
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    job = asyncio.create_task(server.serve(sockets=[sock]))
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=WAIT_S,
    )
    try:
        yield client, f
    finally:
        await client.aclose()
        server.should_exit = True
        await asyncio.wait_for(job, WAIT_S)
        sock.close()


async def read_sse(lines: AsyncIterator[str]) -> AsyncIterator[dict]:
    frame: dict = {}
    async for line in lines:
        if line == "":
            if "data" in frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            frame[key] = value.lstrip()


async def test_events_stream_live_in_order_and_resume(served) -> None:
    client, f = served
    task = (await client.post("/v1/tasks", json={"plan": PLAN})).json()
    seen: list[dict] = []
    async with client.stream("GET", f"/v1/tasks/{task['id']}/events") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        async for frame in read_sse(r.aiter_lines()):
            seen.append(frame)
            if frame["event"] == "subtask_started":
                call = await f["r1"].next_call()
                f["r1"].finish(call.call_id)
        # the loop ends because the server closes the stream after the terminal event
    kinds = [s["event"] for s in seen]
    assert kinds == ["created", "planned", "subtask_started", "subtask_succeeded", "succeeded"]
    data = [json.loads(s["data"]) for s in seen]
    assert all(
        d["task_id"] == task["id"] and d["cursor"] == s["id"]
        for d, s in zip(data, seen, strict=True)
    )
    assert data[2]["subtask"] == "a" and data[2]["robot"] == "r1"

    async with client.stream(
        "GET", f"/v1/tasks/{task['id']}/events", headers={"Last-Event-ID": seen[1]["id"]}
    ) as r:
        rest = [frame["event"] async for frame in read_sse(r.aiter_lines())]
    assert rest == kinds[2:]
    async with client.stream(
        "GET", f"/v1/tasks/{task['id']}/events", params={"cursor": seen[-1]["id"]}
    ) as r:
        assert [frame async for frame in read_sse(r.aiter_lines())] == []  # nothing after the end


async def test_the_cli_client_submits_follows_waits_and_cancels(served) -> None:
    from robo_os.client import RoboOSClient

    client, f = served
    url = str(client.base_url)
    with RoboOSClient(url, TOKEN) as rc, RoboOSClient(url, TOKEN) as follower:
        task = await asyncio.to_thread(rc.submit, "label", PLAN)
        follow = asyncio.create_task(
            asyncio.to_thread(lambda: [e["kind"] for e in follower.events(task["id"])])
        )
        call = await f["r1"].next_call()
        f["r1"].finish(call.call_id)
        done = await asyncio.to_thread(rc.wait, task["id"], WAIT_S)
        assert done["status"] == "succeeded"
        assert await asyncio.wait_for(follow, WAIT_S) == [
            "created",
            "planned",
            "subtask_started",
            "subtask_succeeded",
            "succeeded",
        ]
        assert [t["id"] for t in await asyncio.to_thread(rc.tasks, "succeeded")] == [task["id"]]
        second = await asyncio.to_thread(rc.submit, None, PLAN)
        await f["r1"].next_call()
        cancelled = await asyncio.to_thread(rc.cancel, second["id"])
        assert cancelled["status"] == "cancelled"
