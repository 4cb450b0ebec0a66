"""A brain restarted mid-task (a second scheduler over the same Redis prefix) resumes
the task: finished subtasks are not run again, the running one is re-dispatched with
the same call id (the agent answers from its own record)."""

from __future__ import annotations

from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import SubtaskStatus, TaskEventKind, TaskStatus

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import MakeBrain


async def wait_event(
    store: TaskStore, task_id: str, kind: TaskEventKind, subtask: str | None = None
) -> None:
    cursor = "0-0"
    while True:  # each pass blocks on the stream until new events arrive
        events = await store.read_events(task_id, cursor, block_s=WAIT_S)
        assert events, f"no {kind} event within {WAIT_S}s"
        for e in events:
            if e.kind == kind and (subtask is None or e.subtask == subtask):
                return
        cursor = events[-1].cursor


async def test_restarted_brain_resumes_and_never_reruns_finished_work(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(
        plans={
            "go": plan(("a", "r1", "pick"), ("b", "r2", "pick"), ("c", "r1", "place", ["a", "b"]))
        }
    )
    first = await make_brain(planner, f)
    task = await first.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    b = await f["r2"].next_call()
    assert (await f["r2"].next_run()).call_id == b.call_id
    f["r1"].finish(a.call_id)
    await wait_event(first.store, task.id, TaskEventKind.subtask_succeeded, "a")
    await first.close()  # the brain goes away while b runs on r2

    second = await make_brain(planner, f)
    assert task.id in second.scheduler.active
    again = await f["r2"].next_run()
    assert (
        again.call_id == b.call_id
    )  # same attempt, same call id: the agent awaits the running call
    assert f["r2"].pending_starts() == 0  # ... and did not start it a second time
    f["r2"].finish(b.call_id)
    c = await f["r1"].next_call()
    f["r1"].finish(c.call_id)

    done = await second.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [(s.id, s.status, s.attempts) for s in done.subtasks] == [
        ("a", SubtaskStatus.succeeded, 1),
        ("b", SubtaskStatus.succeeded, 1),
        ("c", SubtaskStatus.succeeded, 1),
    ]
    assert f["r1"].call_ids() == [a.call_id, c.call_id]  # a was never dispatched again
    assert f["r2"].call_ids() == [b.call_id, b.call_id]
    assert planner.plan_calls == ["go"]  # the plan was kept, not made again
    resumed = [
        e
        for e in await second.store.events(task.id)
        if e.kind == TaskEventKind.subtask_started and e.data.get("resumed")
    ]
    assert [e.subtask for e in resumed] == ["b"]


async def test_a_call_that_finished_while_the_brain_was_down_is_not_run_again(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))})
    first = await make_brain(planner, f)
    task = await first.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    await first.close()
    f["r1"].finish(a.call_id)  # the agent finishes while no brain listens

    second = await make_brain(planner, f)
    b = await f["r1"].next_call()
    assert b.subtask_id == "b"
    f["r1"].finish(b.call_id)
    done = await second.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    assert f["r1"].call_ids() == [a.call_id, a.call_id, b.call_id]
    assert f["r1"].log.count(("start", "r1", a.call_id)) == 1


async def test_a_task_cut_off_while_planning_is_planned_again(
    fleet, make_brain: MakeBrain, redis_url: str, key_prefix: str
) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: None
    store = await TaskStore.connect(redis_url, key_prefix)
    from robo_os.contracts import Task

    await store.create(Task(id="t-planning", instruction="go", status=TaskStatus.planning))
    await store.close()
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    brain = await make_brain(planner, f)
    call = await f["r1"].next_call()
    f["r1"].finish(call.call_id)
    done = await brain.store.wait_terminal("t-planning", WAIT_S)
    assert done.status == TaskStatus.succeeded and planner.plan_calls == ["go"]
