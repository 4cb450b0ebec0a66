"""Time-aware planning: durations, makespan-minimising allocation over the fleet,
rebalancing a model's plan onto equivalent idle robots, pinning, expected durations.
No physics: the symbolic model and the timing estimates only."""

from __future__ import annotations

from typing import Any

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.instructions import Goal, parse_instruction
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.brain.planning.rebalance import equivalent, rebalance
from robo_os.brain.planning.timing import RobotTiming, Timing, schedule
from robo_os.contracts import Plan, Subtask
from robo_os.fleet import load_fleet
from robo_os.settings import LLMSettings
from robo_os.skill import skill
from robo_os.skill.schema import build_spec
from robo_os.symbolic.state import symbolic_state
from robo_os.testing import Reply, ScriptedModelServer
from robo_os.testing.scenes import generated_scene

from .planning_world import STANDARD_SKILLS, StaticWorld, household_records, offered_skills

TWO_OBJECTS = "bring the apple and the mug to the dining table"


def catalogue(
    robots: list[RobotState], objects: list[ObjectState], places: list[PlaceState]
) -> Catalogue:
    return Catalogue.build(robots, offered_skills(robots), objects, places)


def with_second_mm(at: str = "kitchen_counter", status: str = "idle") -> Catalogue:
    robots, objects, places = household_records()
    mm1 = next(r for r in robots if r.id == "mm1")
    pose = next(p.pose for p in places if p.name == at)
    robots.append(mm1.model_copy(update={"id": "mm2", "place": at, "pose": pose, "status": status}))
    return catalogue(robots, objects, places)


def everything_on_mm1() -> Plan:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("pick", {"object": "mug"}),
        ("navigate_to", {"target": "dining_table"}),
        ("place", {"object": "mug", "target": "dining_table"}),
        ("navigate_to", {"target": "kitchen_counter"}),
        ("pick", {"object": "apple"}),
        ("navigate_to", {"target": "dining_table"}),
        ("place", {"object": "apple", "target": "dining_table"}),
    ]
    return Plan(
        subtasks=[
            Subtask(id=f"s{i + 1}", robot="mm1", skill=k, args=a, depends_on=[f"s{i}"] if i else [])
            for i, (k, a) in enumerate(steps)
        ]
    )


# -- durations --------------------------------------------------------------------------


def test_durations_from_distance_declaration_and_per_robot_overrides() -> None:
    robots, objects, places = household_records()
    cat = catalogue(robots, objects, places)
    shelf = cat.places["shelf"].pose
    table = cat.places["dining_table"].pose
    timing = Timing(speed_mps=0.5, dock_s=2.0)
    drive = timing.duration(cat, "mm1", "navigate_to", {"target": "dining_table"}, shelf)
    assert drive == pytest.approx(2.0 + shelf.distance_to(table) / 0.5)
    assert timing.duration(cat, "mm1", "navigate_to", {"target": "shelf"}, shelf) == 0.0
    assert timing.duration(cat, "mm1", "pick", {"object": "mug"}) == timing.durations["pick"]
    slow = Timing(robots={"mm1": RobotTiming(speed_mps=0.1, durations={"pick": 30.0})})
    assert slow.duration(cat, "mm1", "pick", {"object": "mug"}) == 30.0
    assert slow.duration(
        cat, "mm1", "navigate_to", {"target": "dining_table"}, shelf
    ) == pytest.approx(slow.dock_s + shelf.distance_to(table) / 0.1)

    @skill(capabilities={"manipulate"}, duration_s=2.5, effects=["hand_empty(robot)"])
    def wave(ctx: Any) -> None:
        """Wave."""

    spec = build_spec(wave)
    assert spec.duration_s == 2.5
    assert build_spec(wave).model_dump()["duration_s"] == 2.5
    assert STANDARD_SKILLS["pick"].duration_s is None, "undeclared: estimated"
    declared = Catalogue.build(robots, offered_skills(robots, {"wave": spec}), objects, places)
    assert timing.duration(declared, "arm1", "wave", {}) == 2.5


