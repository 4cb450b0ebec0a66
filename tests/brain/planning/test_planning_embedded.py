"""The embedded planner (no model): instruction forms, relays, ordering, infeasible
instructions, replanning and reassignment, on the demo household scene."""

from __future__ import annotations

from typing import Any

import pytest
from robo_os_memory.models import RobotState

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner, partial_order
from robo_os.brain.planning.instructions import parse_instruction
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.contracts import Plan, SkillResult, Subtask, SubtaskState, SubtaskStatus
from robo_os.settings import LLMSettings
from robo_os.symbolic.conditions import Atom
from robo_os.symbolic.search import ground, search
from robo_os.symbolic.state import symbolic_state
from robo_os.testing import Reply, ScriptedModelServer

from .planning_world import (
    STANDARD_SKILLS,
    StaticWorld,
    household_catalogue,
    household_records,
    offered_skills,
)


def plan_for(instruction: str, **world: Any) -> tuple[Plan, list[Atom]]:
    cat = household_catalogue(**world)
    state = symbolic_state(cat)
    parsed = parse_instruction(instruction, cat)
    assert parsed.goal is not None, parsed.problems
    res = EmbeddedPlanner().plan(cat, state, parsed.goal)
    assert res.plan is not None, res.problems
    report = check_plan(
        res.plan, cat, state, goal=parsed.goal.final, allowed_holding=parsed.goal.held
    )
    assert report.ok, report.problems
    assert report.final_state is not None
    final = sorted(a for a in report.final_state.atoms if a[0] in ("on", "holding"))
    return res.plan, final


def waits_for(plan: Plan, later: str, earlier: str) -> bool:
    """True if `later` (transitively) depends on `earlier`."""
    deps = {s.id: s.depends_on for s in plan.subtasks}
    todo, seen = list(deps[later]), set()
    while todo:
        d = todo.pop()
        if d == earlier:
            return True
        if d not in seen:
            seen.add(d)
            todo += deps[d]
    return False


def steps(plan: Plan) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(s.robot, s.skill, tuple(str(v) for v in s.args.values())) for s in plan.subtasks]


TABLE: list[tuple[dict[str, Any], str, list[Atom]]] = [
    ({}, "bring the apple to the dining table", [("on", "apple", "dining_table")]),
    (
        {},
        "Move the cup and the apple from the counter to the sink.",
        [("on", "apple", "sink"), ("on", "cup", "sink")],
    ),
    (
        {},
        "Put the sponge and the bowl on the kitchen counter.",
        [("on", "bowl", "kitchen_counter"), ("on", "sponge", "kitchen_counter")],
    ),
    (
        {},
        "put the sponge on the shelf and the bowl on the kitchen_counter",
        [("on", "bowl", "kitchen_counter"), ("on", "sponge", "shelf")],
    ),
    (
        {},
        "Take the mug to the dining table, then put the book on the kitchen counter.",
        [("on", "book", "kitchen_counter"), ("on", "mug", "dining_table")],
    ),
    ({}, "carry the red apple onto carrier1", [("on", "apple", "carrier1")]),
    (
        {},
        "Pick up the mug from the shelf and put it on the dining table.",
        [("on", "mug", "dining_table")],
    ),
    ({}, "pick up the book", [("holding", "mm1", "book")]),
    (
        {"without": ["mm1"]},
        "bring the apple to the dining table",
        [("on", "apple", "dining_table")],
    ),
    (
        {"without": ["mm1"]},
        "Have arm1 hand the cup to carrier1, and have carrier1 take it to the shelf.",
        [("on", "cup", "shelf")],
    ),
    ({"moves": {"bowl": "carrier1"}}, "deliver the bowl to the sink", [("on", "bowl", "sink")]),
    ({"offline": ["mm1"]}, "put the cup on the dining table", [("on", "cup", "dining_table")]),
]


@pytest.mark.parametrize(
    ("world", "instruction", "expected"), TABLE, ids=[t[1][:50] for t in TABLE]
)
def test_instruction_table(world: dict[str, Any], instruction: str, expected: list[Atom]) -> None:
    plan, final = plan_for(instruction, **world)
    for atom in expected:
        assert atom in final, (atom, steps(plan))
    again, _ = plan_for(instruction, **world)
    assert again == plan, "the embedded planner is deterministic"


