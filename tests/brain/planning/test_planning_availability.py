"""Planning around robots busy with other tasks: a robot with queued work is planned
from when it is expected to be free (timing.ready_times over the runtime's FleetWork),
in the embedded allocation, in the rebalancing of a model's or an app's plan, and in
the expected duration. No physics: the symbolic model and the timing estimates only."""

from __future__ import annotations

import time

import pytest
from pydantic import JsonValue
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.instructions import parse_instruction
from robo_os.brain.planning.interface import FleetWork
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.brain.planning.timing import Timing, ready_poses, ready_times, schedule
from robo_os.contracts import Plan, Subtask, SubtaskState, SubtaskStatus
from robo_os.symbolic.state import symbolic_state
from robo_os.testing.scenes import generated_scene

from .planning_world import StaticWorld, offered_skills

T = Timing()
PICK, PLACE = T.durations["pick"], T.durations["place"]


def two_mms(
    far_m: float = 2.0, extra: tuple[str, ...] = ()
) -> tuple[list[RobotState], list[ObjectState], list[PlaceState]]:
    """mm1 stands at the shelf with the cup; mm2, just like it, `far_m` further away;
    the table 4 m from the shelf."""
    places = [
        PlaceState(name="shelf", kind="shelf", pose=Pose(x=0.0, y=0.0)),
        PlaceState(name="table", kind="table", pose=Pose(x=4.0, y=0.0)),
        PlaceState(name="dock", kind="dock", pose=Pose(x=-far_m, y=0.0)),
    ]
    objects = [ObjectState(name=o, type=o, on="shelf") for o in ("cup", *extra)]
    robots = [
        RobotState(
            id=rid,
            embodiment="mobile_manipulator",
            capabilities=("navigate", "manipulate", "camera"),
            place=place,
            pose=next(p.pose for p in places if p.name == place),
        )
        for rid, place in (("mm1", "shelf"), ("mm2", "dock"))
    ]
    return robots, objects, places


def build(records: tuple[list[RobotState], list[ObjectState], list[PlaceState]]) -> Catalogue:
    robots, objects, places = records
    return Catalogue.build(robots, offered_skills(robots), objects, places)


def drive(a: float, b: float) -> float:
    return T.dock_s + abs(a - b) / T.speed_mps


# mm1 alone: pick, drive 4 m, place; mm2 first drives to the shelf
NEAR_S = PICK + drive(0, 4) + PLACE
FAR_S = drive(-2, 0) + NEAR_S


@pytest.mark.parametrize("busy_s", [0.0, 3.0, 6.0, 6.7, 20.0, 300.0])
def test_a_new_task_goes_to_the_robot_that_finishes_it_soonest(busy_s: float) -> None:
    cat = build(two_mms())
    state = symbolic_state(cat)
    goal = parse_instruction("bring the cup to the table", cat).goal
    assert goal is not None
    res = EmbeddedPlanner().plan(cat, state, goal, ready_at={"mm1": busy_s})
    assert res.plan is not None, res.problems
    assert check_plan(res.plan, cat, state, goal=goal.final).ok
    robots = {s.robot for s in res.plan.subtasks}
    # waiting for the busy mm1 pays while it frees sooner than mm2 could be done
    wait_for_mm1 = busy_s + NEAR_S
    assert robots == ({"mm1"} if wait_for_mm1 < FAR_S else {"mm2"}), (busy_s, res.plan)
    assert res.plan.expected_duration_s == pytest.approx(min(wait_for_mm1, FAR_S), abs=1e-3)
    if robots == {"mm1"} and busy_s > 0:
        expected = res.plan.expected_duration_s
        assert expected is not None and expected > NEAR_S, "the wait for mm1 is in the estimate"


def test_without_availability_the_busy_robot_looks_free() -> None:
    # the baseline the runtime's FleetWork fixes: nothing known, nearest robot wins
    cat = build(two_mms())
    goal = parse_instruction("bring the cup to the table", cat).goal
    assert goal is not None
    res = EmbeddedPlanner().plan(cat, symbolic_state(cat), goal)
    assert res.plan is not None and {s.robot for s in res.plan.subtasks} == {"mm1"}


