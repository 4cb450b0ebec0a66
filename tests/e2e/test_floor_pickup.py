"""An object lying on the floor is picked up again, on the full stack in physics: memory
says the mug lies loose on the floor between the shelf and the dining table (as
reconciliation records an object that fell); the stack started on that memory builds
it there; "put the mug on the dining table" drives mm1 next to it, picks it off the
floor and puts it on the table. Memory and the simulator agree at the end."""

from __future__ import annotations

import json
import uuid
from contextlib import AsyncExitStack
from typing import Any

import pytest
from robo_os_memory import Memory, Pose

from .test_recovery_physics import _memory_is_physics, _wait

pytestmark = pytest.mark.slow

ON_THE_FLOOR = Pose(x=-1.0, y=-0.3, z=0.045, yaw=0.4)
"""Open floor between the shelf (-1.8, -2.0) and the dining table (-1.8, 1.6)."""


async def _with_mug_on_the_floor(make_stack: Any, redis_url: str) -> tuple[Any, Any]:
    prefix = f"e2e-floor-{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as first_run:  # seeds memory from the scene file
        await make_stack(key_prefix=prefix, exits_to=first_run)
    mem = await Memory.connect(redis_url, prefix=prefix, writer="test")
    try:
        await mem.transfer("mug", to_on=None, to_holder=None, pose=ON_THE_FLOOR)
    finally:
        await mem.close()
    st, client = await make_stack(key_prefix=prefix)
    truth = await st.world.object_info.remote("mug")
    assert truth.on is None and truth.held_by is None, truth
    assert abs(truth.pose.x - ON_THE_FLOOR.x) < 0.05 and truth.pose.z < 0.1, truth
    return st, client


async def test_a_mug_on_the_floor_is_picked_up_and_put_on_the_table(
    make_stack: Any, redis_url: str
) -> None:
    st, client = await _with_mug_on_the_floor(make_stack, redis_url)
    r = await client.post("/v1/tasks", json={"instruction": "put the mug on the dining table"})
    assert r.status_code == 202, r.text
    task = await _wait(client, r.json()["id"])
    assert task["status"] == "succeeded", json.dumps(task, indent=1)
    skills = [(s["skill"], s["robot"], s["status"]) for s in task["subtasks"]]
    assert skills[0] == ("pick_from_floor", "mm1", "succeeded"), skills
    assert skills[-1] == ("place", "mm1", "succeeded"), skills
    mem = await _memory_is_physics(st, client, "mug")
    assert mem["on"] == "dining_table" and mem["held_by"] is None, mem
    truth = await st.world.object_info.remote("mug")
    assert truth.pose.z > 0.75, truth  # on the table top (0.75 m), not on the floor
