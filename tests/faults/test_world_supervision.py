"""The supervised world on the full stack (docs/reliability.md, "Supervised world"): the
pybullet world actor's process is killed while mm1 holds the mug, and again while mm1
drives it to the table. Ray restarts the process under the same handle, the world is
rebuilt from memory (the mug still in mm1's gripper), the agents' world clients keep
working, the task that was running succeeds after its infrastructure retry, and memory
agrees with the world. A stack stop kills the world for good."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray
from robo_os_memory.models import EntityKind

from robo_os.sim import WORLD_ACTOR_NAME
from tests.e2e.test_restart_resumes import _fleet

# two world restarts and a task in physics: a minute or more on a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

WAIT_S = 120.0


async def kill_world(st: Any) -> tuple[int, float]:
    """SIGKILL the world actor's process; its pid and when it was killed."""
    pid = int(await asyncio.wait_for(st.world.process_id.remote(), WAIT_S))
    os.kill(pid, signal.SIGKILL)
    return pid, time.monotonic()


async def world_back(st: Any, dead: int, killed_at: float) -> tuple[Any, float]:
    """The restarted world's incarnation once it answers, and seconds since the kill."""
    # a call landing while Ray restarts the process fails as the agents' calls do
    # (ActorUnavailableError): Ray sends it again, with its backoff, until the new
    # process takes it; one that reached the dying process is sent anew here
    async with asyncio.timeout(WAIT_S):
        while True:
            try:
                now = await st.world.incarnation.options(max_task_retries=20).remote()
            except ray.exceptions.RayActorError:
                continue
            if now.pid != dead:
                return now, time.monotonic() - killed_at


async def agrees(client: httpx.AsyncClient) -> None:
    diff = (await client.get("/v1/world/diff")).json()
    assert diff["observers"] and diff["disagreements"] == [], diff


async def test_a_killed_world_is_rebuilt_from_memory_and_the_task_succeeds(
    make_stack: Any, tmp_path: Path
) -> None:
    async with AsyncExitStack() as run:
        # paced to the wall clock: mm1's drive lasts seconds however fast the machine is,
        # so the kills land where the test means them to
        st, client = await make_stack(
            fleet_file=_fleet(tmp_path / "fleet.yaml"), sim={"real_time": True}, exits_to=run
        )
        assert st.memory is not None
        namespace = st.settings.ray.namespace
        mug_feed = st.memory.subscribe(kinds=[EntityKind.object], names=["mug"])
        await mug_feed.start()
        r = await client.post(
            "/v1/tasks", json={"instruction": "bring the mug to the dining table"}
        )
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]

        async def mm1_holds_the_mug() -> None:
            async for change in mug_feed:
                if change.fields.get("held_by") == "mm1":
                    return
            raise AssertionError("the change feed ended")

        await asyncio.wait_for(mm1_holds_the_mug(), WAIT_S)
        await mug_feed.aclose()

        # 1. killed once mm1 holds the mug: rebuilt with the mug in its gripper
        dead, at = await kill_world(st)
        first, back_s = await world_back(st, dead, at)
        assert first.restarted and first.notes == (), first
        assert back_s < WAIT_S
        mug = await st.world.object_info.remote("mug")
        mm1 = await st.world.robot_info.remote("mm1")
        assert mug.held_by == "mm1" and mm1.holding == "mug", (mug, mm1)
        record = (await client.get("/v1/memory/objects/mug")).json()
        assert record["held_by"] == "mm1", record

        # 2. killed again while mm1 drives the mug to the table (its pose changes)
        async with st.memory.subscribe(kinds=[EntityKind.robot], names=["mm1"]) as moving:

            async def mm1_drives() -> None:
                async for change in moving:
                    if "pose" in change.fields:
                        return
                raise AssertionError("the change feed ended")

            await asyncio.wait_for(mm1_drives(), WAIT_S)
        dead, at = await kill_world(st)
        second, _ = await world_back(st, dead, at)
        assert second.restarted and second.token != first.token

        task = (await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": WAIT_S})).json()
        assert task["status"] == "succeeded", json.dumps(task, indent=1)
        # a call cut short failed as the infrastructure's failure and was tried again
        assert any(s["attempts"] > 1 for s in task["subtasks"]), task["subtasks"]
        mug = await st.world.object_info.remote("mug")
        assert mug.on == "dining_table" and mug.held_by is None, mug
        record = (await client.get("/v1/memory/objects/mug")).json()
        assert record["on"] == "dining_table" and record["held_by"] is None, record
        await agrees(client)
    # stopped: the world is killed for good, not restarted once more
    with pytest.raises(ValueError):
        ray.get_actor(WORLD_ACTOR_NAME, namespace=namespace)
