"""Scheduling and error correction, end to end over real Redis (task store + memory) with
in-test agents whose calls finish when the test says so."""

from __future__ import annotations

import asyncio
from typing import Any

from robo_os_memory import Memory
from robo_os_memory.models import RobotStatusValue

from robo_os.brain.planning.interface import PlanningOutcome
from robo_os.contracts import (
    ErrorCode,
    Plan,
    SkillResult,
    Subtask,
    SubtaskStatus,
    TaskEventKind,
    TaskStatus,
)

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import MakeBrain


def kinds(events: list) -> list[str]:
    return [e.kind.value for e in events]


def index(log: list[tuple[str, str, str]], what: str, call_id: str) -> int:
    return log.index(next(e for e in log if e[0] == what and e[2] == call_id))


async def test_dag_runs_independent_subtasks_in_parallel_and_respects_order(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(
        plans={
            "go": plan(("a", "r1", "pick"), ("b", "r2", "pick"), ("c", "r1", "place", ["a", "b"]))
        }
    )
    brain = await make_brain(planner, f)
    task = await brain.scheduler.submit(instruction="go")

    a = await f["r1"].next_call()
    b = await f["r2"].next_call()  # both started before either finished: parallel
    assert (a.subtask_id, b.subtask_id) == ("a", "b")
    assert a.call_id == f"{task.id}/a/1" and a.task_id == task.id and a.attempt == 1
    f["r1"].finish(a.call_id)
    f["r2"].finish(b.call_id)
    c = await f["r1"].next_call()
    f["r1"].finish(c.call_id)

    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [s.status for s in done.subtasks] == [SubtaskStatus.succeeded] * 3
    assert index(f.log, "start", c.call_id) > index(f.log, "end", a.call_id)
    assert index(f.log, "start", c.call_id) > index(f.log, "end", b.call_id)
    events = await brain.store.events(task.id)
    assert kinds(events)[:3] == ["created", "planning", "planned"]
    assert kinds(events)[-1] == "succeeded"
    assert done.model_calls == 1 and planner.plan_calls == ["go"]


async def test_one_robot_runs_one_subtask_at_a_time_across_tasks(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(
        plans={"one": plan(("a", "r1", "pick")), "two": plan(("a", "r1", "pick"))}
    )
    brain = await make_brain(planner, f)
    t1 = await brain.scheduler.submit(instruction="one")
    first = await f["r1"].next_call()
    t2 = await brain.scheduler.submit(instruction="two")
    # The second task's subtask queues on r1 behind the first; it starts only after.
    await asyncio.wait_for(brain.scheduler.lanes.wait_load("r1", 2), WAIT_S)
    assert f["r1"].pending_starts() == 0 and f["r1"].running == {first.call_id}
    f["r1"].finish(first.call_id)
    second = await f["r1"].next_call()
    assert {first.task_id, second.task_id} == {t1.id, t2.id}
    f["r1"].finish(second.call_id)
    for t in (t1, t2):
        assert (await brain.store.wait_terminal(t.id, WAIT_S)).status == TaskStatus.succeeded
    assert f["r1"].max_running == 1
    assert index(f.log, "start", second.call_id) > index(f.log, "end", first.call_id)


async def test_transient_failure_is_retried_on_the_same_robot(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1", "r2")
    f["r1"].auto = lambda call: (
        SkillResult.failure(ErrorCode.collision, "bumped")
        if call.attempt == 1
        else SkillResult.success()
    )
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}, equivalents={"r1": ["r2"]}), f
    )
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    assert done.subtasks[0].attempts == 2 and done.subtasks[0].robot == "r1"
    assert f["r1"].call_ids() == [f"{task.id}/a/1", f"{task.id}/a/2"]
    assert "subtask_retried" in kinds(await brain.store.events(task.id))


async def test_failure_is_reassigned_with_the_robots_chain(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1", "r2")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.unreachable, "out of reach")
    f["r2"].auto = lambda call: SkillResult.success()
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))},
        equivalents={"r1": ["r2"]},
    )
    brain = await make_brain(planner, f)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [(s.id, s.robot, s.attempts) for s in done.subtasks] == [("a", "r2", 2), ("b", "r2", 1)]
    assert [c.subtask_id for c in f["r2"].runs] == ["a", "b"]
    moved = [
        e for e in await brain.store.events(task.id) if e.kind == TaskEventKind.subtask_reassigned
    ]
    assert len(moved) == 1 and moved[0].data["from"] == "r1" and moved[0].data["to"] == "r2"
    assert moved[0].data["moved"] == ["a", "b"]
    assert "unreachable" in moved[0].message