def test_two_robot_relay_when_the_mobile_manipulator_is_absent() -> None:
    plan, _ = plan_for("bring the apple to the dining table", without=["mm1"])
    assert steps(plan) == [
        ("arm1", "pick", ("apple",)),
        ("carrier1", "navigate_to", ("kitchen_counter",)),
        ("arm1", "place", ("apple", "carrier1")),
        ("carrier1", "navigate_to", ("dining_table",)),
        ("carrier1", "deliver", ("apple", "dining_table")),
    ]
    pick, go, load, back, deliver = (s.id for s in plan.subtasks)
    # the arm picks while the carrier drives over: no dependency either way
    assert not waits_for(plan, pick, go) and not waits_for(plan, go, pick)
    assert set(plan.subtasks[2].depends_on) == {pick, go}
    assert waits_for(plan, deliver, load) and waits_for(plan, back, load)


def test_then_orders_the_steps() -> None:
    plan, _ = plan_for("put the mug on the dining table, then put the book on the kitchen counter")
    mug_place = next(
        s.id for s in plan.subtasks if s.skill == "place" and s.args["object"] == "mug"
    )
    for s in plan.subtasks:
        if s.args.get("object") == "book":
            assert waits_for(plan, s.id, mug_place)


def test_then_orders_even_independent_robots() -> None:
    # without "then", arm1 loading carrier1 and mm1 at the shelf would run in parallel
    plan, _ = plan_for("put the book on the dining table, then put the apple on carrier1")
    book_place = next(
        s.id for s in plan.subtasks if s.skill == "place" and s.args["object"] == "book"
    )
    apple_pick = next(
        s.id for s in plan.subtasks if s.skill == "pick" and s.args["object"] == "apple"
    )
    assert waits_for(plan, apple_pick, book_place)


def test_independent_work_of_two_robots_runs_in_parallel() -> None:
    cat = household_catalogue()
    state = symbolic_state(cat)
    g = ground(cat, state, ["apple", "book"])
    start = g.state(state.atoms)
    goal = frozenset({g.id(("on", "apple", "carrier1")), g.id(("on", "book", "sink"))})
    found = search(g, start, goal)
    assert found.actions is not None
    deps = partial_order(found.actions)
    by_robot = {i: a.robot for i, a in enumerate(found.actions)}
    for i, ds in enumerate(deps):
        # the book (mm1) and the apple (arm1 + carrier1) never wait for each other
        if by_robot[i] == "mm1":
            assert all(by_robot[j] == "mm1" for j in ds)


@pytest.mark.parametrize(
    ("world", "instruction", "needle"),
    [
        ({}, "bring the banana to the table", "unknown object 'banana'"),
        ({}, "bring the aple to the dining table", "did you mean 'apple'"),
        ({}, "Put the mug in the dishwasher.", "unknown destination 'dishwasher'"),
        ({}, "Put it over there.", "'it' refers to nothing"),
        (
            {},
            "Put the mug on the shelf and on the dining table at the same time.",
            "cannot be on shelf and on dining_table at the same time",
        ),
        ({}, "bring me the apple", "does not say where apple should go"),
        ({}, "Clean up.", "does not understand"),
        (
            {"without": ["mm1"]},
            "put the mug on the dining table",
            "no available robot can get hold of mug",
        ),
        (
            {"without": ["mm1"]},
            "put the bowl on the kitchen counter",
            "no available robot can get hold of bowl",
        ),
        (
            {"offline": ["mm1", "carrier1"]},
            "put the apple on the dining table",
            "no available robot (or relay of robots) can put apple on dining_table",
        ),
    ],
)
async def test_infeasible_instructions_say_why(
    world: dict[str, Any], instruction: str, needle: str
) -> None:
    p = BrainPlanner(StaticWorld.household(**world))
    out = await p.plan("t1", instruction)
    assert out.plan is None and out.planner == "embedded" and out.model_calls == 0
    assert [pr.code for pr in out.problems] == ["infeasible"]
    assert needle in out.problems[0].message, out.problems[0].message


async def test_plan_outcome_carries_the_goal_for_replanning() -> None:
    p = BrainPlanner(StaticWorld.household(without=["mm1"]))
    out = await p.plan("t1", "bring the apple to the dining table")
    assert out.plan is not None and out.goal == {
        "kind": "goal",
        "instruction": "bring the apple to the dining table",
        "groups": [[["on", "apple", "dining_table"]]],
    }
    assert out.message.startswith("5 subtasks")
    assert await p.check(out.plan) == []