def test_fleet_file_options_override_timing() -> None:
    fleet = load_fleet()
    robots = [
        r.model_copy(update={"options": {"timing": {"speed_mps": 0.2, "durations": {"pick": 12}}}})
        if r.id == "carrier1"
        else r
        for r in fleet.robots
    ]
    timing = Timing.from_fleet(fleet.model_copy(update={"robots": robots}))
    assert timing.robots["carrier1"] == RobotTiming(0.2, {"pick": 12.0})
    assert timing.speed("carrier1") == 0.2 and timing.speed("mm1") == timing.speed_mps


# -- the household: two objects ---------------------------------------------------------


async def test_two_objects_use_several_robots_at_once_and_end_sooner_than_one_robot() -> None:
    out = await BrainPlanner(StaticWorld.household()).plan("t1", TWO_OBJECTS)
    assert out.plan is not None and out.plan.expected_duration_s is not None
    world = StaticWorld.household()
    cat = await Catalogue.from_memory(world)
    sched = schedule(out.plan, cat)
    assert len(sched.robots_used) >= 2, out.plan
    assert sched.overlapping(), "subtasks of different robots run at the same time"
    assert out.plan.expected_duration_s == pytest.approx(sched.makespan, abs=1e-3)
    goal = parse_instruction(TWO_OBJECTS, cat).goal
    assert goal is not None
    assert check_plan(out.plan, cat, symbolic_state(cat), goal=goal.final).ok

    alone = await BrainPlanner(StaticWorld.household(offline=["arm1", "carrier1"])).plan(
        "t2", TWO_OBJECTS
    )
    assert alone.plan is not None and alone.plan.expected_duration_s is not None
    assert {s.robot for s in alone.plan.subtasks} == {"mm1"}
    assert out.plan.expected_duration_s < alone.plan.expected_duration_s


def test_a_relay_is_used_only_when_it_is_faster() -> None:
    robots, objects, places = household_records()
    cat = catalogue(robots, objects, places)
    state = symbolic_state(cat)
    goal = parse_instruction("bring the apple to the dining table", cat).goal
    assert goal is not None
    # by default mm1 alone is a little faster than arm1 → carrier1 (the handover costs)
    alone = EmbeddedPlanner().plan(cat, state, goal).plan
    assert alone is not None and {s.robot for s in alone.subtasks} == {"mm1"}
    # a fast carrier: the relay wins, and is expected to end sooner than mm1 alone would
    fast = Timing(robots={"carrier1": RobotTiming(speed_mps=2.0)})
    relay = EmbeddedPlanner(timing=fast).plan(cat, state, goal).plan
    assert relay is not None and {s.robot for s in relay.subtasks} == {"arm1", "carrier1"}
    assert check_plan(relay, cat, state, goal=goal.final).ok
    assert relay.expected_duration_s is not None
    assert relay.expected_duration_s < schedule(alone, cat, fast).makespan
    # and the arm's pick overlaps the carrier's drive
    assert schedule(relay, cat, fast).overlapping()


# -- generated scenes -------------------------------------------------------------------


def solo_plan(
    robots: list[RobotState], objects: list[ObjectState], places: list[PlaceState], goal: Goal
) -> tuple[Plan, Catalogue]:
    """Everything by the first mobile manipulator (the other robots offline), greedy."""
    only = [
        r if r.id == robots[0].id else r.model_copy(update={"status": "offline"}) for r in robots
    ]
    cat = Catalogue.build(only, offered_skills(robots), objects, places)
    res = EmbeddedPlanner(solver_seconds=0, compare_joint=False).plan(
        cat, symbolic_state(cat), goal
    )
    assert res.plan is not None, res.problems
    return res.plan, cat


