"""The full stack on the scale settings: the kinematic world (`sim.engine: kinematic`) and
every robot's agent in one shared agent host process (`agent.hosting: shared`), driven over
HTTP by the same planner, skills and sim driver as the physics world."""

from __future__ import annotations

from typing import Any

import pytest

from robo_os.agent_protocol import HostedAgent

pytestmark = pytest.mark.slow


async def test_a_task_runs_on_the_kinematic_world_with_shared_agent_hosts(make_stack: Any) -> None:
    st, client = await make_stack(sim={"engine": "kinematic"}, agent={"hosting": "shared"})
    assert (await st.world.describe.remote()).engine == "kinematic"
    assert st.agent_problems == {}
    assert all(isinstance(h, HostedAgent) for h in st.agents.values()), st.agents
    assert len(st._hosts) == 1  # three robots, one process
    robots = (await client.get("/v1/robots")).json()["robots"]
    assert {r["id"]: r["status"] for r in robots} == {
        "arm1": "idle",
        "carrier1": "idle",
        "mm1": "idle",
    }

    r = await client.post(
        "/v1/tasks", json={"instruction": "bring the apple and the mug to the dining table"}
    )
    assert r.status_code == 202, r.text
    task = (
        await client.get(f"/v1/tasks/{r.json()['id']}/wait", params={"timeout": 120}, timeout=140)
    ).json()
    assert task["status"] == "succeeded", task
    for name in ("apple", "mug"):
        obj = (await client.get(f"/v1/memory/objects/{name}")).json()
        assert obj["on"] == "dining_table" and obj["held_by"] is None, obj
    diff = (await client.get("/v1/world/diff")).json()
    assert diff["disagreements"] == [], diff
