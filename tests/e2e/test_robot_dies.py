"""A robot's agent process dies in the middle of a skill, in the full stack: the brain
notices (the Ray call fails; the heartbeat expires), marks it offline, and the task is
finished by the other robots in physics."""

from __future__ import annotations

import json
from typing import Any

import pytest
import ray

pytestmark = pytest.mark.slow


async def test_killed_agent_mid_skill_work_moves_to_other_robots(make_stack: Any) -> None:
    st, client = await make_stack()
    r = await client.post("/v1/tasks", json={"instruction": "bring the apple to the dining table"})
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]

    kinds: list[str] = []
    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            kinds.append(event["kind"])
            if event["kind"] == "subtask_started" and event.get("robot") == "mm1":
                ray.kill(st.agents["mm1"], no_restart=True)  # the robot's process dies mid-skill
            if event["kind"] in ("succeeded", "failed", "cancelled"):
                break
    assert "subtask_started" in kinds

    task = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert task["status"] == "succeeded", json.dumps(task, indent=1)
    assert {"subtask_reassigned", "replanned"} & set(kinds), kinds
    finished_by = {s["robot"] for s in task["subtasks"] if s["status"] == "succeeded"}
    assert finished_by - {"mm1"}, task["subtasks"]  # other robots finished the work
    mm1 = next(r for r in (await client.get("/v1/robots")).json()["robots"] if r["id"] == "mm1")
    assert mm1["status"] == "offline"
    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "dining_table", apple
