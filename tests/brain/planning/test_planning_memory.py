"""The planner against the live shared memory (real Redis through the `memory` fixture):
the catalogue and the symbolic state come from what agents registered and published."""

from __future__ import annotations

from typing import Any

from robo_os_memory import Memory

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.contracts import Subtask
from robo_os.settings import LLMSettings
from robo_os.symbolic.state import symbolic_state
from robo_os.testing import Reply, ScriptedModelServer

from .planning_world import household_records, offered_skills


async def seed(memory: Memory, **world: Any) -> None:
    robots, objects, places = household_records(**world)
    for place in places:
        await memory.upsert_place(place)
    for robot in robots:
        await memory.register_robot(robot)
    for obj in objects:
        await memory.upsert_object(obj)
    for rid, specs in offered_skills(robots).items():
        await memory.set_robot_skills(rid, specs)


async def test_catalogue_and_state_from_live_memory(memory: Memory) -> None:
    await seed(memory)
    cat = await Catalogue.from_memory(memory)
    assert list(cat.robots) == ["arm1", "carrier1", "mm1"]
    assert sorted(cat.offered["carrier1"]) == ["deliver", "navigate_to", "navigate_to_pose"]
    assert cat.robots_for("pick") == ["arm1", "mm1"]
    assert cat.entity_params("place") == {"object": ["object"], "target": ["place", "robot"]}
    state = symbolic_state(cat)
    for atom in [
        ("at", "arm1", "kitchen_counter"),
        ("at", "carrier1", "dining_table"),
        ("on", "apple", "kitchen_counter"),
        ("hand_empty", "arm1"),
        ("hand_empty", "mm1"),
    ]:
        assert atom in state.atoms
    assert ("hand_empty", "carrier1") not in state.atoms, "a carrier has no gripper"


async def test_state_follows_moves_in_memory(memory: Memory) -> None:
    await seed(memory)
    await memory.pick("arm1", "apple")
    state = symbolic_state(await Catalogue.from_memory(memory))
    assert ("holding", "arm1", "apple") in state.atoms and ("hand_empty", "arm1") not in state.atoms
    assert not any(a[0] == "on" and a[1] == "apple" for a in state.atoms)
    await memory.update_robot("carrier1", place="kitchen_counter")
    await memory.place("arm1", "apple", "carrier1")
    state = symbolic_state(await Catalogue.from_memory(memory))
    assert ("on", "apple", "carrier1") in state.atoms and (
        "at",
        "carrier1",
        "kitchen_counter",
    ) in state.atoms


async def test_plan_check_and_reassign_on_live_memory(memory: Memory) -> None:
    await seed(memory, without=["mm1"])
    planner = BrainPlanner(memory)
    out = await planner.plan("t1", "bring the apple to the dining table")
    assert out.plan is not None and {s.robot for s in out.plan.subtasks} == {"arm1", "carrier1"}
    assert await planner.check(out.plan) == []
    # the world moved on: the arm holds the apple, so picking it again is refused
    await memory.pick("arm1", "apple")
    problems = await planner.check(out.plan)
    assert (
        problems
        and problems[0].code == "precondition_failed"
        and "arm1's hand is already full" in problems[0].message
    )
    # a robot that goes offline is not given work
    await memory.update_robot("carrier1", status="offline")
    problems = await planner.check(out.plan)
    assert any(
        p.code == "robot_unavailable" and "carrier1 is offline" in p.message for p in problems
    )
    assert (
        await planner.reassign(
            Subtask(id="s9", robot="carrier1", skill="navigate_to", args={"target": "sink"}), set()
        )
        is None
    )


async def test_model_plans_against_the_live_catalogue(
    memory: Memory, openai_server: ScriptedModelServer
) -> None:
    await seed(memory)
    await memory.upsert_object(
        (await memory.get_object("mug")).model_copy(update={"name": "teapot", "type": "teapot"})  # type: ignore[union-attr]
    )
    plan = {
        "subtasks": [
            {
                "id": "s1",
                "robot": "mm1",
                "skill": "pick",
                "args": {"object": "teapot"},
                "depends_on": [],
            },
            {
                "id": "s2",
                "robot": "mm1",
                "skill": "navigate_to",
                "args": {"target": "sink"},
                "depends_on": ["s1"],
            },
            {
                "id": "s3",
                "robot": "mm1",
                "skill": "place",
                "args": {"object": "teapot", "target": "sink"},
                "depends_on": ["s2"],
            },
        ]
    }
    openai_server.script(Reply.tool_call(plan))
    planner = BrainPlanner(
        memory, LLMSettings(base_url=openai_server.base_url, model="fake-model", timeout_s=10)
    )
    try:
        out = await planner.plan("t1", "put the teapot in the sink")
    finally:
        await planner.close()
    assert out.plan is not None and out.model_calls == 1, out.problems
    schema = openai_server.chat_requests[0]["tools"][0]["function"]["parameters"]
    assert "teapot" in schema["$defs"]["object"]["enum"]
