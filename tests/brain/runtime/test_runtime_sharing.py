"""Tasks sharing the fleet: robot claims for runs of subtasks, object claims and the
fleet queue, priorities, release on every ending, and claims across a brain restart.

The skills' effects are published in memory as real agents publish them, so the runs
come from the symbolic effects (pick → ... → place keeps the robot), not from names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from robo_os_example_plugin.surfaces import CLEAN
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState

from robo_os.brain.runtime.claims import ObjectClaims, links, named_objects
from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import (
    ErrorCode,
    Plan,
    SkillCall,
    SkillResult,
    Subtask,
    SubtaskState,
    TaskEventKind,
    TaskStatus,
)
from robo_os.skill.spec import SkillSpec

from .runtime_fakes import WAIT_S, ScriptedAgent, ScriptedPlanner
from .runtime_support import MakeBrain

EFFECTS = {
    "navigate": ("not at(robot, *)", "at(robot, target)"),
    "pick": ("not on(object, ?from)", "not hand_empty(robot)", "holding(robot, object)"),
    "place": ("not holding(robot, object)", "hand_empty(robot)", "on(object, target)"),
    "load": ("not holding(robot, object)", "hand_empty(robot)", "on(object, carrier)"),
    "wave": (),
}
SPECS = {
    name: SkillSpec(name=name, effects=effects).model_dump(mode="json")
    for name, effects in EFFECTS.items()
}


async def scene(memory: Memory, *robots: str, objects: tuple[str, ...] = ()) -> None:
    for r in robots:
        await memory.set_robot_skills(r, SPECS)
    for o in objects:
        await memory.upsert_object(ObjectState(name=o, on="counter"))


def S(sid: str, robot: str, skill: str, deps: tuple[str, ...] = (), **args: Any) -> Subtask:
    return Subtask(id=sid, robot=robot, skill=skill, args=args, depends_on=list(deps))


def fetch(robot: str, obj: str, dest: str, p: str = "") -> list[Subtask]:
    """Drive to the counter, pick, drive to `dest`, place: one run on `robot`."""
    return [
        S(f"{p}go", robot, "navigate", target="counter"),
        S(f"{p}pick", robot, "pick", (f"{p}go",), object=obj),
        S(f"{p}drive", robot, "navigate", (f"{p}pick",), target=dest),
        S(f"{p}place", robot, "place", (f"{p}drive",), object=obj, target=dest),
    ]


def task_of(call: SkillCall) -> str:
    return call.call_id.split("/", 1)[0]


async def wait_event(store: TaskStore, task_id: str, kind: TaskEventKind) -> Any:
    cursor = "0-0"
    while True:  # each pass blocks on the stream until new events arrive
        events = await store.read_events(task_id, cursor, block_s=WAIT_S)
        assert events, f"no {kind} event within {WAIT_S}s"
        for e in events:
            if e.kind == kind:
                return e
        cursor = events[-1].cursor


async def step(agent: ScriptedAgent, result: SkillResult | None = None) -> SkillCall:
    """The next call on the agent, ended (success unless `result`)."""
    call = await agent.next_call()
    agent.finish(call.call_id, result)
    return call


# -- runs, from the effects -------------------------------------------------------------
def states(*subs: Subtask) -> list[SubtaskState]:
    return [SubtaskState(**s.model_dump()) for s in subs]


def test_runs_come_from_the_effects_not_the_names() -> None:
    specs = {"r1": SPECS}
    subs = states(
        *fetch("r1", "apple", "table"),
        S("w", "r1", "wave", ("place",)),
        S("p2", "r1", "pick", ("w",), object="pear"),
        S("l2", "r1", "load", ("p2",), object="pear", carrier="r2"),
    )
    # navigate links to what follows (it drove there for it), pick keeps the robot until
    # the place that frees its hand; wave (no effects) and the place end nothing/link nothing
    assert links(subs, specs, {"apple", "pear"}) == {"go", "pick", "drive", "p2"}
    # a place of something the robot held before the plan keeps the robot from its start
    held_before = states(
        S("w0", "r1", "wave"),
        S("d", "r1", "navigate", ("w0",), target="t"),
        S("pl", "r1", "place", ("d",), object="apple", target="t"),
    )
    assert links(held_before, specs, {"apple"}) == {"w0", "d"}
    # unknown specs: consecutive subtasks naming the same object are kept together
    no_specs = states(
        S("a", "r1", "grab", obj="apple"),
        S("b", "r1", "drop", ("a",), obj="apple"),
        S("c", "r1", "grab", ("b",), obj="pear"),
    )
    assert links(no_specs, {}, {"apple", "pear"}) == {"a"}


# -- robot claims --------------------------------------------------------------------------
async def test_two_tasks_on_one_robot_never_interleave_inside_a_run(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await scene(memory, "r1", objects=("apple", "book"))
    planner = ScriptedPlanner(
        plans={
            "apple": Plan(subtasks=fetch("r1", "apple", "table")),
            "book": Plan(subtasks=fetch("r1", "book", "sink")),
        }
    )
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="apple")
    first = await f["r1"].next_call()  # a's drive to the counter: the run starts
    b = await brain.scheduler.submit(instruction="book")
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 2), WAIT_S)  # b waits for r1
    seen = await brain.store.get(b.id)
    assert [(w.kind, w.name, w.holder) for w in seen.waiting_for] == [("robot", "r1", a.id)]
    f["r1"].finish(first.call_id)
    order = [task_of(first)] + [task_of(await step(f["r1"])) for _ in range(7)]
    assert order == [a.id] * 4 + [b.id] * 4  # b's subtask, ready all along, never got in
    for t in (a, b):
        done = await brain.store.wait_terminal(t.id, WAIT_S)
        assert done.status == TaskStatus.succeeded, done.error
        assert done.waiting_for == []
    assert brain.scheduler.lanes.claims() == {}


async def test_a_run_ends_where_the_hand_is_free_so_others_get_in_between(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    """Claims are per run, not per task: two pick-place pairs of one task leave room for
    another task's run in between."""
    f = await fleet("r1")
    await scene(memory, "r1", objects=("apple", "pear", "book"))
    two = [
        S("p1", "r1", "pick", object="apple"),
        S("l1", "r1", "place", ("p1",), object="apple", target="t"),
        S("p2", "r1", "pick", ("l1",), object="pear"),
        S("l2", "r1", "place", ("p2",), object="pear", target="t"),
    ]
    one = [
        S("p", "r1", "pick", object="book"),
        S("l", "r1", "place", ("p",), object="book", target="s"),
    ]
    planner = ScriptedPlanner(plans={"two": Plan(subtasks=two), "one": Plan(subtasks=one)})
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="two")
    first = await f["r1"].next_call()
    b = await brain.scheduler.submit(instruction="one")
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 2), WAIT_S)
    f["r1"].finish(first.call_id)
    order = [first] + [await step(f["r1"]) for _ in range(5)]
    assert [(task_of(c), c.skill) for c in order] == [
        (a.id, "pick"),
        (a.id, "place"),
        (b.id, "pick"),
        (b.id, "place"),
        (a.id, "pick"),
        (a.id, "place"),
    ]
    for t in (a, b):
        assert (await brain.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded


async def test_a_claimed_robot_is_ranked_busy_and_work_moves_to_a_free_equivalent(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2", objects=("apple", "book"))
    planner = ScriptedPlanner(
        plans={
            "apple": Plan(subtasks=fetch("r1", "apple", "table")),
            "book": Plan(subtasks=fetch("r1", "book", "sink")),
        },
        equivalents={"r1": ["r2"]},
    )
    brain = await make_brain(planner, f, rebalance=True)
    a = await brain.scheduler.submit(instruction="apple")
    go = await f["r1"].next_call()
    f["r1"].finish(go.call_id)
    pick = await f["r1"].next_call()  # between a's subtasks r1 is idle but claimed
    assert brain.scheduler.lanes.claimed_by("r1") == a.id
    b = await brain.scheduler.submit(instruction="book")
    moved = await f["r2"].next_call()  # b's chain went to the free robot at once
    assert task_of(moved) == b.id
    f["r1"].finish(pick.call_id)
    f["r2"].finish(moved.call_id)
    for _ in range(2):
        await step(f["r1"])
    for _ in range(3):
        await step(f["r2"])
    for t in (a, b):
        assert (await brain.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded


async def test_higher_priority_gets_a_claimed_robot_first(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await scene(memory, "r1", objects=("apple", "book", "cup"))
    planner = ScriptedPlanner(
        plans={
            "apple": Plan(subtasks=fetch("r1", "apple", "table")),
            "book": Plan(subtasks=fetch("r1", "book", "sink")),
            "cup": Plan(subtasks=fetch("r1", "cup", "shelf")),
        }
    )
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="apple")
    first = await f["r1"].next_call()
    low = await brain.scheduler.submit(instruction="book", priority=0)
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 2), WAIT_S)
    high = await brain.scheduler.submit(instruction="cup", priority=5)
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 3), WAIT_S)
    f["r1"].finish(first.call_id)
    order = [task_of(first)] + [task_of(await step(f["r1"])) for _ in range(11)]
    assert order == [a.id] * 4 + [high.id] * 4 + [low.id] * 4


