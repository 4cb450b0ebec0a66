"""The embedded planner in a large fleet grounds only the robots that can matter
(robo_os.brain.planning.candidates) and still finds the plans the whole fleet would."""

from __future__ import annotations

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState
from robo_os_skills import SKILLS

from robo_os.brain.planning import candidates
from robo_os.brain.planning.candidates import candidate_robots, restricted
from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.instructions import Goal
from robo_os.brain.planning.interface import FailedCall
from robo_os.brain.planning.timing import Timing
from robo_os.skill.schema import build_spec
from robo_os.symbolic.state import symbolic_state
from robo_os.testing.scenes import generated_scene
from robo_os.testing.world import EMBODIMENT_CAPABILITIES, offered_skills

SPECS = {s.name: s for s in (build_spec(fn, source="robo-os-skills") for fn in SKILLS)}


def catalogue(robots, objects, places) -> Catalogue:
    return Catalogue.build(robots, offered_skills(robots, SPECS), objects, places)


def line_scene(n_mobile: int, *, holder: str | None = None):
    """Places p0..p9 on a line 3 m apart; mobile manipulators m0.. spread along it (m0
    at p0, the next at p1, ...); the apple on p0 is to go to p1."""
    places = [
        PlaceState(name=f"p{i}", kind="table", pose=Pose(x=3.0 * i, y=0.0), size=(0.8, 0.8, 0.75))
        for i in range(10)
    ]
    robots = [
        RobotState(
            id=f"m{i}",
            embodiment="mobile_manipulator",
            capabilities=EMBODIMENT_CAPABILITIES["mobile_manipulator"],
            place=f"p{i % 10}",
            pose=places[i % 10].pose,
            holding="cup" if holder == f"m{i}" else None,
        )
        for i in range(n_mobile)
    ]
    objects = [ObjectState(name="apple", type="apple", on="p0")]
    if holder is not None:
        objects.append(ObjectState(name="cup", type="cup", held_by=holder))
    return robots, objects, places


def plan(cat: Catalogue, goal: Goal, **kw):
    res = EmbeddedPlanner().plan(cat, symbolic_state(cat), goal, **kw)
    assert res.plan is not None, res.problems
    report = check_plan(res.plan, cat, symbolic_state(cat), goal=goal.final)
    assert report.ok, report.problems
    return res


APPLE_TO_P1 = Goal(((("on", "apple", "p1"),),), "apple to p1")


@pytest.mark.parametrize("seed", range(4))
def test_narrowed_plan_is_as_soon_as_the_whole_fleets(seed: int) -> None:
    robots, objects, places, goals = generated_scene(seed, robots=40, places=12, objects=2)
    cat = catalogue(robots, objects, places)
    for obj, to in goals:
        goal = Goal(((("on", obj, to),),), f"{obj} to {to}")
        narrowed = plan(cat, goal)
        assert any("of the 40 available robots" in n for n in narrowed.notes), narrowed.notes
        whole = EmbeddedPlanner()._plan(cat, symbolic_state(cat), goal)
        assert whole.plan is not None
        assert narrowed.plan.expected_duration_s <= whole.plan.expected_duration_s + 1e-6


def test_small_fleets_are_grounded_whole() -> None:
    robots, objects, places = line_scene(candidates.GROUND_ALL_MAX)
    res = plan(catalogue(robots, objects, places), APPLE_TO_P1)
    assert not any("available robots" in n for n in res.notes)


def test_the_nearest_robot_of_a_kind_is_chosen_and_a_busy_one_passed_over() -> None:
    robots, objects, places = line_scene(30)
    cat = catalogue(robots, objects, places)
    picked = {s.robot for s in plan(cat, APPLE_TO_P1).plan.subtasks}
    assert picked == {"m0"}  # already at the apple (m10 and m20 too: ties go by id)
    chosen = candidate_robots(cat, {"apple"}, ["p0", "p1"], timing=Timing())
    assert len(chosen) == candidates.PER_KIND and chosen == {"m0", "m10", "m20"}
    busy = {"m0": 500.0, "m10": 500.0, "m20": 500.0}
    res = plan(cat, APPLE_TO_P1, ready_at=busy)
    assert {s.robot for s in res.plan.subtasks} == {"m1"}  # next nearest, free now


def test_named_and_holding_robots_are_always_grounded() -> None:
    robots, objects, places = line_scene(30, holder="m29")
    cat = catalogue(robots, objects, places)
    chosen = candidate_robots(cat, {"apple"}, ["p0", "p1"], timing=Timing(), named={"m19"})
    assert {"m19", "m29"} <= chosen
    pinned = Goal(APPLE_TO_P1.groups, "m19 takes the apple to p1", use=frozenset({"m19"}))
    assert {s.robot for s in plan(cat, pinned).plan.subtasks} == {"m19"}
    # the far holder's cup is a goal object too: it is planned with its holder
    cup = Goal(((("on", "cup", "p9"),),), "cup to p9")
    assert {s.robot for s in plan(cat, cup).plan.subtasks} == {"m29"}


def test_a_fixed_arm_is_grounded_only_where_it_reaches() -> None:
    robots, objects, places = line_scene(20)
    arms = [
        RobotState(
            id=f"arm{i}",
            embodiment="fixed_arm",
            capabilities=EMBODIMENT_CAPABILITIES["fixed_arm"],
            place=f"p{i}",
            pose=places[i].pose,
            reach=(f"p{i}",),
        )
        for i in range(10)
    ]
    cat = catalogue([*robots, *arms], objects, places)
    chosen = candidate_robots(cat, {"apple"}, ["p0", "p1"], timing=Timing())
    assert {r for r in chosen if r.startswith("arm")} == {"arm0", "arm1"}


def test_when_the_chosen_robots_all_failed_the_choice_widens() -> None:
    robots, objects, places = line_scene(30)
    cat = catalogue(robots, objects, places)
    failed = [
        FailedCall(r, "pick", {"object": "apple"}, "grasp_failed") for r in ("m0", "m10", "m20")
    ]
    res = plan(cat, APPLE_TO_P1, avoid=failed)
    used = {s.robot for s in res.plan.subtasks}
    assert used and not used & {"m0", "m10", "m20"}


def test_an_infeasible_goal_in_a_large_fleet_fails_with_the_usual_problem() -> None:
    robots, objects, places = line_scene(80)
    cat = catalogue(robots, objects, places)
    goal = Goal(((("on", "apple", "m5"),),), "apple onto a robot without a tray")
    res = EmbeddedPlanner().plan(cat, symbolic_state(cat), goal)
    assert res.plan is None and res.problems
    assert res.problems[0].code == "infeasible"


def test_restricted_catalogue_keeps_the_world_and_drops_other_robots() -> None:
    robots, objects, places = line_scene(20)
    cat = catalogue(robots, objects, places)
    view = restricted(cat, {"m3", "m4"})
    assert view.available_robots == ["m3", "m4"]
    assert set(view.offered) == {"m3", "m4"}
    assert view.objects == cat.objects and view.places == cat.places
    assert view.vocabulary is cat.vocabulary
    assert "m5" not in str(view.plan_schema())  # its schema is its own, not the fleet's
