"""The runtime tells the planner which robots are busy (Scheduler.fleet_work, through
planning.interface.FleetWork): with several tasks at once, a new task goes to the robot
that will finish it soonest, waits for a busy one when that is sooner, and its
`expected_finish_at` includes the wait; an app's explicit plan is moved off a busy
robot unless pinned. The real BrainPlanner (embedded search) over live memory, scripted
agents (the test decides when each call ends)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from pydantic import JsonValue
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.planning.catalogue import CatalogueSource
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.brain.planning.timing import Timing
from robo_os.contracts import Plan, SkillCall, SkillResult, Subtask, SubtaskStatus, Task, TaskStatus
from robo_os.skill.registry import discover

from .runtime_fakes import WAIT_S, ScriptedAgent, ScriptedPlanner
from .runtime_support import Fleet, MakeBrain

T = Timing()
# mm1 stands at the shelf: pick, drive 4 m to the table, place
NEAR_S = T.durations["pick"] + T.dock_s + 4.0 / T.speed_mps + T.durations["place"]
# mm2 waits 2 m the other way: it drives to the shelf first
FAR_S = T.dock_s + 2.0 / T.speed_mps + NEAR_S


async def two_mms(memory: Memory, *objects: str) -> Fleet:
    for name, x in (("shelf", 0.0), ("table", 4.0), ("dock", -2.0)):
        await memory.upsert_place(PlaceState(name=name, kind="table", pose=Pose(x=x, y=0.0)))
    for o in objects:
        await memory.upsert_object(ObjectState(name=o, type=o, on="shelf"))
    skills = discover()
    for rid, place, x in (("mm1", "shelf", 0.0), ("mm2", "dock", -2.0)):
        robot = RobotState(
            id=rid,
            embodiment="mobile_manipulator",
            capabilities=("navigate", "manipulate", "camera"),
            place=place,
            pose=Pose(x=x, y=0.0),
        )
        await memory.register_robot(robot)
        await memory.heartbeat(rid, ttl_s=600)
        offered = skills.for_capabilities(robot.capabilities)
        await memory.set_robot_skills(
            rid, {s.name: s.spec.model_dump(mode="json") for s in offered}
        )
    log: list[tuple[str, str, str]] = []
    fleet = Fleet({r: ScriptedAgent(r, log) for r in ("mm1", "mm2")}, log)
    for agent in fleet.agents.values():
        agent.auto = _all_but_the_first_pick
    return fleet


def _all_but_the_first_pick(call: SkillCall) -> SkillResult | None:
    """Every call succeeds at once, except task A's pick (`book0`): the test ends it."""
    return None if call.subtask_id == "book0" else SkillResult.success()


def fetch_on_mm1(obj: str, *, pinned: bool, drive_first: bool = False) -> Plan:
    """pick, drive to the table, place; `drive_first`: to the shelf before (a plan that
    still fits after another task has moved mm1)."""
    steps: list[tuple[str, dict[str, JsonValue]]] = [
        ("pick", {"object": obj}),
        ("navigate_to", {"target": "table"}),
        ("place", {"object": obj, "target": "table"}),
    ]
    if drive_first:
        steps.insert(0, ("navigate_to", {"target": "shelf"}))
    return Plan(
        subtasks=[
            Subtask(
                id=f"{obj}{i}",
                robot="mm1",
                skill=k,
                args=a,
                depends_on=[f"{obj}{i - 1}"] if i else [],
                pinned=pinned,
            )
            for i, (k, a) in enumerate(steps)
        ]
    )


async def planned(brain: object, task_id: str) -> Task:
    """The task once it has a plan (read on each of its events)."""
    store = brain.store  # type: ignore[attr-defined]
    cursor = "0-0"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        task: Task = await store.get(task_id)
        if task.subtasks or task.status not in (TaskStatus.pending, TaskStatus.planning):
            return task
        events = await store.read_events(task_id, cursor, block_s=1.0)
        if events:
            cursor = events[-1].cursor
    raise AssertionError(f"task {task_id} was not planned within {WAIT_S}s")


def robots_of(task: Task) -> set[str]:
    return {s.robot for s in task.subtasks}


@pytest.fixture
def planner(memory: Memory) -> BrainPlanner:
    return BrainPlanner(_source(memory))


def _source(memory: Memory) -> CatalogueSource:
    from typing import cast

    return cast(CatalogueSource, memory)