# -- object claims and the fleet queue ---------------------------------------------------------
async def test_a_task_needing_a_claimed_object_waits_visibly_then_succeeds(
    fleet, make_api, memory: Memory
) -> None:
    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2", objects=("apple",))
    planner = ScriptedPlanner(
        plans={
            "to table": Plan(subtasks=fetch("r1", "apple", "table")),
            "to sink": Plan(subtasks=fetch("r2", "apple", "sink")),
        }
    )
    api = await make_api(planner, f)
    store = api.runtime.store
    a = (await api.client.post("/v1/tasks", json={"instruction": "to table"})).json()
    first = await f["r1"].next_call()
    b = (await api.client.post("/v1/tasks", json={"instruction": "to sink"})).json()
    ev = await wait_event(store, b["id"], TaskEventKind.waiting)
    assert ev.data["for"][0]["holder"] == a["id"]
    listed = (await api.client.get("/v1/tasks", params={"status": "queued"})).json()["tasks"]
    assert [t["id"] for t in listed] == [b["id"]]
    assert listed[0]["waiting_for"][0] | {"since": 0} == {
        "kind": "object",
        "name": "apple",
        "holder": a["id"],
        "subtask": None,
        "since": 0,
    }
    assert (await api.client.get(f"/v1/tasks/{b['id']}")).json()["status"] == "queued"
    assert f["r2"].pending_starts() == 0 and not f["r2"].runs  # nothing of b ran
    checks = len(planner.checked)
    f["r1"].finish(first.call_id)
    for _ in range(3):
        await step(f["r1"])
    for _ in range(4):  # a placed the apple (and released it): b goes
        await step(f["r2"])
    done = (await api.client.get(f"/v1/tasks/{b['id']}/wait", params={"timeout": WAIT_S})).json()
    assert done["status"] == "succeeded" and done["waiting_for"] == []
    assert len(planner.checked) > checks  # b's plan was checked against the world a left
    assert api.runtime.scheduler.claims.holders() == {}


