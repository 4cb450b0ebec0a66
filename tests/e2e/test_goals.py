"""A goal submitted directly, through the whole stack (HTTP → brain → embedded planner →
Ray → agents → pybullet → Redis): the avoided robot is never used, success is read off
memory, a goal that already holds needs nothing, and a malformed one is refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from robo_os.stack import Stack

pytestmark = pytest.mark.slow


async def test_a_goal_avoiding_mm1_is_done_by_the_relay(make_stack: Any) -> None:
    st, client = await make_stack()
    assert isinstance(st, Stack) and isinstance(client, httpx.AsyncClient)
    bad = await client.post("/v1/tasks", json={"goal": {"facts": ["on(aple, dining_table)"]}})
    assert bad.status_code == 422 and "did you mean 'apple'?" in bad.json()["error"]["message"]

    noop = (await client.post("/v1/tasks", json={"goal": {"facts": ["on(book, shelf)"]}})).json()
    r = await client.post(
        "/v1/tasks",
        json={"goal": {"facts": [["on", "apple", "dining_table"]], "avoid": ["mm1"]}},
    )
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["goal"]["avoid"] == ["mm1"] and created["goal_source"] == "app"

    done = (
        await client.get(f"/v1/tasks/{noop['id']}/wait", params={"timeout": 60}, timeout=80)
    ).json()
    assert done["status"] == "succeeded" and done["subtasks"] == []

    task = (
        await client.get(f"/v1/tasks/{created['id']}/wait", params={"timeout": 240}, timeout=260)
    ).json()
    assert task["status"] == "succeeded", task["error"]
    robots = {s["robot"] for s in task["subtasks"]}
    assert "mm1" not in robots and {"arm1", "carrier1"} <= robots
    assert task["goal"] == created["goal"]
    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "dining_table" and apple["held_by"] is None