async def test_robot_marked_offline_mid_subtask_gets_its_work_reassigned(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1", "r2")
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}, equivalents={"r1": ["r2"]}), f
    )
    await asyncio.wait_for(brain.scheduler.monitor.ready.wait(), WAIT_S)
    task = await brain.scheduler.submit(instruction="go")
    running = await f["r1"].next_call()
    await memory.update_robot("r1", status=RobotStatusValue.offline)
    assert await f["r1"].next_cancel() == running.call_id  # the brain stops the lost call
    moved = await f["r2"].next_call()
    assert moved.call_id == f"{task.id}/a/2"
    f["r2"].finish(moved.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    assert done.subtasks[0].robot == "r2"


async def test_robot_whose_heartbeat_expires_mid_subtask_gets_its_work_reassigned(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1", "r2")
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}, equivalents={"r1": ["r2"]}),
        f,
        watch_liveness=True,
    )
    await asyncio.wait_for(brain.scheduler.monitor.ready.wait(), WAIT_S)
    task = await brain.scheduler.submit(instruction="go")
    running = await f["r1"].next_call()
    await memory.heartbeat("r1", ttl_s=0.2)  # its last heartbeat: r1 dies 0.2 s from now
    moved = await f["r2"].next_call()
    assert moved.subtask_id == "a"
    assert (running.call_id, "robot offline") in f["r1"].cancels
    f["r2"].finish(moved.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    assert (await memory.get_robot("r1")).status == RobotStatusValue.offline


async def test_agent_gone_mid_call_is_reassigned(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1", "r2")
    f["r2"].auto = lambda call: SkillResult.success()
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}, equivalents={"r1": ["r2"]}), f
    )
    task = await brain.scheduler.submit(instruction="go")
    await f["r1"].next_call()
    brain.dispatcher.remove("r1", "process died")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    assert done.subtasks[0].robot == "r2"


async def test_permanent_failure_replans_the_rest(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1", "r2")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.not_found, "no apple on the counter")
    f["r2"].auto = lambda call: SkillResult.success()
    new = Plan(subtasks=[Subtask(id="a2", robot="r2", skill="look", args={})])
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))},
        replans=[PlanningOutcome(plan=new, model_calls=2, planner="scripted")],
    )
    brain = await make_brain(planner, f)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [(s.id, s.status) for s in done.subtasks] == [
        ("a", SubtaskStatus.failed),
        ("b", SubtaskStatus.skipped),
        ("a2", SubtaskStatus.succeeded),
    ]
    assert done.replans == 1 and done.model_calls == 3
    call = planner.replan_calls[0]
    assert "not_found" in call["failure"] and "no apple" in call["failure"]
    assert call["goal"] == {"instruction": "go"}
    assert [s.id for s in call["history"]] == ["a", "b"]
    assert "replanned" in kinds(await brain.store.events(task.id))


async def test_task_fails_with_the_reason_when_replanning_runs_out(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.invalid_args, "bad grip")
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}), f, max_replans=0
    )
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert "bad grip" in done.error.message and "max_replans=0" in done.error.message


async def test_cancel_stops_running_skills(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))}), f
    )
    task = await brain.scheduler.submit(instruction="go")
    running = await f["r1"].next_call()
    done = await brain.scheduler.cancel(task.id, "user changed their mind")
    assert done.status == TaskStatus.cancelled
    assert f["r1"].cancels == [(running.call_id, "user changed their mind")]
    assert [s.status for s in done.subtasks] == [SubtaskStatus.cancelled, SubtaskStatus.skipped]
    assert kinds(await brain.store.events(task.id))[-1] == "cancelled"


