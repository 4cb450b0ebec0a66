"""Space on the full stack: two robots sent to a place with one docking slot, over HTTP,
take turns at it (the slot's lease passes from one to the other, never held by both),
and both finish without a failed attempt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from robo_os.stack import Stack

pytestmark = pytest.mark.slow


def _table(name: str, x: float, y: float, **attrs: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "table",
        "pose": {"x": x, "y": y},
        "size": [0.8, 0.8, 0.75],
        "attrs": attrs,
    }


FLEET = {
    "scene": {
        "size": [8.0, 8.0],
        "places": [
            _table("goal", 2.2, 0.0, slots=1),
            _table("home_a", -2.6, 1.8),
            _table("home_b", -2.6, -1.8),
            _table("away_a", 0.0, 3.0),
            _table("away_b", 0.0, -3.0),
        ],
        "objects": [],
    },
    "robots": [
        {"id": "r1", "embodiment": "carrier", "at": "home_a"},
        {"id": "r2", "embodiment": "carrier", "at": "home_b"},
    ],
}


@pytest.fixture
async def stack(make_stack: Any, tmp_path: Path) -> tuple[Stack, httpx.AsyncClient]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET))
    return await make_stack(fleet_file=fleet)


async def test_two_robots_sent_to_one_slot_take_turns(
    stack: tuple[Stack, httpx.AsyncClient],
) -> None:
    _, client = stack
    subtasks = [
        {"id": "a1", "robot": "r1", "skill": "navigate_to", "args": {"target": "goal"}},
        {
            "id": "a2",
            "robot": "r1",
            "skill": "navigate_to",
            "args": {"target": "away_a"},
            "depends_on": ["a1"],
        },
        {"id": "b1", "robot": "r2", "skill": "navigate_to", "args": {"target": "goal"}},
        {
            "id": "b2",
            "robot": "r2",
            "skill": "navigate_to",
            "args": {"target": "away_b"},
            "depends_on": ["b1"],
        },
    ]
    r = await client.post("/v1/tasks", json={"plan": {"subtasks": subtasks}})
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    task = (
        await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": 240}, timeout=260)
    ).json()
    assert task["status"] == "succeeded", task
    assert all(s["status"] == "succeeded" for s in task["subtasks"]), task["subtasks"]
    # they were sent at once: one of them waited for the other to leave the slot
    waited = {
        s["robot"]: s["result"]["data"].get("waited_for_slot_s", 0.0)
        for s in task["subtasks"]
        if s["id"] in ("a1", "b1")
    }
    assert sum(w > 0 for w in waited.values()) == 1, waited

    # the slot's reservations, in order: one robot's, then the other's, never both
    page = (
        await client.get(
            "/v1/memory/changes", params={"kind": "lease", "name": "slot:goal:0", "cursor": ""}
        )
    ).json()
    trail = [(c["op"], c["fields"].get("holder")) for c in page["changes"] if c["op"] != "renew"]
    assert len(trail) >= 4, trail
    holder: str | None = None
    served: list[str] = []
    for op, who in trail:
        if op == "acquire":
            assert holder is None, trail  # nobody else holds it
            holder = who
            served.append(str(who))
        else:
            assert op in ("release", "expire") and who == holder, trail
            holder = None
    assert sorted(set(served)) == ["r1", "r2"]

    for rid, end in (("r1", "away_a"), ("r2", "away_b")):
        robot = (await client.get(f"/v1/robots/{rid}")).json()
        assert robot["place"] == end and robot["slot"] is not None, robot
