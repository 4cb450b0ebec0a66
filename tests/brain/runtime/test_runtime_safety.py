"""The emergency stop and approvals, in the scheduler over real Redis with in-test agents:
a stop cancels every running skill of every task, dispatches nothing until released,
survives a brain restart; a gated skill waits for a person, across a restart too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from robo_os_memory import Memory

from robo_os.brain.planning.interface import PlanningOutcome
from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import (
    ErrorCode,
    SkillResult,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from robo_os.errors import ConflictError, NotFoundError, UnknownNameError

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import Fleet, MakeBrain


async def wait_for(
    store: TaskStore, task_id: str, pred: Callable[[TaskEvent], bool], what: str
) -> TaskEvent:
    """The first event of the task (from its start) that satisfies `pred`."""
    cursor = "0-0"
    while True:  # each pass blocks on the stream until new events arrive
        events = await store.read_events(task_id, cursor, block_s=WAIT_S)
        assert events, f"task {task_id}: no {what} within {WAIT_S}s"
        for e in events:
            if pred(e):
                return e
        cursor = events[-1].cursor or cursor


def kind(k: TaskEventKind, subtask: str | None = None) -> Callable[[TaskEvent], bool]:
    return lambda e: e.kind == k and (subtask is None or e.subtask == subtask)


def sub(task: Task, sid: str) -> object:
    return next(s for s in task.subtasks if s.id == sid)


async def test_estop_halts_every_task_dispatches_nothing_and_release_resumes(
    fleet, make_brain: MakeBrain
) -> None:
    f: Fleet = await fleet("r1", "r2", "r3")
    planner = ScriptedPlanner(
        plans={
            "one": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"])),
            "two": plan(("a", "r2", "pick"), ("b", "r2", "place", ["a"])),
            "three": plan(("a", "r3", "pick")),
            "behind": plan(("a", "r1", "pick")),  # waits for r1 behind "one"
        }
    )
    brain = await make_brain(planner, f)
    tasks = {i: await brain.scheduler.submit(instruction=i) for i in ("one", "two", "three")}
    running = {r: await f[r].next_call() for r in ("r1", "r2", "r3")}
    behind = await brain.scheduler.submit(instruction="behind")
    await wait_for(brain.store, behind.id, kind(TaskEventKind.waiting), "a wait for r1")

    state = await brain.scheduler.engage_estop("alice", "person in the aisle")
    assert state.engaged and state.by == "alice"
    # every running skill is cancelled through its agent's cancel path
    for r, call in running.items():
        assert await f[r].next_cancel() == call.call_id
        assert (call.call_id, "emergency stop") in f[r].cancels
    for t in [*tasks.values(), behind]:
        ev = await wait_for(brain.store, t.id, kind(TaskEventKind.paused), "paused")
        assert "alice" in ev.message and "person in the aisle" in ev.message
    for t in tasks.values():
        await wait_for(brain.store, t.id, kind(TaskEventKind.subtask_halted, "a"), "halted")
        stored = await brain.store.get(t.id)
        assert stored.status == TaskStatus.paused  # paused, not failed
        assert (sub(stored, "a").status, sub(stored, "a").attempts) == (SubtaskStatus.pending, 1)
    # a second stop keeps the first's who and why
    again = await brain.scheduler.engage_estop("carol", "again")
    assert (again.by, again.reason) == ("alice", "person in the aisle")

    # a task submitted during the stop is planned, then paused with nothing dispatched
    late = await brain.scheduler.submit(instruction="three")
    await wait_for(brain.store, late.id, kind(TaskEventKind.paused), "paused")
    assert all(f[r].pending_starts() == 0 and not f[r].running for r in ("r1", "r2", "r3"))
    runs_before = {r: len(f[r].runs) for r in ("r1", "r2", "r3")}
    assert brain.scheduler.health()["estop"]["engaged"] is True
    assert runs_before == {"r1": 1, "r2": 1, "r3": 1}

    for r in ("r1", "r2", "r3"):  # from now on every call succeeds at once
        f[r].auto = lambda call: SkillResult.success()
    released = await brain.scheduler.release_estop("bob")
    assert not released.engaged and released.released_by == "bob"
    for t in [*tasks.values(), behind, late]:
        ev = await wait_for(brain.store, t.id, kind(TaskEventKind.resumed), "resumed")
        assert "bob" in ev.message
    for t in [*tasks.values(), behind, late]:
        done = await brain.store.wait_terminal(t.id, WAIT_S)
        assert done.status == TaskStatus.succeeded, (t.instruction, done.error)
    # the halted subtasks ran again as a new attempt (a new call id)
    calls = {c.call_id for r in ("r1", "r2", "r3") for c in f[r].runs}
    assert {f"{tasks[i].id}/a/2" for i in ("one", "two", "three")} <= calls
    assert f"{behind.id}/a/1" in calls and f"{late.id}/a/1" in calls


async def test_a_skill_that_finished_before_the_cancel_counts_as_done(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))}), f
    )
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    f["r1"].finish(a.call_id)  # it ends before the stop's cancel reaches it
    await brain.scheduler.engage_estop("alice", "")
    await wait_for(brain.store, task.id, kind(TaskEventKind.paused), "paused")
    stored = await brain.store.get(task.id)
    assert sub(stored, "a").status == SubtaskStatus.succeeded
    assert sub(stored, "b").status == SubtaskStatus.pending and f["r1"].pending_starts() == 0
    await brain.scheduler.release_estop("alice")
    b = await f["r1"].next_call()
    assert b.subtask_id == "b" and b.attempt == 1
    f["r1"].finish(b.call_id)
    assert (await brain.store.wait_terminal(task.id, WAIT_S)).status == TaskStatus.succeeded


async def test_an_agent_that_ignores_the_cancel_is_let_go_after_the_grace(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}), f)
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()

    async def deaf(call_id: str, reason: str = "") -> bool:
        return False  # the agent never honours it

    f["r1"].cancel = deaf  # type: ignore[method-assign]
    await brain.scheduler.engage_estop("alice", "")
    ev = await wait_for(brain.store, task.id, kind(TaskEventKind.subtask_halted), "halted")
    assert "no answer to the cancel" in ev.message
    stored = await brain.store.get(task.id)
    assert stored.status == TaskStatus.paused and sub(stored, "a").status == SubtaskStatus.pending
    await brain.scheduler.release_estop("alice")
    again = await f["r1"].next_call()
    assert again.call_id == f"{task.id}/a/2"
    f["r1"].finish(again.call_id)
    f["r1"].finish(a.call_id)
    assert (await brain.store.wait_terminal(task.id, WAIT_S)).status == TaskStatus.succeeded


async def test_a_restarted_brain_stays_stopped_until_released(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    first = await make_brain(planner, f)
    task = await first.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    await first.scheduler.engage_estop("alice", "maintenance")
    await wait_for(first.store, task.id, kind(TaskEventKind.subtask_halted), "halted")
    await first.close()

    second = await make_brain(planner, f)
    assert second.scheduler.estop.engaged and second.scheduler.estop.state.by == "alice"
    assert task.id in second.scheduler.active
    late = await second.scheduler.submit(instruction="go")
    await wait_for(second.store, late.id, kind(TaskEventKind.paused), "paused")
    assert f["r1"].runs == [a] and f["r1"].pending_starts() == 0  # nothing dispatched
    assert (await second.store.get(task.id)).status == TaskStatus.paused
    await second.scheduler.release_estop("bob")
    for _ in range(2):
        call = await f["r1"].next_call()
        f["r1"].finish(call.call_id)
    for t in (task, late):
        assert (await second.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded
    assert (await second.store.get(task.id)).subtasks[0].attempts == 2


async def test_cancel_during_a_stop_cancels_the_task(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}), f)
    task = await brain.scheduler.submit(instruction="go")
    await f["r1"].next_call()
    await brain.scheduler.engage_estop("alice", "")
    await wait_for(brain.store, task.id, kind(TaskEventKind.paused), "paused")
    done = await brain.scheduler.cancel(task.id, "not needed")
    assert done.status == TaskStatus.cancelled


# -- approvals ---------------------------------------------------------------------------


GATED = {"go": plan(("a", "r1", "pick"), ("b", "r1", "cut", ["a"]), ("c", "r1", "place", ["b"]))}


async def _until_awaiting(brain, f: Fleet, task: Task) -> None:
    a = await f["r1"].next_call()
    f["r1"].finish(a.call_id)
    ev = await wait_for(brain.store, task.id, kind(TaskEventKind.awaiting_approval, "b"), "ask")
    assert ev.data["skill"] == "cut" and "/subtasks/b/approve" in ev.message


async def test_a_gated_skill_waits_for_approval_then_runs(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans=GATED), f, approval_skills=["cut"])
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    stored = await brain.store.get(task.id)
    assert stored.status == TaskStatus.awaiting_approval
    assert sub(stored, "b").status == SubtaskStatus.awaiting_approval
    assert f["r1"].pending_starts() == 0 and len(f["r1"].runs) == 1  # b was not dispatched
    with pytest.raises(ConflictError, match="c is pending, not awaiting approval"):
        await brain.scheduler.decide(task.id, "c", approve=True, by="alice")
    with pytest.raises(NotFoundError, match="no subtask 'zz'"):
        await brain.scheduler.decide(task.id, "zz", approve=True, by="alice")

    await brain.scheduler.decide(task.id, "b", approve=True, by="alice", reason="checked")
    b = await f["r1"].next_call()
    assert b.subtask_id == "b"
    # answered once: a second approval of the same subtask is a conflict
    with pytest.raises(ConflictError):
        await brain.scheduler.decide(task.id, "b", approve=True, by="alice")
    f["r1"].finish(b.call_id)
    c = await f["r1"].next_call()
    f["r1"].finish(c.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    _, meta = await brain.store.get_with_meta(task.id)
    assert meta.approved == {"b": "alice"}
    approved = [e for e in await brain.store.events(task.id) if e.kind == TaskEventKind.approved]
    assert [(e.subtask, e.message) for e in approved] == [("b", "approved by alice: checked")]
    with pytest.raises(ConflictError, match="already succeeded"):
        await brain.scheduler.decide(task.id, "b", approve=False, by="alice")


async def test_a_rejected_subtask_fails_and_the_task_fails_without_replans(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(
        ScriptedPlanner(plans=GATED), f, approval_skills=["cut"], max_replans=0
    )
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    await brain.scheduler.decide(task.id, "b", approve=False, by="bob", reason="unsafe")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed and "rejected by bob: unsafe" in done.error.message
    b = sub(done, "b")
    assert b.status == SubtaskStatus.failed and b.result.error == ErrorCode.rejected
    assert sub(done, "c").status == SubtaskStatus.skipped
    assert [c.subtask_id for c in f["r1"].runs] == ["a"]  # b never ran
    kinds = [e.kind for e in await brain.store.events(task.id)]
    assert TaskEventKind.rejected in kinds and kinds[-1] == TaskEventKind.failed


async def test_a_rejection_replans_when_the_task_may(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    detour = PlanningOutcome(plan=plan(("d", "r1", "place")), model_calls=1, planner="scripted")
    planner = ScriptedPlanner(plans=GATED, replans=[detour])
    brain = await make_brain(planner, f, approval_skills=["cut"])
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    await brain.scheduler.decide(task.id, "b", approve=False, by="bob")
    d = await f["r1"].next_call()
    assert d.subtask_id == "d"
    f["r1"].finish(d.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded and done.replans == 1
    assert "rejected by bob" in planner.replan_calls[0]["failure"]


async def test_a_skill_declared_requires_approval_is_gated_without_settings(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await memory.set_robot_skills(
        "r1",
        {
            "pick": {"name": "pick", "timeout_s": 30.0},
            "cut": {"name": "cut", "timeout_s": 30.0, "requires_approval": True},
        },
    )
    brain = await make_brain(ScriptedPlanner(plans=GATED), f)
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    await brain.scheduler.decide(task.id, "b", approve=True, by="alice")
    for _ in range(2):
        call = await f["r1"].next_call()
        f["r1"].finish(call.call_id)
    assert (await brain.store.wait_terminal(task.id, WAIT_S)).status == TaskStatus.succeeded


async def test_a_pending_approval_survives_a_brain_restart(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans=GATED)
    first = await make_brain(planner, f, approval_skills=["cut"])
    task = await first.scheduler.submit(instruction="go")
    await _until_awaiting(first, f, task)
    await first.close()

    second = await make_brain(planner, f, approval_skills=["cut"])
    assert task.id in second.scheduler.active
    stored = await second.store.get(task.id)
    assert stored.status == TaskStatus.awaiting_approval
    assert sub(stored, "b").status == SubtaskStatus.awaiting_approval
    assert f["r1"].pending_starts() == 0
    await second.scheduler.decide(task.id, "b", approve=True, by="alice")
    for _ in range(2):
        call = await f["r1"].next_call()
        f["r1"].finish(call.call_id)
    done = await second.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    # the first brain's approval question was not asked again
    asks = [
        e for e in await second.store.events(task.id) if e.kind == TaskEventKind.awaiting_approval
    ]
    assert len(asks) == 1


async def test_an_approved_subtask_is_not_asked_again_on_retry(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans=GATED), f, approval_skills=["cut"])
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    await brain.scheduler.decide(task.id, "b", approve=True, by="alice")
    b1 = await f["r1"].next_call()
    f["r1"].finish(b1.call_id, SkillResult.failure(ErrorCode.timeout, "slow"))  # transient
    b2 = await f["r1"].next_call()
    assert (b2.subtask_id, b2.attempt) == ("b", 2)
    f["r1"].finish(b2.call_id)
    c = await f["r1"].next_call()
    f["r1"].finish(c.call_id)
    assert (await brain.store.wait_terminal(task.id, WAIT_S)).status == TaskStatus.succeeded


async def test_an_estop_during_an_approval_wait_holds_the_approved_subtask(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans=GATED), f, approval_skills=["cut"])
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    await brain.scheduler.engage_estop("alice", "")
    await wait_for(brain.store, task.id, kind(TaskEventKind.paused), "paused")
    await brain.scheduler.decide(task.id, "b", approve=True, by="alice")
    stored = await brain.store.get(task.id)
    assert stored.status == TaskStatus.paused and sub(stored, "b").status == SubtaskStatus.pending
    assert f["r1"].pending_starts() == 0
    await brain.scheduler.release_estop("alice")
    for _ in range(2):
        call = await f["r1"].next_call()
        f["r1"].finish(call.call_id)
    assert (await brain.store.wait_terminal(task.id, WAIT_S)).status == TaskStatus.succeeded


@pytest.mark.parametrize("approve", [True, False])
async def test_an_answer_to_a_task_no_runner_owns_is_stored_and_acted_on_when_adopted(
    fleet, make_brain: MakeBrain, memory: Memory, redis_url: str, key_prefix: str, approve: bool
) -> None:
    from robo_os.brain.runtime.dispatch import LocalDispatcher
    from robo_os.brain.runtime.scheduler import Scheduler
    from robo_os.settings import SchedulerSettings

    f = await fleet("r1")
    planner = ScriptedPlanner(plans=GATED)
    first = await make_brain(planner, f, approval_skills=["cut"], max_replans=0)
    task = await first.scheduler.submit(instruction="go")
    await _until_awaiting(first, f, task)
    await first.close()

    store = await TaskStore.connect(redis_url, key_prefix)
    settings = SchedulerSettings(approval_skills=["cut"], max_replans=0, retry_backoff_s=0.0)
    second = Scheduler(store, memory, LocalDispatcher(f.agents), planner, settings)
    try:
        await second.start(resume=False)  # owns no runner yet
        assert second.active == []
        stored = await second.decide(task.id, "b", approve=approve, by="alice")
        b = sub(stored, "b")
        assert b.status == (SubtaskStatus.pending if approve else SubtaskStatus.failed)
        assert stored.status == TaskStatus.running
        with pytest.raises(ConflictError):
            await second.decide(task.id, "b", approve=approve, by="alice")
        assert await second.resume() == [task.id]  # the reconciler's adoption
        if approve:
            for _ in range(2):
                call = await f["r1"].next_call()
                f["r1"].finish(call.call_id)
            done = await store.wait_terminal(task.id, WAIT_S)
            assert done.status == TaskStatus.succeeded
        else:
            done = await store.wait_terminal(task.id, WAIT_S)
            assert done.status == TaskStatus.failed and "rejected by alice" in done.error.message
            assert [c.subtask_id for c in f["r1"].runs] == ["a"]
    finally:
        await second.close()
        await store.close()


async def test_an_answer_the_ending_task_never_took_is_refused_not_lost(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans=GATED), f, approval_skills=["cut"])
    task = await brain.scheduler.submit(instruction="go")
    await _until_awaiting(brain, f, task)
    runner = brain.scheduler._runners[task.id][0]
    runner.cancel("changed my mind")  # ahead of the answer in the runner's inbox
    with pytest.raises(ConflictError, match="ended before the answer was taken"):
        await runner.decide("b", approve=True, by="alice")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.cancelled
    _, meta = await brain.store.get_with_meta(task.id)
    assert meta.approved == {} and [c.subtask_id for c in f["r1"].runs] == ["a"]


# -- one robot's own stop ------------------------------------------------------------------


async def test_a_robot_stop_halts_that_robot_only_survives_a_restart_and_release_resumes(
    fleet, make_brain: MakeBrain
) -> None:
    f: Fleet = await fleet("r1", "r2")
    planner = ScriptedPlanner(
        plans={
            "one": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"])),
            "two": plan(("a", "r2", "pick"), ("b", "r2", "place", ["a"])),
        }
    )
    first = await make_brain(planner, f)
    one = await first.scheduler.submit(instruction="one")
    two = await first.scheduler.submit(instruction="two")
    on_r1, on_r2 = await f["r1"].next_call(), await f["r2"].next_call()

    state = await first.scheduler.engage_estop("alice", "arm jammed", robots=["r1"])
    assert not state.engaged and state.robots["r1"].by == "alice"
    assert await f["r1"].next_cancel() == on_r1.call_id
    await wait_for(first.store, one.id, kind(TaskEventKind.subtask_halted, "a"), "halted")
    # the other robot's task goes on to success meanwhile
    f["r2"].finish(on_r2.call_id)
    then = await f["r2"].next_call()
    assert then.subtask_id == "b"
    f["r2"].finish(then.call_id)
    assert (await first.store.wait_terminal(two.id, WAIT_S)).status == TaskStatus.succeeded
    stored = await first.store.get(one.id)
    assert stored.status == TaskStatus.running  # not paused: only r1 is stopped
    assert (sub(stored, "a").status, sub(stored, "a").attempts) == (SubtaskStatus.pending, 1)
    assert f["r1"].pending_starts() == 0 and f["r1"].runs == [on_r1]
    again = await first.scheduler.engage_estop("carol", "again", robots=["r1"])
    assert again.robots["r1"].by == "alice"  # the first stop's who stays
    with pytest.raises(UnknownNameError, match="r9"):
        await first.scheduler.engage_estop("alice", robots=["r1", "r9"])
    # a global stop and its release leave r1's own stop in place
    await first.scheduler.engage_estop("bob", "drill")
    released = await first.scheduler.release_estop("bob")
    assert not released.engaged and set(released.robots) == {"r1"}
    await first.close()

    second = await make_brain(planner, f)
    assert second.scheduler.estop.stopped("r1") and not second.scheduler.estop.stopped("r2")
    assert f["r1"].pending_starts() == 0
    f["r1"].auto = lambda call: SkillResult.success()
    after = await second.scheduler.release_estop("bob", robots=["r1"])
    assert after.robots == {}
    done = await second.store.wait_terminal(one.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert f"{one.id}/a/2" in {c.call_id for c in f["r1"].runs}  # a new attempt