async def test_planner_crash_fails_only_that_task(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.success()
    planner = ScriptedPlanner(plans={"fine": plan(("a", "r1", "pick"))}, fail_on={"boom"})
    brain = await make_brain(planner, f)
    bad = await brain.scheduler.submit(instruction="boom")
    good = await brain.scheduler.submit(instruction="fine")
    assert (await brain.store.wait_terminal(good.id, WAIT_S)).status == TaskStatus.succeeded
    failed = await brain.store.wait_terminal(bad.id, WAIT_S)
    assert failed.status == TaskStatus.failed and "scripted planner crash" in failed.error.message


async def test_infeasible_instruction_fails_with_the_planners_problems(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(), f)
    task = await brain.scheduler.submit(instruction="fly to the moon")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert [p.code for p in done.error.problems] == ["infeasible"]
    assert "plan_rejected" in kinds(await brain.store.events(task.id))


async def test_busy_robot_work_moves_to_an_idle_equivalent(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(
        plans={"one": plan(("a", "r1", "pick")), "two": plan(("a", "r1", "pick"))},
        equivalents={"r1": ["r2"]},
    )
    brain = await make_brain(planner, f, rebalance=True)
    t1 = await brain.scheduler.submit(instruction="one")
    first = await f["r1"].next_call()
    t2 = await brain.scheduler.submit(instruction="two")
    second = await f["r2"].next_call()  # r1 is busy, r2 idle and equivalent
    assert (first.task_id, second.task_id) == (t1.id, t2.id)
    f["r1"].finish(first.call_id)
    f["r2"].finish(second.call_id)
    assert (await brain.store.wait_terminal(t2.id, WAIT_S)).subtasks[0].robot == "r2"
    moved = [
        e for e in await brain.store.events(t2.id) if e.kind == TaskEventKind.subtask_reassigned
    ]
    assert moved and "busy" in moved[0].message


async def test_move_refused_by_the_plan_check_falls_back_to_replanning(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.unreachable, "out of reach")
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"))}, equivalents={"r1": ["r2"]}, reject_moves_to={"r2"}
    )
    brain = await make_brain(planner, f, max_replans=0)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert f["r2"].runs == []
    assert "out of reach" in done.error.message


async def test_agent_progress_becomes_a_task_event(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    brain = await make_brain(ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}), f)
    await asyncio.wait_for(brain.scheduler.monitor.ready.wait(), WAIT_S)
    task = await brain.scheduler.submit(instruction="go")
    call = await f["r1"].next_call()
    # the agent's own bookkeeping at the start of a call is not progress ...
    await memory.update_robot("r1", current_subtask=call.call_id, activity="pick", progress=None)
    await memory.update_robot("r1", progress=0.5, activity="lifting the apple")
    cursor = "0-0"
    progress = None
    while progress is None:  # each read blocks until the next events arrive
        events = await brain.store.read_events(task.id, cursor, block_s=WAIT_S)
        assert events, "no progress event"
        cursor = events[-1].cursor
        progress = next((e for e in events if e.kind == TaskEventKind.subtask_progress), None)
    # ... so the first progress event is the report
    assert (progress.subtask, progress.robot, progress.message) == ("a", "r1", "lifting the apple")
    assert progress.data["progress"] == 0.5 and progress.data["call_id"] == call.call_id
    f["r1"].finish(call.call_id)
    assert (await brain.store.wait_terminal(task.id, WAIT_S)).status == TaskStatus.succeeded


async def test_cancel_while_planning(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    entered, release = asyncio.Event(), asyncio.Event()
    real_plan = planner.plan

    async def slow_plan(task_id: str, instruction: str, **kw: Any) -> PlanningOutcome:
        entered.set()
        await release.wait()
        return await real_plan(task_id, instruction, **kw)

    planner.plan = slow_plan  # type: ignore[method-assign]
    brain = await make_brain(planner, f)
    task = await brain.scheduler.submit(instruction="go")
    await asyncio.wait_for(entered.wait(), WAIT_S)
    done = await brain.scheduler.cancel(task.id)
    assert done.status == TaskStatus.cancelled and done.subtasks == []
    assert f["r1"].runs == []


async def test_a_bug_while_correcting_one_task_fails_only_that_task(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.unreachable, "out of reach")
    planner = ScriptedPlanner(
        plans={"bad": plan(("a", "r1", "pick")), "good": plan(("a", "r2", "pick"))}
    )

    async def broken_reassign(subtask: Subtask, exclude: set[str]) -> Subtask | None:
        raise RuntimeError("reassign bug")

    planner.reassign = broken_reassign  # type: ignore[method-assign]
    brain = await make_brain(planner, f)
    bad = await brain.scheduler.submit(instruction="bad")
    good = await brain.scheduler.submit(instruction="good")
    call = await f["r2"].next_call()
    failed = await brain.store.wait_terminal(bad.id, WAIT_S)
    assert failed.status == TaskStatus.failed
    assert failed.error.message == "internal error in the scheduler: RuntimeError: reassign bug"
    f["r2"].finish(call.call_id)
    assert (await brain.store.wait_terminal(good.id, WAIT_S)).status == TaskStatus.succeeded


async def test_an_agent_answering_garbage_is_an_internal_failure(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: "done!"  # type: ignore[return-value,arg-type]
    brain = await make_brain(
        ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}), f, max_replans=0
    )
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert done.subtasks[0].result.error == ErrorCode.internal
    assert "returned str, not a SkillResult" in done.subtasks[0].result.message