def test_several_objects_are_spread_by_when_each_robot_is_free() -> None:
    # two cups: with both robots free, each takes one; with mm1 busy for a long time,
    # mm2 does both (one after the other) rather than wait
    cat = build(two_mms(extra=("mug",)))
    state = symbolic_state(cat)
    goal = parse_instruction("bring the cup and the mug to the table", cat).goal
    assert goal is not None
    free = EmbeddedPlanner().plan(cat, state, goal)
    assert free.plan is not None
    assert {s.robot for s in free.plan.subtasks} == {"mm1", "mm2"}
    busy = EmbeddedPlanner().plan(cat, state, goal, ready_at={"mm1": 1000.0})
    assert busy.plan is not None
    assert {s.robot for s in busy.plan.subtasks} == {"mm2"}
    assert busy.plan.expected_duration_s is not None
    assert busy.plan.expected_duration_s < 1000.0
    assert check_plan(busy.plan, cat, state, goal=goal.final).ok


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_scenes_never_start_work_on_a_robot_before_it_is_free(seed: int) -> None:
    robots, objects, places, goals = generated_scene(seed, robots=4, places=6, objects=4)
    cat = build((robots, objects, places))
    state = symbolic_state(cat)
    from robo_os.brain.planning.instructions import Goal

    goal = Goal((tuple(("on", o, p) for o, p in goals),))
    ready = {r.id: 40.0 * (i + 1) for i, r in enumerate(robots[:2])}
    res = EmbeddedPlanner().plan(cat, state, goal, ready_at=ready)
    assert res.plan is not None, res.problems
    assert check_plan(res.plan, cat, state, goal=goal.final).ok
    sched = schedule(res.plan, cat, ready_at=ready)
    for sid, start in sched.start.items():
        assert start >= ready.get(sched.robot[sid], 0.0) - 1e-6
    assert res.plan.expected_duration_s == pytest.approx(sched.makespan, abs=1e-3)


# -- from the runtime's view of the fleet ---------------------------------------------------


def sub(
    sid: str,
    robot: str,
    skill: str,
    status: SubtaskStatus = SubtaskStatus.pending,
    deps: tuple[str, ...] = (),
    started_at: float | None = None,
    **args: JsonValue,
) -> SubtaskState:
    return SubtaskState(
        id=sid,
        robot=robot,
        skill=skill,
        args=args,
        depends_on=list(deps),
        status=status,
        started_at=started_at,
    )


def test_ready_times_count_what_is_left_of_running_work_and_the_queue() -> None:
    cat = build(two_mms(extra=("book",)))
    now = 1000.0
    other = (
        sub("p", "mm1", "pick", SubtaskStatus.running, started_at=now - 3.0, object="book"),
        sub("d", "mm1", "navigate_to", deps=("p",), target="table"),
        sub("l", "mm1", "place", deps=("d",), object="book", target="table"),
        sub("done", "mm2", "look", SubtaskStatus.succeeded),
    )
    work = FleetWork.of([other], at=now)
    assert [s.id for s in work.tasks[0]] == ["p", "d", "l"], "ended subtasks occupy nothing"
    ready = ready_times(work, cat, T)
    assert ready == {"mm1": pytest.approx(PICK - 3.0 + drive(0, 4) + PLACE)}
    # a second task queued behind it on mm1 starts after it; one overrunning its
    # estimate counts as ending now, never in the past
    late = (sub("x", "mm2", "pick", SubtaskStatus.running, started_at=now - 60, object="cup"),)
    more = (sub("y", "mm1", "look"),)
    ready = ready_times(FleetWork.of([other, late, more], at=now), cat, T)
    assert ready["mm1"] == pytest.approx(PICK - 3.0 + drive(0, 4) + PLACE + T.durations["look"])
    assert ready["mm2"] == 0.0
    # a queued subtask waits for the running one of another robot it depends on
    handoff = (
        sub("a", "mm1", "pick", SubtaskStatus.running, started_at=now, object="book"),
        sub("b", "mm2", "look", deps=("a",)),
    )
    ready = ready_times(FleetWork.of([handoff], at=now), cat, T)
    assert ready["mm2"] == pytest.approx(PICK + T.durations["look"])


def test_a_later_tasks_work_on_a_busy_robot_is_timed_from_where_the_earlier_leaves_it() -> None:
    """mm1 stands at the shelf now, but its first task takes it to the table: the drive
    back to the shelf queued by a second task is 4 m, not 0 from where mm1 stands."""
    cat = build(two_mms(extra=("book",)))
    now = 1000.0
    first = (
        sub("p", "mm1", "pick", SubtaskStatus.running, started_at=now, object="book"),
        sub("d", "mm1", "navigate_to", deps=("p",), target="table"),
        sub("l", "mm1", "place", deps=("d",), object="book", target="table"),
    )
    second = (sub("back", "mm1", "navigate_to", target="shelf"),)
    work = FleetWork.of([first, second], at=now)
    ready = ready_times(work, cat, T)
    assert ready["mm1"] == pytest.approx(PICK + drive(0, 4) + PLACE + drive(4, 0))
    assert ready_poses(work, cat, T)["mm1"] == cat.places["shelf"].pose
    assert ready_poses(FleetWork.of([first], at=now), cat, T)["mm1"] == cat.places["table"].pose
    # a running drive takes the robot where it goes, for the work queued behind it
    driving = (
        sub("d2", "mm1", "navigate_to", SubtaskStatus.running, started_at=now, target="table"),
    )
    ready = ready_times(FleetWork.of([driving, second], at=now), cat, T)
    assert ready["mm1"] == pytest.approx(drive(0, 4) + drive(4, 0))