async def test_a_plan_that_no_longer_fits_after_the_wait_is_replanned_without_using_a_replan(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    from robo_os.brain.planning.interface import PlanningOutcome
    from robo_os.contracts import PlanProblem

    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2", objects=("apple",))

    class Fussy(ScriptedPlanner):
        async def check(self, plan: Plan) -> list[PlanProblem]:
            await super().check(plan)
            stale = any(s.id == "go" and s.robot == "r2" for s in plan.subtasks)
            return (
                [PlanProblem(code="precondition_failed", message="apple is on table")]
                if stale
                else []
            )

    planner = Fussy(
        plans={
            "to table": Plan(subtasks=fetch("r1", "apple", "table")),
            "to sink": Plan(subtasks=fetch("r2", "apple", "sink")),
        },
        replans=[
            PlanningOutcome(
                plan=Plan(subtasks=fetch("r2", "apple", "sink", "n-")), planner="scripted"
            )
        ],
    )
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="to table")
    first = await f["r1"].next_call()
    b = await brain.scheduler.submit(instruction="to sink")
    await wait_event(brain.store, b.id, TaskEventKind.waiting)
    f["r1"].finish(first.call_id)
    for _ in range(3):
        await step(f["r1"])
    calls = [await step(f["r2"]) for _ in range(4)]
    assert [c.subtask_id for c in calls] == ["n-go", "n-pick", "n-drive", "n-place"]
    done = await brain.store.wait_terminal(b.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert done.replans == 0
    assert (await brain.store.wait_terminal(a.id, WAIT_S)).status == TaskStatus.succeeded


async def test_higher_priority_task_queued_behind_starts_first(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1", "r2", "r3")
    await scene(memory, "r1", "r2", "r3", objects=("apple",))
    planner = ScriptedPlanner(
        plans={
            "first": Plan(subtasks=fetch("r1", "apple", "table")),
            "low": Plan(subtasks=fetch("r2", "apple", "sink")),
            "high": Plan(subtasks=fetch("r3", "apple", "shelf")),
        }
    )
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="first")
    go = await f["r1"].next_call()
    low = await brain.scheduler.submit(instruction="low")
    await wait_event(brain.store, low.id, TaskEventKind.waiting)
    high = await brain.scheduler.submit(instruction="high", priority=3)
    await wait_event(brain.store, high.id, TaskEventKind.waiting)
    f["r1"].finish(go.call_id)
    for _ in range(3):
        await step(f["r1"])
    high_calls = [await step(f["r3"]) for _ in range(4)]
    assert {task_of(c) for c in high_calls} == {high.id}
    seen_low = await brain.store.get(low.id)
    assert seen_low.status == TaskStatus.queued and seen_low.waiting_for  # still behind
    assert not f["r2"].runs
    for _ in range(4):
        await step(f["r2"])
    for t in (a, low, high):
        assert (await brain.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded


@pytest.mark.parametrize("ending", ["cancel", "failure"])
async def test_claims_are_released_however_the_holder_ends(
    fleet, make_brain: MakeBrain, memory: Memory, ending: str
) -> None:
    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2", objects=("apple", "book"))
    planner = ScriptedPlanner(
        plans={
            "holder": Plan(subtasks=fetch("r1", "apple", "table")),
            "object": Plan(subtasks=fetch("r2", "apple", "sink")),
            "robot": Plan(subtasks=fetch("r1", "book", "sink", "b-")),
        }
    )
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="holder")
    await step(f["r1"])
    pick = await f["r1"].next_call()  # a holds r1 (mid-run) and the apple
    by_object = await brain.scheduler.submit(instruction="object")
    await wait_event(brain.store, by_object.id, TaskEventKind.waiting)
    by_robot = await brain.scheduler.submit(instruction="robot")
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 2), WAIT_S)
    if ending == "cancel":
        await brain.scheduler.cancel(a.id)
        expected = TaskStatus.cancelled
    else:  # not_found: replan; none scripted: the task fails
        f["r1"].finish(pick.call_id, SkillResult.failure(ErrorCode.not_found, "no apple here"))
        expected = TaskStatus.failed
    assert (await brain.store.wait_terminal(a.id, WAIT_S)).status == expected
    assert (await brain.store.get_with_meta(a.id))[1].claims == []  # the record says so too
    for _ in range(4):
        await step(f["r2"])
        await step(f["r1"])
    for t in (by_object, by_robot):
        assert (await brain.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded
    assert brain.scheduler.claims.holders() == {} and brain.scheduler.lanes.claims() == {}


async def test_a_task_that_cannot_wait_fails_naming_the_holder(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2", objects=("apple",))
    planner = ScriptedPlanner(
        plans={
            "a": Plan(subtasks=fetch("r1", "apple", "table")),
            "b": Plan(subtasks=fetch("r2", "apple", "sink")),
        }
    )
    brain = await make_brain(planner, f, claim_wait_s=0.3)
    a = await brain.scheduler.submit(instruction="a")
    await f["r1"].next_call()
    b = await brain.scheduler.submit(instruction="b")
    done = await brain.store.wait_terminal(b.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert done.error is not None and f"apple (claimed by task {a.id})" in done.error.message
    assert not f["r2"].runs


# -- a brain restart ------------------------------------------------------------------------
async def test_claims_survive_a_brain_restart(fleet, make_brain: MakeBrain, memory: Memory) -> None:
    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2", objects=("apple", "book"))
    planner = ScriptedPlanner(
        plans={
            "holder": Plan(subtasks=fetch("r1", "apple", "table")),
            "object": Plan(subtasks=fetch("r2", "apple", "sink")),
            "robot": Plan(subtasks=fetch("r1", "book", "sink", "b-")),
        }
    )
    first = await make_brain(planner, f)
    a = await first.scheduler.submit(instruction="holder")
    go = await step(f["r1"])
    pick = await f["r1"].next_call()  # a is inside its run on r1 and claims the apple
    by_object = await first.scheduler.submit(instruction="object")
    await wait_event(first.store, by_object.id, TaskEventKind.waiting)
    by_robot = await first.scheduler.submit(instruction="robot")
    await asyncio.wait_for(first.scheduler.lanes.wait_load("r1", 2), WAIT_S)
    await first.close()
    assert [(await f["r1"].next_run()).call_id for _ in range(2)] == [go.call_id, pick.call_id]

    second = await make_brain(planner, f)
    assert second.scheduler.claims.holders() == {"apple": a.id, "book": by_robot.id}
    assert second.scheduler.lanes.claimed_by("r1") == a.id
    again = await f["r1"].next_run()
    assert again.call_id == pick.call_id  # a's pick re-dispatched, same attempt
    f["r1"].finish(pick.call_id)
    # a's run goes on before the other task's subtask on r1; the queued task still waits
    order = [task_of(await step(f["r1"])) for _ in range(2)]
    assert order == [a.id, a.id]
    assert (await second.store.get(by_object.id)).status == TaskStatus.queued
    for _ in range(4):
        await step(f["r1"])
        await step(f["r2"])
    for t in (a, by_object, by_robot):
        assert (await second.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded


# -- the queue itself ----------------------------------------------------------------------
async def test_object_queue_grants_all_or_nothing_without_overtaking() -> None:
    claims = ObjectClaims()
    waits: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def queued() -> dict[str, str]:
        return await asyncio.wait_for(waits.get(), WAIT_S)

    assert not await claims.take("a", {"x"}, seq=1)
    b = asyncio.ensure_future(claims.take("b", {"x", "y"}, seq=2, on_wait=waits.put_nowait))
    assert await queued() == {"x": "a"}
    # c needs y, which is free, but b (ahead) wants it too: c waits behind b
    c = asyncio.ensure_future(claims.take("c", {"y"}, seq=3, on_wait=waits.put_nowait))
    assert await queued() == {"y": "b"}
    # d needs only z: nobody ahead wants it, so it goes at once
    assert not await claims.take("d", {"z"}, seq=4)
    # e has a higher priority than b and c: once x is free it goes before both
    e = asyncio.ensure_future(claims.take("e", {"x"}, priority=1, seq=5, on_wait=waits.put_nowait))
    assert await queued() == {"x": "a"}
    claims.release("a")
    assert await asyncio.wait_for(e, WAIT_S) is True
    assert not b.done() and not c.done()
    claims.release("e")
    assert await asyncio.wait_for(b, WAIT_S) is True
    assert not c.done()
    claims.release("b")
    assert await asyncio.wait_for(c, WAIT_S) is True
    assert claims.holders() == {"y": "c", "z": "d"}


async def test_a_subtask_that_waited_for_its_robot_is_checked_and_replanned_when_stale(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    """b's plan assumed r1 stays at the shelf; a's run drove it away: b's subtask is not
    sent, b is replanned from where r1 is (not counting as a replan of b's own)."""
    from robo_os.brain.planning.interface import PlanningOutcome
    from robo_os.contracts import PlanProblem

    f = await fleet("r1")
    await scene(memory, "r1", objects=("apple", "book"))
    moved: list[bool] = []

    class Where(ScriptedPlanner):
        async def check(self, plan: Plan) -> list[PlanProblem]:
            await super().check(plan)
            if moved and any(s.id == "b-pick" for s in plan.subtasks):
                return [PlanProblem(code="precondition_failed", message="r1 is not at shelf")]
            return []

    book = [
        S("b-pick", "r1", "pick", object="book"),
        S("b-drive", "r1", "navigate", ("b-pick",), target="sink"),
        S("b-place", "r1", "place", ("b-drive",), object="book", target="sink"),
    ]
    planner = Where(
        plans={"apple": Plan(subtasks=fetch("r1", "apple", "table")), "book": Plan(subtasks=book)},
        replans=[
            PlanningOutcome(plan=Plan(subtasks=fetch("r1", "book", "sink", "n-")), planner="s")
        ],
    )
    brain = await make_brain(planner, f)
    a = await brain.scheduler.submit(instruction="apple")
    first = await f["r1"].next_call()
    b = await brain.scheduler.submit(instruction="book")
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 2), WAIT_S)
    moved.append(True)  # a's run takes r1 away from the shelf
    f["r1"].finish(first.call_id)
    calls = [first] + [await step(f["r1"]) for _ in range(7)]
    assert [c.subtask_id for c in calls[4:]] == ["n-go", "n-pick", "n-drive", "n-place"]
    done = await brain.store.wait_terminal(b.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert done.replans == 0
    assert [s.status for s in done.subtasks[:3]] == ["skipped"] * 3  # never sent
    assert (await brain.store.wait_terminal(a.id, WAIT_S)).status == TaskStatus.succeeded


# -- claims on plug-in facts --------------------------------------------------------------
WIPE = SkillSpec(
    name="wipe",
    facts=(CLEAN,),
    preconditions=("at(robot, place)",),
    effects=("clean(place)",),
).model_dump(mode="json")


def test_an_effect_on_a_declared_fact_claims_its_argument() -> None:
    specs = {"r1": {**SPECS, "wipe": WIPE}}
    subs = states(
        S("go", "r1", "navigate", target="dining_table"),
        S("wipe", "r1", "wipe", ("go",), place="dining_table"),
    )
    assert named_objects(subs, set(), specs) == {"dining_table"}
    # a standard effect (at(robot, target)) never claims a place: robots share places
    assert named_objects(subs[:1], set(), specs) == set()
    assert named_objects(subs, set()) == set()  # without specs: objects only


async def test_two_tasks_wiping_one_place_take_turns(fleet, make_api, memory: Memory) -> None:
    f = await fleet("r1", "r2")
    await scene(memory, "r1", "r2")
    for r in ("r1", "r2"):
        await memory.set_robot_skills(r, {**SPECS, "wipe": WIPE})

    def wipe_at(robot: str) -> Plan:
        return Plan(subtasks=[S(f"{robot}-wipe", robot, "wipe", place="dining_table")])

    planner = ScriptedPlanner(plans={"by r1": wipe_at("r1"), "by r2": wipe_at("r2")})
    api = await make_api(planner, f)
    store = api.runtime.store
    a = (await api.client.post("/v1/tasks", json={"instruction": "by r1"})).json()
    first = await f["r1"].next_call()
    b = (await api.client.post("/v1/tasks", json={"instruction": "by r2"})).json()
    ev = await wait_event(store, b["id"], TaskEventKind.waiting)
    assert ev.data["for"][0]["name"] == "dining_table"
    assert ev.data["for"][0]["holder"] == a["id"]
    assert f["r2"].pending_starts() == 0 and not f["r2"].runs  # r2 never wiped alongside
    f["r1"].finish(first.call_id)
    second = await step(f["r2"])
    assert second.skill == "wipe" and second.args == {"place": "dining_table"}
    done = (await api.client.get(f"/v1/tasks/{b['id']}/wait", params={"timeout": WAIT_S})).json()
    assert done["status"] == "succeeded"
    assert api.runtime.scheduler.claims.holders() == {}