async def test_tasks_at_once_go_to_the_robot_that_frees_soonest(
    memory: Memory, make_brain: MakeBrain, planner: BrainPlanner
) -> None:
    f = await two_mms(memory, "book", "cup", "mug")
    # the scripted agents move nothing in memory: success is not checked against it
    brain = await make_brain(planner, f, verify_goal=False)
    try:
        # task A keeps mm1 busy (pinned: it stays there); its pick runs and does not end
        a = await brain.scheduler.submit(plan=fetch_on_mm1("book", pinned=True))
        first = await f["mm1"].next_call()
        assert first.task_id == a.id
        # B, planned while A runs: mm1 is nearer but busy for about NEAR_S, so the free
        # mm2 (FAR_S, only a little slower) gets it; the busy robot is not "idle now"
        b = await planned(
            brain, (await brain.scheduler.submit(instruction="bring the cup to the table")).id
        )
        assert robots_of(b) == {"mm2"}, b.subtasks
        assert b.expected_finish_at is not None
        assert b.expected_finish_at - b.created_at == pytest.approx(FAR_S, abs=1.5)
        # C, with both busy: mm1 frees (A ends) well before mm2 could do C after B, so C
        # waits for mm1, and its expected finish says so
        c = await planned(
            brain, (await brain.scheduler.submit(instruction="bring the mug to the table")).id
        )
        assert robots_of(c) == {"mm1"}, c.subtasks
        assert c.expected_finish_at is not None
        assert c.expected_finish_at - c.created_at > NEAR_S + NEAR_S - 3.0 - 1.5
        assert c.expected_finish_at > b.expected_finish_at
        # what a further task would be told: A's and B's open work (C's own left out)
        work = brain.scheduler.fleet_work(c.id)
        assert work.robots == {"mm1", "mm2"}
        assert {s.id for t in work.tasks for s in t} >= {"book0", "book1", "book2"}
        assert not {s.id for t in work.tasks for s in t} & {s.id for s in c.subtasks} - {
            s.id for s in b.subtasks
        }
        # everything runs to the end, each robot one call at a time
        f["mm1"].finish(first.call_id)
        for t in (a.id, b.id, c.id):
            assert await brain.scheduler.wait_finished(t, WAIT_S)
            done = await brain.store.get(t)
            assert done.status == TaskStatus.succeeded, (t, done.error)
    finally:
        f.release_all()
        await planner.close()


async def test_an_explicit_plan_on_a_busy_robot_moves_unless_pinned(
    memory: Memory, make_brain: MakeBrain, planner: BrainPlanner
) -> None:
    f = await two_mms(memory, "book", "cup", "mug")
    # the scripted agents move nothing in memory: success is not checked against it
    brain = await make_brain(planner, f, verify_goal=False)
    try:
        a = await brain.scheduler.submit(plan=fetch_on_mm1("book", pinned=True))
        first = await f["mm1"].next_call()
        assert first.task_id == a.id
        moved = await brain.scheduler.submit(plan=fetch_on_mm1("cup", pinned=False))
        assert robots_of(moved) == {"mm2"}, moved.subtasks
        assert moved.expected_finish_at is not None
        assert moved.expected_finish_at - moved.created_at == pytest.approx(FAR_S, abs=1.5)
        kept = await brain.scheduler.submit(plan=fetch_on_mm1("mug", pinned=True, drive_first=True))
        assert robots_of(kept) == {"mm1"} and all(s.pinned for s in kept.subtasks)
        assert kept.expected_finish_at is not None
        # it waits for A's run on mm1 (and what was queued there before it)
        assert kept.expected_finish_at - kept.created_at > 2 * NEAR_S - 3.0 - 1.5
        f["mm1"].finish(first.call_id)
        for t in (a.id, moved.id, kept.id):
            assert await brain.scheduler.wait_finished(t, WAIT_S)
            done = await brain.store.get(t)
            assert done.status == TaskStatus.succeeded, (t, done.error)
            assert all(s.status == SubtaskStatus.succeeded for s in done.subtasks)
    finally:
        f.release_all()
        await planner.close()


async def test_the_planner_is_told_the_work_each_priority_meets(
    fleet: Callable[..., Awaitable[Fleet]], make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")

    def step(sid: str, robot: str, obj: str, deps: tuple[str, ...] = ()) -> Subtask:
        return Subtask(id=sid, robot=robot, skill="wave", args={"obj": obj}, depends_on=list(deps))

    planner = ScriptedPlanner(
        plans={
            "low": Plan(subtasks=[step("a", "r1", "apple"), step("b", "r1", "pear", ("a",))]),
            "high": Plan(subtasks=[step("h", "r2", "plum")]),
            "same": Plan(subtasks=[step("e", "r2", "fig")]),
        }
    )
    brain = await make_brain(planner, f)
    low = await brain.scheduler.submit(instruction="low")
    running = await f["r1"].next_call()  # "a" runs (until the end); "b" waits behind it
    assert running.subtask_id == "a"
    await brain.scheduler.submit(instruction="high", priority=5)
    await f["r2"].next_call()  # planned and started: its busy view was taken before
    seen_by_high = planner.busy_seen[-1]
    assert seen_by_high is not None
    # a higher priority goes first in the lanes: of the lower task only what runs counts
    assert [s.id for t in seen_by_high.tasks for s in t] == ["a"]
    same = await brain.scheduler.submit(instruction="same")
    work = brain.scheduler.fleet_work(same.id, 0)
    # equal priority: everything queued counts, higher priorities first
    assert [[s.id for s in t] for t in work.tasks] == [["h"], ["a", "b"]]
    assert brain.scheduler.fleet_work(low.id, 0).robots == {"r2"}
