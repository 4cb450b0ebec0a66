"""The emergency stop on the full stack, in physics: engaged while mm1 drives, every
motion in the simulated world has stopped within a bound (measured), nothing moves while
it is engaged (a task submitted meanwhile only pauses), and after the release the task
finishes."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

TERMINAL = ("succeeded", "failed", "cancelled")
HALT_BOUND_S = 3.0
"""The agent's cancel grace (2 s) plus the brain's margin (1 s): the e-stop's promise."""


async def _events(client: httpx.AsyncClient, task_id: str) -> Any:
    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:])


def _drives(*targets: str) -> dict[str, Any]:
    """An explicit plan: mm1 drives to each target in turn (pinned: not moved to another
    robot that is already there)."""
    subtasks = [
        {
            "id": f"d{i}",
            "robot": "mm1",
            "skill": "navigate_to",
            "args": {"target": t},
            **({"depends_on": [f"d{i - 1}"]} if i else {}),
        }
        for i, t in enumerate(targets)
    ]
    return {"subtasks": subtasks, "pinned": True}


async def _moving(st: Any, robots: list[str]) -> dict[str, tuple[str, ...]]:
    out = {}
    for r in robots:
        info = await st.world.robot_info.remote(r)
        if info.busy:
            out[r] = info.busy
    return out


async def _poses(st: Any, robots: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for r in robots:
        pose = (await st.world.robot_info.remote(r)).pose
        out[r] = (round(pose.x, 4), round(pose.y, 4))
    return out


async def test_estop_halts_the_motion_within_the_bound_and_release_finishes(
    make_stack: Any,
) -> None:
    # paced to the wall clock: a drive takes seconds, so the stop lands while it moves
    st, client = await make_stack(sim={"real_time": True})
    robots = [r["id"] for r in (await client.get("/v1/robots")).json()["robots"]]
    r = await client.post("/v1/tasks", json={"plan": _drives("shelf", "dining_table")})
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]

    halted_after: float | None = None
    t0 = 0.0
    async for ev in _events(client, task_id):
        moving = ev["kind"] in ("subtask_started", "subtask_progress")
        if moving and t0 == 0.0 and await _moving(st, robots):
            # a robot moves in the world now: stop everything
            t0 = time.monotonic()
            stop = await client.post("/v1/estop", json={"reason": "test"})
            assert stop.status_code == 200 and stop.json()["engaged"], stop.text
        elif ev["kind"] == "subtask_halted" and t0:
            halted_after = time.monotonic() - t0
            break
        elif ev["kind"] in TERMINAL:
            raise AssertionError(f"the task ended before the stop: {ev}")
    assert halted_after is not None
    assert not await _moving(st, robots)  # every motion in the world has stopped
    print(f"e-stop: skill halted {halted_after:.3f}s after POST /v1/estop")
    assert halted_after < HALT_BOUND_S

    task = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert task["status"] == "paused", task["status"]
    before = await _poses(st, robots)
    # a task submitted during the stop is planned, then paused: nothing is dispatched
    late = (await client.post("/v1/tasks", json={"plan": _drives("shelf")})).json()
    async for ev in _events(client, late["id"]):
        if ev["kind"] == "paused":
            break
        assert ev["kind"] not in ("subtask_started", *TERMINAL), ev
    assert await _poses(st, robots) == before and not await _moving(st, robots)

    released = await client.post("/v1/estop/release")
    assert released.status_code == 200 and not released.json()["engaged"]
    for tid in (task_id, late["id"]):
        for _ in range(8):
            done = (await client.get(f"/v1/tasks/{tid}/wait", params={"timeout": 30})).json()
            if done["status"] in TERMINAL:
                break
        assert done["status"] == "succeeded", json.dumps(done, indent=1)[:2000]
