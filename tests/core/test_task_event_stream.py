"""A task's event stream over a real Redis: a task that ends while its backlog is being
sent still gets its last events to the client (the stream never stops short of the
terminal event)."""

from __future__ import annotations

from robo_os.brain.api.events import task_event_stream
from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import Task, TaskEvent, TaskEventKind, TaskStatus


def ev(kind: TaskEventKind) -> TaskEvent:
    return TaskEvent(task_id="t1", kind=kind)


async def test_a_task_that_ends_during_the_backlog_is_streamed_to_its_end(
    redis_url: str, key_prefix: str
) -> None:
    store = await TaskStore.connect(redis_url, key_prefix, terminal_ttl_s=60.0)
    try:
        task = await store.create(
            Task(id="t1", status=TaskStatus.running),
            [ev(TaskEventKind.created), ev(TaskEventKind.planned)],
        )
        stream = task_event_stream(store, "t1", "0-0")
        kinds = [(await anext(stream)).kind]  # the backlog's page is read here
        await store.save(
            task.model_copy(update={"status": TaskStatus.succeeded}),
            task.version,
            [ev(TaskEventKind.subtask_succeeded), ev(TaskEventKind.succeeded)],
        )
        kinds += [e.kind async for e in stream]
    finally:
        await store.close()
    assert kinds == ["created", "planned", "subtask_succeeded", "succeeded"]
