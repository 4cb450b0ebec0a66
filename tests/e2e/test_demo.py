"""The whole path, with real parts only: HTTP → brain → plan → Ray → agents → pybullet
physics → Redis memory. This is what `robo-os up` + `robo-os submit ... --wait` do."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from robo_os.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(make_stack: Any) -> tuple[Stack, httpx.AsyncClient]:
    return await make_stack()


async def test_bring_the_apple_to_the_dining_table(stack: tuple[Stack, httpx.AsyncClient]) -> None:
    st, client = stack
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok", health

    robots = (await client.get("/v1/robots")).json()["robots"]
    assert {r["id"] for r in robots} == {"arm1", "carrier1", "mm1"}
    assert all(r["status"] == "idle" for r in robots)
    skills = {s["name"] for s in (await client.get("/v1/skills")).json()["skills"]}
    assert {"navigate_to", "pick", "place", "deliver", "look"} <= skills

    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "kitchen_counter"
    start_pose = apple["pose"]

    r = await client.post("/v1/tasks", json={"instruction": "bring the apple to the dining table"})
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    assert r.json()["status"] in ("pending", "planning", "running")

    task = (
        await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": 240}, timeout=260)
    ).json()
    assert task["status"] == "succeeded", task
    assert task["subtasks"] and all(s["status"] == "succeeded" for s in task["subtasks"])
    assert any(s["skill"] == "pick" and s["args"]["object"] == "apple" for s in task["subtasks"])

    # memory says the apple is on the table, with a new pose, version and writer
    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "dining_table" and apple["held_by"] is None
    table = next(
        p
        for p in (await client.get("/v1/memory/places")).json()["places"]
        if p["name"] == "dining_table"
    )
    sx, sy = table["size"][0] / 2, table["size"][1] / 2
    assert (
        abs(apple["pose"]["x"] - table["pose"]["x"]) <= sx
        and abs(apple["pose"]["y"] - table["pose"]["y"]) <= sy
    )
    assert (apple["pose"]["x"], apple["pose"]["y"]) != (start_pose["x"], start_pose["y"])

    # and physics agrees: the apple's body rests on the table top
    from robo_os.sim import RayWorldClient

    body = await RayWorldClient(st.world).object_info("apple")
    assert body.pose.z > table["size"][2] - 0.05, body
    assert (
        abs(body.pose.x - table["pose"]["x"]) <= sx and abs(body.pose.y - table["pose"]["y"]) <= sy
    )

    # the event stream tells the story in order, and ends with the task
    kinds = []
    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                kinds.append(json.loads(line[5:])["kind"])
    assert kinds[0] == "created" and kinds[-1] == "succeeded", kinds
    assert (
        kinds.index("planned") < kinds.index("subtask_started") < kinds.index("subtask_succeeded")
    )


async def test_bad_requests_are_named(stack: tuple[Stack, httpx.AsyncClient]) -> None:
    _, client = stack
    r = await client.post(
        "/v1/tasks",
        json={
            "plan": {
                "subtasks": [
                    {"id": "s1", "robot": "arm9", "skill": "pick", "args": {"object": "apple"}},
                    {"id": "s2", "robot": "mm1", "skill": "fly", "args": {}, "depends_on": ["s1"]},
                ]
            }
        },
    )
    assert r.status_code == 422, r.text
    text = r.text
    assert "arm9" in text and "fly" in text
    assert (await client.post("/v1/tasks", json={})).status_code in (400, 422)
    anon = httpx.AsyncClient(base_url=str(client.base_url))
    async with anon:
        assert (await anon.get("/v1/robots")).status_code == 401


async def test_the_cli_runs_the_demo(
    stack: tuple[Stack, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`robo-os submit "..." --wait`, `robo-os objects`, `robo-os task get` against the
    live stack (the CLI runs in a thread; the server stays on this loop)."""
    from typer.testing import CliRunner

    from robo_os.cli import app

    _, client = stack
    url = str(client.base_url)
    monkeypatch.setenv(
        "ROBO_OS_API__TOKEN", client.headers["Authorization"].removeprefix("Bearer ")
    )
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    done = await asyncio.to_thread(
        cli, "submit", "bring the cup to the dining table", "--wait", "--url", url
    )
    assert done.exit_code == 0, done.output
    assert "succeeded" in done.output
    where = await asyncio.to_thread(cli, "objects", "cup", "--url", url, "--json")
    assert json.loads(where.output)["on"] == "dining_table"

    refused = await asyncio.to_thread(
        cli, "submit", "bring the unicorn to the dining table", "--wait", "--url", url
    )
    assert refused.exit_code == 1
    assert (
        "failed" in refused.output
        and "[infeasible]" in refused.output
        and "unicorn" in refused.output
    )
