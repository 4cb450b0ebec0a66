"""The task store over a real Redis: versioned writes, conflicts, indexes, TTLs, events."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from robo_os.brain.runtime.store import TaskConflict, TaskMeta, TaskStore
from robo_os.contracts import Task, TaskEvent, TaskEventKind, TaskStatus
from robo_os.errors import NotFoundError


@pytest.fixture
async def store(redis_url: str, key_prefix: str):
    s = await TaskStore.connect(redis_url, key_prefix, terminal_ttl_s=60.0)
    yield s
    await s.close()


def ev(task_id: str, kind: TaskEventKind, msg: str = "") -> TaskEvent:
    return TaskEvent(task_id=task_id, kind=kind, message=msg)


async def test_versions_and_conflicting_writers(store: TaskStore) -> None:
    t = await store.create(
        Task(id="t1", instruction="x"),
        [ev("t1", TaskEventKind.created)],
        TaskMeta(goal={"on": ["apple", "table"]}),
    )
    assert t.version == 1
    with pytest.raises(TaskConflict):
        await store.create(Task(id="t1"))
    t2 = await store.save(t.model_copy(update={"status": TaskStatus.planning}), 1)
    assert t2.version == 2
    with pytest.raises(TaskConflict):  # a writer that read version 1 lost
        await store.save(t.model_copy(update={"status": TaskStatus.running}), 1)
    got, meta = await store.get_with_meta("t1")
    assert (got.status, got.version, meta.goal) == (
        TaskStatus.planning,
        2,
        {"on": ["apple", "table"]},
    )


async def test_update_rereads_and_reapplies_after_a_conflict(store: TaskStore) -> None:
    t = await store.create(Task(id="t2"))
    calls = []

    def mutate(task: Task, meta: TaskMeta):
        calls.append(task.version)
        return task.model_copy(update={"replans": task.replans + 1}), []

    await store.save(t.model_copy(update={"replans": 10}), 1)  # someone else wrote meanwhile
    out, _ = await store.update("t2", mutate, current=(t, TaskMeta()))
    assert calls == [1, 2] and out.replans == 11 and out.version == 3


async def test_terminal_tasks_get_a_ttl_and_leave_the_active_index(
    store: TaskStore, redis_url: str
) -> None:
    t = await store.create(Task(id="t3"))
    r = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await store.active_ids() == ["t3"]
        assert await r.pttl(store.keys.task("t3")) == -1
        await store.save(
            t.model_copy(update={"status": TaskStatus.succeeded}),
            1,
            [ev("t3", TaskEventKind.succeeded)],
        )
        assert await store.active_ids() == []
        for key in (store.keys.task("t3"), store.keys.events("t3")):
            assert 0 < await r.pttl(key) <= 60_000
        assert sorted(await r.keys(f"{store.keys.prefix}:brain:*")) == sorted(
            [store.keys.task("t3"), store.keys.events("t3"), store.keys.recent]
        )
    finally:
        await r.aclose()


async def test_list_filters_by_status_and_drops_expired_entries(
    store: TaskStore, redis_url: str
) -> None:
    for i, status in enumerate([TaskStatus.pending, TaskStatus.succeeded, TaskStatus.pending]):
        await store.create(Task(id=f"l{i}", status=status, created_at=1000.0 + i))
    assert [t.id for t in await store.recent()] == ["l2", "l1", "l0"]
    assert [t.id for t in await store.recent(TaskStatus.pending)] == ["l2", "l0"]
    assert [t.id for t in await store.recent(limit=1)] == ["l2"]
    r = Redis.from_url(redis_url, decode_responses=True)
    await r.delete(store.keys.task("l1"))  # as if its TTL ran out
    await r.aclose()
    assert [t.id for t in await store.recent()] == ["l2", "l0"]
    with pytest.raises(NotFoundError):
        await store.get("l1")


async def test_events_resume_after_a_cursor(store: TaskStore) -> None:
    t = await store.create(Task(id="t4"), [ev("t4", TaskEventKind.created, "one")])
    await store.save(
        t, 1, [ev("t4", TaskEventKind.planning, "two"), ev("t4", TaskEventKind.planned, "three")]
    )
    events = await store.events("t4")
    assert [e.message for e in events] == ["one", "two", "three"]
    assert [e.message for e in await store.events("t4", after=events[0].cursor)] == ["two", "three"]
    assert await store.read_events("t4", events[-1].cursor, block_s=0.05) == []


async def test_wait_terminal_wakes_on_the_terminal_event_or_times_out(store: TaskStore) -> None:
    t = await store.create(Task(id="t5", status=TaskStatus.running))
    assert (await store.wait_terminal("t5", 0.1)).status == TaskStatus.running
    waiter = asyncio.create_task(store.wait_terminal("t5", 20.0))
    await store.save(
        t.model_copy(update={"status": TaskStatus.failed}), 1, [ev("t5", TaskEventKind.failed)]
    )
    assert (await asyncio.wait_for(waiter, 20.0)).status == TaskStatus.failed
    with pytest.raises(NotFoundError):
        await store.wait_terminal("nope", 0.1)
