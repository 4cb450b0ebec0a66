"""Supervised agents on the full stack: an agent whose process is killed mid-skill comes
back by itself (Ray restarts the process, the stack's supervisor starts the agent once the
robot is recovered) and the task still succeeds; an operator restarts one robot's agent
over REST and with `robo-os robots restart` (409 while a skill runs unless forced, 404
for an unknown robot), without restarting the stack."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import httpx
import pytest
from robo_os_memory.models import EntityKind, RobotStatusValue

# each restarts agent processes (imports, a world connection): minutes on a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

WAIT_S = 120.0


async def pid_of(st: Any, robot: str) -> int:
    return int(await asyncio.wait_for(st.agents[robot].process_id.remote(), WAIT_S))


async def until_robot(st: Any, robot: str, sub: Any, ok: Any) -> dict[str, Any]:
    """The robot's record once `ok(record)` holds (read after each change of it)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            record = await st.memory.get_robot(robot)
            if record is not None and ok(record):
                return dict(record.model_dump(mode="json"))
            await anext(sub)


async def events_until_end(client: httpx.AsyncClient, task_id: str, on: Any = None) -> list[str]:
    kinds: list[str] = []
    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            kinds.append(event["kind"])
            if on is not None:
                await on(event)
            if event["kind"] in ("succeeded", "failed", "cancelled"):
                break
    return kinds


async def test_an_agent_killed_mid_skill_is_restarted_and_its_robot_comes_back(
    make_stack: Any,
) -> None:
    st, client = await make_stack()
    assert st.supervisor is not None and st.recovery is not None
    await asyncio.wait_for(st.recovery.ready.wait(), 10)
    before = await pid_of(st, "mm1")
    r = await client.post("/v1/tasks", json={"instruction": "bring the apple to the dining table"})
    assert r.status_code == 202, r.text
    killed: list[int] = []

    async def kill_mm1_mid_skill(event: dict[str, Any]) -> None:
        if event["kind"] == "subtask_started" and event.get("robot") == "mm1" and not killed:
            os.kill(before, signal.SIGKILL)  # the agent's process dies mid-skill
            killed.append(before)

    async with st.memory.subscribe(kinds=[EntityKind.robot], names=["mm1"]) as sub:
        kinds = await events_until_end(client, r.json()["id"], kill_mm1_mid_skill)
        assert killed, kinds
        task = (await client.get(f"/v1/tasks/{r.json()['id']}")).json()
        assert task["status"] == "succeeded", json.dumps(task, indent=1)
        # the agent came back by itself, in a new process, and registered its robot
        back = await until_robot(
            st, "mm1", sub, lambda rec: rec.status == RobotStatusValue.idle and rec.node
        )
    assert back["status"] == "idle"
    assert await pid_of(st, "mm1") != before
    # in order: recovered first (halted, reconciled, freed), then started by the supervisor
    assert "mm1" in [x.robot for x in st.recovery.recovered]
    async with asyncio.timeout(WAIT_S):  # its record shows idle a moment before `start` returns
        while True:
            st.recovery.done.clear()
            if st.supervisor.restarts.get("mm1", 0) >= 1:
                break
            await st.recovery.done.wait()
    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "dining_table", apple

    # and it takes work again: a task pinned to mm1 succeeds on the restarted agent
    plan = {
        "subtasks": [
            {
                "id": "go",
                "robot": "mm1",
                "skill": "navigate_to",
                "args": {"target": "sink"},
                "pinned": True,
            }
        ]
    }
    r = await client.post("/v1/tasks", json={"plan": plan})
    assert r.status_code == 202, r.text
    done = (await client.get(f"/v1/tasks/{r.json()['id']}/wait", params={"timeout": WAIT_S})).json()
    assert done["status"] == "succeeded", json.dumps(done, indent=1)


async def test_an_operator_restarts_one_robots_agent_over_rest_and_the_cli(
    make_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mm1's motions never progress: a skill on it runs until it is cancelled
    st, client = await make_stack(sim={"faults": {"stuck": 1.0, "robots": ["mm1"]}})
    assert st.supervisor is not None

    missing = await client.post("/v1/robots/nobody/restart")
    assert missing.status_code == 404, missing.text

    # an idle robot: restarted at once, in a new process, and registered again
    before = await pid_of(st, "arm1")
    r = await client.post("/v1/robots/arm1/restart")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "arm1" and r.json()["status"] == "idle"
    after = await pid_of(st, "arm1")
    assert after != before

    # the CLI does the same through the API
    from typer.testing import CliRunner

    from robo_os.cli import app

    monkeypatch.setenv(
        "ROBO_OS_API__TOKEN", client.headers["Authorization"].removeprefix("Bearer ")
    )
    url = str(client.base_url)
    out = await asyncio.to_thread(
        CliRunner().invoke, app, ["robots", "restart", "arm1", "--url", url]
    )
    assert out.exit_code == 0, out.output
    assert "restarted" in out.output and "idle" in out.output
    assert await pid_of(st, "arm1") not in (before, after)
    bad = await asyncio.to_thread(
        CliRunner().invoke, app, ["robots", "restart", "nobody", "--url", url]
    )
    assert bad.exit_code != 0, bad.output  # (`main()` prints it as `error: ...`)
    assert "no robot 'nobody'" in str(bad.exception) + bad.output
    assert st.supervisor.restarts.get("arm1") == 2

    # a robot running a skill: 409 unless forced
    plan = {
        "subtasks": [
            {
                "id": "go",
                "robot": "mm1",
                "skill": "navigate_to",
                "args": {"target": "sink"},
                "pinned": True,
            }
        ]
    }
    r = await client.post("/v1/tasks", json={"plan": plan})
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    async with st.memory.subscribe(kinds=[EntityKind.robot], names=["mm1"]) as sub:
        await until_robot(st, "mm1", sub, lambda rec: rec.current_subtask is not None)
        refused = await client.post("/v1/robots/mm1/restart")
        assert refused.status_code == 409, refused.text
        assert "force" in refused.json()["error"]["message"]
        mm1_before = await pid_of(st, "mm1")
        forced = await client.post("/v1/robots/mm1/restart", params={"force": "true"})
        assert forced.status_code == 200, forced.text
        assert forced.json()["status"] == "idle"
    assert await pid_of(st, "mm1") != mm1_before
    # the brain heard the subtask's agent die; the task is not left hanging on it
    cancelled = await client.post(f"/v1/tasks/{task_id}/cancel")
    assert cancelled.status_code in (200, 409), cancelled.text
    task = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert task["status"] in ("cancelled", "failed"), json.dumps(task, indent=1)
    mm1 = await st.memory.get_robot("mm1")
    assert mm1 is not None and mm1.status == RobotStatusValue.idle, mm1
    assert st.supervisor.restarts.get("mm1") == 1