@pytest.mark.parametrize(
    ("seed", "n_robots", "n_places", "n_objects"),
    [
        (0, 3, 5, 2),
        (1, 4, 6, 4),
        (2, 5, 6, 5),
        (3, 3, 4, 3),
        (4, 6, 8, 6),
        (5, 4, 7, 1),
        (6, 5, 5, 7),
    ],
)
def test_generated_scenes_never_worse_than_one_robot_and_above_the_lower_bound(
    seed: int, n_robots: int, n_places: int, n_objects: int
) -> None:
    robots, objects, places, goals = generated_scene(
        seed, robots=n_robots, places=n_places, objects=n_objects
    )
    cat = catalogue(robots, objects, places)
    state = symbolic_state(cat)
    goal = Goal((tuple(("on", o, p) for o, p in goals),))
    res = EmbeddedPlanner().plan(cat, state, goal)
    assert res.plan is not None, res.problems
    report = check_plan(res.plan, cat, state, goal=goal.final)
    assert report.ok, report.problems
    sched = schedule(res.plan, cat)
    assert res.plan.expected_duration_s == pytest.approx(sched.makespan, abs=1e-3)
    assert sched.makespan >= sched.lower_bound(len(cat.available_robots)) - 1e-6
    solo, solo_cat = solo_plan(robots, objects, places, goal)
    solo_s = schedule(solo, solo_cat).makespan
    assert sched.makespan <= solo_s + 1e-6, (res.allocation, sched.makespan, solo_s)
    again = EmbeddedPlanner().plan(cat, state, goal)
    assert again.plan == res.plan, "deterministic"


def test_greedy_alone_when_the_solver_is_off_still_splits_the_work() -> None:
    robots, objects, places, goals = generated_scene(7, robots=4, places=6, objects=6)
    cat = catalogue(robots, objects, places)
    state = symbolic_state(cat)
    goal = Goal((tuple(("on", o, p) for o, p in goals),))
    res = EmbeddedPlanner(solver_seconds=0).plan(cat, state, goal)
    assert res.plan is not None and res.allocation.solver == ""
    assert check_plan(res.plan, cat, state, goal=goal.final).ok
    assert len({s.robot for s in res.plan.subtasks}) >= 2


# -- a model's plan -----------------------------------------------------------------------


def test_equivalence_needs_the_same_embodiment_skills_and_reach() -> None:
    cat = with_second_mm()
    assert equivalent(cat, "mm1", "mm2") and not equivalent(cat, "mm1", "carrier1")
    assert not equivalent(cat, "mm1", "arm1")


def test_a_model_plan_on_one_robot_moves_to_an_equivalent_idle_robot() -> None:
    cat = with_second_mm()
    state = symbolic_state(cat)
    plan = everything_on_mm1()
    assert check_plan(plan, cat, state).ok
    moved = rebalance(plan, cat, state)
    assert moved.moves and moved.after_s < moved.before_s
    robots = {s.robot for s in moved.plan.subtasks}
    assert robots == {"mm1", "mm2"}
    # pick → drive → place of one object stays on one robot
    for obj in ("apple", "mug"):
        assert len({s.robot for s in moved.plan.subtasks if s.args.get("object") == obj}) == 1
    report = check_plan(
        moved.plan,
        cat,
        state,
        goal=[("on", "apple", "dining_table"), ("on", "mug", "dining_table")],
    )
    assert report.ok, report.problems
    assert moved.plan.expected_duration_s == pytest.approx(
        schedule(moved.plan, cat).makespan, abs=1e-3
    )
    assert schedule(moved.plan, cat).overlapping()


def test_a_moved_run_first_drives_to_where_it_began() -> None:
    # mm2 waits at the sink: the mug run (which began at the shelf) needs a drive first
    cat = with_second_mm(at="sink")
    state = symbolic_state(cat)
    plan = Plan(subtasks=everything_on_mm1().subtasks)
    moved = rebalance(plan, cat, state)
    assert check_plan(moved.plan, cat, state).ok
    assert moved.after_s <= moved.before_s
    for s in moved.plan.subtasks:
        if s.robot == "mm2" and s.skill == "pick":
            first = next(x for x in moved.plan.subtasks if x.robot == "mm2")
            assert first.skill == "navigate_to"