async def test_replan_searches_again_from_the_new_state() -> None:
    world = StaticWorld.household(without=["mm1"])
    p = BrainPlanner(world)
    first = await p.plan("t1", "bring the apple to the dining table")
    assert first.plan is not None
    # s1..s3 ran (the apple is on the carrier's tray at the counter); the drive failed
    world.update_robot("carrier1", place="kitchen_counter")
    world.move_object("apple", "carrier1")
    done = SubtaskStatus.succeeded
    history = [
        SubtaskState(
            **s.model_dump(),
            status=done if i < 3 else SubtaskStatus.failed,
            result=SkillResult.success(),
        )
        for i, s in enumerate(first.plan.subtasks[:4])
    ]
    out = await p.replan("t1", None, first.goal, history, "navigate_to failed: path blocked")
    assert out.plan is not None and out.planner == "embedded"
    assert steps(out.plan) == [
        ("carrier1", "navigate_to", ("dining_table",)),
        ("carrier1", "deliver", ("apple", "dining_table")),
    ]
    assert not {s.id for s in out.plan.subtasks} & {h.id for h in history}


async def test_replan_when_the_goal_already_holds_is_an_empty_plan() -> None:
    world = StaticWorld.household(moves={"apple": "dining_table"})
    p = BrainPlanner(world)
    out = await p.replan(
        "t1", "bring the apple to the dining table", None, [], "the robot went offline"
    )
    assert out.plan is not None and out.plan.subtasks == []


async def test_reassign_to_a_robot_whose_preconditions_hold() -> None:
    world = StaticWorld.household()
    p = BrainPlanner(world)
    pick = Subtask(id="s2", robot="arm1", skill="pick", args={"object": "apple"})
    assert await p.reassign(pick, exclude=set()) is None, (
        "mm1 is at the shelf: it cannot pick at the counter now"
    )
    world.update_robot("mm1", place="kitchen_counter")
    moved = await p.reassign(pick, exclude=set())
    assert (
        moved is not None and moved.robot == "mm1" and moved.args == pick.args and moved.id == "s2"
    )
    assert await p.reassign(pick, exclude={"mm1"}) is None
    nav = Subtask(id="s1", robot="mm1", skill="navigate_to", args={"target": "sink"})
    other = await p.reassign(nav, exclude=set())
    assert other is not None and other.robot == "carrier1"
    world.update_robot("carrier1", status="offline")
    assert await p.reassign(nav, exclude=set()) is None


def test_bringing_something_to_a_robot_without_a_tray_means_handing_it_over() -> None:
    cat = household_catalogue()
    parsed = parse_instruction("bring the cup to mm1", cat)
    assert parsed.goal is not None and parsed.goal.groups == ((("holding", "mm1", "cup"),),)
    assert parsed.goal.held == ["cup"]
    _plan, final = plan_for("bring the cup to mm1")
    assert ("holding", "mm1", "cup") in final


def test_relay_where_a_second_arm_unloads_the_tray() -> None:
    robots, objects, places = household_records(without=["mm1"])
    robots.append(
        RobotState(
            id="arm2",
            embodiment="fixed_arm",
            capabilities=("manipulate",),
            place="shelf",
            reach=("shelf",),
        )
    )
    specs = {
        n: s for n, s in STANDARD_SKILLS.items() if n != "deliver"
    }  # this carrier cannot unload itself
    cat = Catalogue.build(robots, offered_skills(robots, specs), objects, places)
    state = symbolic_state(cat)
    parsed = parse_instruction("bring the apple to the shelf", cat)
    assert parsed.goal is not None
    res = EmbeddedPlanner().plan(cat, state, parsed.goal)
    assert res.plan is not None, res.problems
    assert check_plan(res.plan, cat, state, goal=parsed.goal.final).ok
    assert steps(res.plan) == [
        ("arm1", "pick", ("apple",)),
        ("carrier1", "navigate_to", ("kitchen_counter",)),
        ("arm1", "place", ("apple", "carrier1")),
        ("carrier1", "navigate_to", ("shelf",)),
        ("arm2", "pick", ("apple",)),
        ("arm2", "place", ("apple", "shelf")),
    ]


async def test_an_empty_fleet_is_infeasible_not_a_crash(openai_server: ScriptedModelServer) -> None:
    _, objects, places = household_records()
    world = StaticWorld([], objects, places, {})
    out = await BrainPlanner(world).plan("t1", "bring the apple to the dining table")
    assert out.plan is None and out.problems[0].code == "infeasible"
    openai_server.script(Reply.tool_call({"subtasks": [], "error": "no robots"}))
    p = BrainPlanner(world, LLMSettings(base_url=openai_server.base_url, model="m", timeout_s=10))
    out = await p.plan("t2", "bring the apple to the dining table")
    await p.close()
    assert out.plan is None and out.problems[0].code == "infeasible"
    assert "(no robot is available)" in openai_server.chat_requests[0]["messages"][0]["content"]
