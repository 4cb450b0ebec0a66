"""A shared agent host (`agent.hosting: shared`) whose process dies takes all its robots
with it: each is recovered like a dead agent, Ray restarts the host, the supervisor starts
every robot's agent again in the new process, and the fleet takes work again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import pytest
from robo_os_memory.models import RobotStatusValue

from .test_agent_supervision import WAIT_S, pid_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

ROBOTS = ("arm1", "carrier1", "mm1")


async def test_a_killed_host_brings_all_its_robots_back_in_a_new_process(make_stack: Any) -> None:
    st, client = await make_stack(sim={"engine": "kinematic"}, agent={"hosting": "shared"})
    assert st.supervisor is not None and st.recovery is not None
    await asyncio.wait_for(st.recovery.ready.wait(), 10)
    before = {r: await pid_of(st, r) for r in ROBOTS}
    assert len(set(before.values())) == 1  # one process serves the three robots
    os.kill(before["mm1"], signal.SIGKILL)
    async with asyncio.timeout(WAIT_S):
        # each robot recovered as a dead agent (halted, reconciled, freed), then started
        # again by the supervisor in the host's new process
        while not set(ROBOTS) <= {x.robot for x in st.recovery.recovered} or not all(
            st.supervisor.restarts.get(r, 0) >= 1 for r in ROBOTS
        ):
            st.recovery.done.clear()
            await st.recovery.done.wait()
    after = {r: await pid_of(st, r) for r in ROBOTS}
    assert len(set(after.values())) == 1 and after["mm1"] != before["mm1"], (before, after)
    for robot in ROBOTS:
        record = await st.memory.get_robot(robot)
        assert record is not None and record.status == RobotStatusValue.idle, record
    r = await client.post("/v1/tasks", json={"instruction": "bring the apple to the dining table"})
    assert r.status_code == 202, r.text
    task = (
        await client.get(f"/v1/tasks/{r.json()['id']}/wait", params={"timeout": 120}, timeout=140)
    ).json()
    assert task["status"] == "succeeded", json.dumps(task, indent=1)
    diff = (await client.get("/v1/world/diff")).json()
    assert diff["disagreements"] == [], diff


async def kill_host_mid_task(make_stack: Any, **overrides: Any) -> tuple[dict[str, Any], Any]:
    """The household fleet on the kinematic world, all in one agent host: submit a task,
    SIGKILL the host once a robot works on it; the task as it ended, and the client."""
    st, client = await make_stack(
        sim={"engine": "kinematic", "real_time": True}, agent={"hosting": "shared"}, **overrides
    )
    assert st.recovery is not None
    await asyncio.wait_for(st.recovery.ready.wait(), 10)
    host_pid = await pid_of(st, "mm1")
    async with st.memory.subscribe(names=["mm1", "carrier1"]) as sub:
        r = await client.post(
            "/v1/tasks", json={"instruction": "bring the apple to the dining table"}
        )
        assert r.status_code == 202, r.text
        async with asyncio.timeout(WAIT_S):  # kill it while a robot is working
            async for change in sub:
                if change.fields.get("status") == "busy":
                    break
    os.kill(host_pid, signal.SIGKILL)
    got = await client.get(f"/v1/tasks/{r.json()['id']}/wait", params={"timeout": 200}, timeout=220)
    return got.json(), client


async def test_a_task_waits_for_the_robots_of_a_host_killed_mid_task(make_stack: Any) -> None:
    """Every robot of the fleet is in the killed host: nobody can take the work over, so
    the task waits for them to come back (`scheduler.offline_wait_s`) and then finishes."""
    task, client = await kill_host_mid_task(make_stack)
    assert task["status"] == "succeeded", json.dumps(task, indent=1)
    assert task["replans"] >= 1, task  # the work was planned again once they were back
    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "dining_table" and apple["held_by"] is None, apple
    diff = (await client.get("/v1/world/diff")).json()
    assert diff["disagreements"] == [], diff


async def test_with_no_offline_wait_the_task_fails_at_once_naming_why(make_stack: Any) -> None:
    task, _ = await kill_host_mid_task(make_stack, scheduler={"offline_wait_s": 0})
    assert task["status"] == "failed", json.dumps(task, indent=1)
    assert "no available robot" in task["error"]["message"], task["error"]