@pytest.mark.parametrize(
    "plan",
    [
        everything_on_mm1().model_copy(update={"pinned": True}),
        Plan(
            subtasks=[s.model_copy(update={"pinned": True}) for s in everything_on_mm1().subtasks]
        ),
    ],
    ids=["plan pinned", "subtasks pinned"],
)
def test_a_pinned_plan_keeps_its_robot(plan: Plan) -> None:
    cat = with_second_mm()
    moved = rebalance(plan, cat, symbolic_state(cat))
    assert moved.moves == [] and {s.robot for s in moved.plan.subtasks} == {"mm1"}


def test_a_busy_equivalent_robot_gets_no_work() -> None:
    cat = with_second_mm(status="busy")
    moved = rebalance(everything_on_mm1(), cat, symbolic_state(cat))
    assert moved.moves == []


def model_plan_json(pinned: bool) -> dict[str, Any]:
    subs = [s.model_dump(mode="json", exclude={"pinned"}) for s in everything_on_mm1().subtasks]
    if pinned:
        for s in subs:
            s["pinned"] = True
    return {"subtasks": subs}


@pytest.mark.parametrize("pinned", [False, True])
async def test_brain_planner_rebalances_model_plans_unless_pinned(
    openai_server: ScriptedModelServer, pinned: bool
) -> None:
    robots, objects, places = household_records()
    mm1 = next(r for r in robots if r.id == "mm1")
    counter = next(p.pose for p in places if p.name == "kitchen_counter")
    robots.append(mm1.model_copy(update={"id": "mm2", "place": "kitchen_counter", "pose": counter}))
    world = StaticWorld(robots, objects, places, offered_skills(robots))
    openai_server.script(Reply.tool_call(model_plan_json(pinned)))
    p = BrainPlanner(world, LLMSettings(base_url=openai_server.base_url, model="m", timeout_s=10))
    try:
        out = await p.plan("t1", TWO_OBJECTS)
    finally:
        await p.close()
    assert out.plan is not None and out.planner == "llm:m", out.problems
    assert await p.check(out.plan) == []
    robots_used = {s.robot for s in out.plan.subtasks}
    one_robot = schedule(everything_on_mm1(), await Catalogue.from_memory(world)).makespan
    assert out.plan.expected_duration_s is not None
    if pinned:
        assert robots_used == {"mm1"} and "moved" not in out.message
        assert out.plan.expected_duration_s == pytest.approx(one_robot, abs=1e-3)
    else:
        assert robots_used == {"mm1", "mm2"} and "moved to free robots" in out.message
        assert out.plan.expected_duration_s < one_robot


def test_a_plan_that_cannot_be_lifted_is_only_timed() -> None:
    cat = with_second_mm()
    plan = Plan(subtasks=[Subtask(id="s1", robot="mm1", skill="look", args={})])
    moved = rebalance(plan, cat, symbolic_state(cat))
    assert moved.moves == [] and moved.plan.expected_duration_s == pytest.approx(1.0)


def test_a_robot_between_places_is_timed_from_its_pose() -> None:
    # a robot between places (no `place`): its first drive is timed from its pose
    robots, objects, places = household_records()
    robots = [
        r.model_copy(update={"place": None, "pose": Pose(x=0.0, y=0.0)}) if r.id == "mm1" else r
        for r in robots
    ]
    cat = catalogue(robots, objects, places)
    timing = Timing()
    plan = Plan(
        subtasks=[Subtask(id="s1", robot="mm1", skill="navigate_to", args={"target": "sink"})]
    )
    expected = (
        timing.dock_s + Pose(x=0.0, y=0.0).distance_to(cat.places["sink"].pose) / timing.speed_mps
    )
    assert schedule(plan, cat, timing).makespan == pytest.approx(expected)
