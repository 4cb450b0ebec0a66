"""Replanning that avoids calls that failed (embedded search, model prompt and repair),
and `put_away`: setting down what a robot holds, on the demo household scene."""

from __future__ import annotations

import json

from robo_os.brain.planning.interface import FailedCall
from robo_os.brain.planning.model_planning import repeated_calls
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.brain.planning.prompts import replan_text
from robo_os.contracts import Plan, Subtask
from robo_os.testing import Reply, ScriptedModelServer

from .planning_world import StaticWorld
from .test_planning_llm import planner as llm_planner
from .test_planning_llm import st

BRING = "bring the apple to the dining table"


def calls(plan: Plan | None) -> list[tuple[str, str, dict[str, object]]]:
    assert plan is not None
    return [(s.robot, s.skill, dict(s.args)) for s in plan.subtasks]


async def test_replan_never_contains_an_avoided_call() -> None:
    p = BrainPlanner(StaticWorld.household())
    first = await p.replan("t1", BRING, None, [], "a pick failed")
    picks = [c for c in calls(first.plan) if c[1] == "pick"]
    assert picks
    robot, _, args = picks[0]
    bad = FailedCall(robot, "pick", args, "unreachable", "out of reach")
    again = await p.replan("t1", BRING, None, [], "a pick failed", [bad])
    if again.plan is not None:
        assert not any(bad.matches(*c) for c in calls(again.plan)), calls(again.plan)
    else:
        assert "not repeating" in again.message and robot in again.message


async def test_replan_with_every_way_avoided_fails_naming_them() -> None:
    p = BrainPlanner(StaticWorld.household())
    avoid = [
        FailedCall(r, "pick", {"object": "apple"}, "unreachable", "no") for r in ("arm1", "mm1")
    ]
    out = await p.replan("t1", BRING, None, [], "picks failed", avoid)
    assert out.plan is None
    assert 'not repeating: arm1 pick {"object":"apple"} (unreachable: no)' in out.message
    assert 'mm1 pick {"object":"apple"}' in out.message


async def test_a_place_found_full_gets_nothing_more_from_any_robot() -> None:
    """A put-down that found no room on the dining table: no replan brings the apple to
    it by another robot or skill (a relay would only end in the same put-down); the
    same failure on a robot-specific reason avoids only that call."""
    p = BrainPlanner(StaticWorld.household())
    first = await p.replan("t1", BRING, None, [], "a place failed")
    place = next(c for c in calls(first.plan) if c[1] == "place")
    full = FailedCall(
        place[0], "place", place[2], "unreachable", "dining_table has no free spot left",
        full="dining_table",
    )  # fmt: skip
    out = await p.replan("t1", BRING, None, [], "the place failed", [full])
    assert out.plan is None, calls(out.plan)
    assert "dining_table has no room" in out.message
    # the other way: only that robot's call is avoided, another robot may still do it
    mine = FailedCall(place[0], "place", place[2], "unreachable", "out of its reach")
    again = await p.replan("t1", BRING, None, [], "the place failed", [mine])
    assert again.plan is not None and not any(mine.matches(*c) for c in calls(again.plan))
    # and a goal elsewhere is untouched by the full table
    other = await p.replan("t1", "bring the apple to the shelf", None, [], "x", [full])
    assert other.plan is not None


def test_the_model_is_told_what_not_to_repeat_and_a_repeat_is_a_problem() -> None:
    bad = FailedCall("mm1", "pick", {"object": "mug"}, "unreachable", "out of reach", count=2)
    text = replan_text(BRING, [], "the pick failed", [bad])
    assert "Do not repeat these calls" in text
    assert '- mm1 pick {"object":"mug"} (unreachable: out of reach, 2 times)' in text
    assert "Do not repeat" not in replan_text(BRING, [], "the pick failed")
    plan = Plan(
        subtasks=[
            Subtask(id="a", robot="mm1", skill="pick", args={"object": "mug"}),
            Subtask(id="b", robot="arm1", skill="pick", args={"object": "mug"}),
        ]
    )
    (problem,) = repeated_calls(plan, [bad])
    assert problem.code == "repeats_failure" and problem.subtask == "a"


async def test_put_away_prefers_where_it_came_from_else_the_nearest() -> None:
    world = StaticWorld.household()
    world.move_object("mug", None, held_by="mm1")
    world.update_robot("mm1", holding="mug")
    p = BrainPlanner(world)
    near = await p.put_away("t1", "mug", [], set())
    assert calls(near.plan) == [("mm1", "place", {"object": "mug", "target": "shelf"})]
    back = await p.put_away("t1", "mug", ["dining_table"], {"s1"})
    assert back.plan is not None and back.plan.subtasks[-1].args["target"] == "dining_table"
    assert all(s.robot == "mm1" for s in back.plan.subtasks)
    assert "s1" not in {s.id for s in back.plan.subtasks}


async def test_put_away_unloads_a_tray_and_refuses_what_nobody_holds() -> None:
    world = StaticWorld.household()
    world.move_object("apple", "carrier1")
    p = BrainPlanner(world)
    out = await p.put_away("t1", "apple", [], set())
    assert out.plan is not None, out.problems
    assert out.plan.subtasks[-1].robot == "carrier1"
    nobody = await p.put_away("t1", "cup", [], set())
    assert nobody.plan is None and nobody.problems[0].message == "no robot holds cup"


async def test_a_model_replan_repeating_a_failed_call_is_sent_back(
    openai_server: ScriptedModelServer,
) -> None:
    world = StaticWorld.household()
    world.update_robot("mm1", place="kitchen_counter")
    bad = FailedCall("mm1", "pick", {"object": "apple"}, "unreachable", "out of reach")
    same = {"subtasks": [st("a", "mm1", "pick", object="apple")]}
    other = {"subtasks": [st("a", "arm1", "pick", object="apple")]}
    openai_server.script(Reply.tool_call(same), Reply.tool_call(other))
    p = llm_planner(openai_server, world=world)
    out = await p.replan("t1", "pick up the apple", None, [], "s2 failed: unreachable", [bad])
    await p.close()
    user = openai_server.chat_requests[0]["messages"][1]["content"]
    assert '- mm1 pick {"object":"apple"} (unreachable: out of reach)' in user
    repair = json.dumps(openai_server.chat_requests[1]["messages"][-1])
    assert "repeats_failure" in repair, repair
    assert out.plan is not None and out.model_calls == 2
    assert not any(bad.matches(*c) for c in calls(out.plan))