async def test_brain_planner_plans_around_the_runtimes_busy_robots() -> None:
    robots, objects, places = two_mms(extra=("book",))
    world = StaticWorld(robots, objects, places, offered_skills(robots))
    planner = BrainPlanner(world)
    now = time.time()
    long_job = [
        sub("p", "mm1", "pick", SubtaskStatus.running, started_at=now, object="book"),
        sub("d", "mm1", "navigate_to", deps=("p",), target="table"),
        sub("l", "mm1", "place", deps=("d",), object="book", target="table"),
        *(sub(f"w{i}", "mm1", "look", deps=("l",)) for i in range(10)),
    ]
    out = await planner.plan("t", "bring the cup to the table", busy=FleetWork.of([long_job]))
    assert out.plan is not None and {s.robot for s in out.plan.subtasks} == {"mm2"}
    assert out.plan.expected_duration_s == pytest.approx(FAR_S, abs=1e-3)
    short_job = [sub("q", "mm1", "look", SubtaskStatus.running, started_at=now)]
    out = await planner.plan("t", "bring the cup to the table", busy=FleetWork.of([short_job]))
    assert out.plan is not None and {s.robot for s in out.plan.subtasks} == {"mm1"}
    # it waits for mm1 (about a second): the estimate says so
    assert out.plan.expected_duration_s is not None
    assert NEAR_S < out.plan.expected_duration_s <= NEAR_S + T.durations["look"] + 1e-3


# -- an app's explicit plan ---------------------------------------------------------------


def on_mm1(pinned: bool = False, whole: bool = False) -> Plan:
    subs = [
        Subtask(id="s1", robot="mm1", skill="pick", args={"object": "cup"}, pinned=pinned),
        Subtask(
            id="s2",
            robot="mm1",
            skill="navigate_to",
            args={"target": "table"},
            depends_on=["s1"],
            pinned=pinned,
        ),
        Subtask(
            id="s3",
            robot="mm1",
            skill="place",
            args={"object": "cup", "target": "table"},
            depends_on=["s2"],
            pinned=pinned,
        ),
    ]
    return Plan(subtasks=subs, pinned=whole)


async def test_an_explicit_plan_moves_off_a_busy_robot_unless_pinned() -> None:
    robots, objects, places = two_mms(extra=("book",))
    world = StaticWorld(robots, objects, places, offered_skills(robots))
    planner = BrainPlanner(world)
    cat = await Catalogue.from_memory(world)
    busy = FleetWork.of(
        [[sub("x", "mm1", "look", SubtaskStatus.running, started_at=time.time())]]
        + [[sub(f"y{i}", "mm1", "pick", object="book")] for i in range(8)]
    )
    ready = ready_times(busy, cat)
    assert ready["mm1"] > FAR_S
    moved = await planner.prepare(on_mm1(), busy=busy)
    assert moved.plan is not None, moved.problems
    assert {s.robot for s in moved.plan.subtasks} == {"mm2"}
    assert "moved to free robots" in moved.message
    assert check_plan(moved.plan, cat, symbolic_state(cat)).ok
    assert moved.plan.expected_duration_s == pytest.approx(
        schedule(moved.plan, cat, ready_at=ready).makespan, abs=1e-3
    )
    # free robots: nothing to gain, nothing moves
    idle = await planner.prepare(on_mm1())
    assert idle.plan is not None and {s.robot for s in idle.plan.subtasks} == {"mm1"}
    assert idle.plan.expected_duration_s == pytest.approx(NEAR_S, abs=1e-3)
    for pinned in (on_mm1(pinned=True), on_mm1(whole=True)):
        kept = await planner.prepare(pinned, busy=busy)
        assert kept.plan is not None and {s.robot for s in kept.plan.subtasks} == {"mm1"}
        # it waits for mm1, and says so
        assert kept.plan.expected_duration_s == pytest.approx(ready["mm1"] + NEAR_S, abs=1e-3)


async def test_an_explicit_plan_that_fails_the_checks_is_not_moved() -> None:
    robots, objects, places = two_mms()
    planner = BrainPlanner(StaticWorld(robots, objects, places, offered_skills(robots)))
    bad = Plan(subtasks=[Subtask(id="s1", robot="mm1", skill="place", args={"object": "cup"})])
    out = await planner.prepare(bad)
    assert out.plan is None and out.problems
