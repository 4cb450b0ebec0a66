"""Connections that die under a command (Redis kills them, as a restart does) are
replaced and the command retried, for the task store and the memory alike; nothing is
surfaced once as `Connection closed by server`."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from robo_os_memory import Memory
from robo_os_memory.models import Pose, RobotState

from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import Task, TaskEvent, TaskEventKind
from robo_os.testing import WAIT_S


async def kill_clients(url: str) -> int:
    """Close every other client connection from the server side."""
    admin = aioredis.from_url(url, decode_responses=True)
    try:
        return int(await admin.client_kill_filter(_type="normal", skipme=True))
    finally:
        await admin.aclose()


async def test_a_blocking_read_in_flight_survives_its_connection_being_killed(
    redis_url: str, key_prefix: str
) -> None:
    store = await TaskStore.connect(redis_url, key_prefix)
    try:
        task = await store.create(Task(id="t1", instruction="go"), [], None)
        _, cursor = await store.get_with_cursor(task.id)
        admin = aioredis.from_url(redis_url, decode_responses=True)
        try:
            # the server's MONITOR feed says when the read has reached it
            async with admin.monitor() as feed:
                reading = asyncio.ensure_future(store.read_events(task.id, cursor, block_s=WAIT_S))
                while True:
                    seen = await asyncio.wait_for(feed.next_command(), WAIT_S)
                    if str(seen["command"]).upper().startswith("XREAD"):
                        break
            assert await kill_clients(redis_url) >= 1  # the read is in flight: it dies
        finally:
            await admin.aclose()
        assert not reading.done()
        # the killed read reconnects and blocks again; an event now reaches it
        ev = TaskEvent(task_id=task.id, kind=TaskEventKind.planning, message="after the kill")
        await store.append_events(task.id, [ev])
        got = await asyncio.wait_for(reading, WAIT_S)
        assert [e.message for e in got] == ["after the kill"]
        # and every pooled connection the kill closed is replaced on its next command
        assert (await store.get(task.id)).id == task.id
        assert task.id in await store.active_ids()
    finally:
        await store.close()


async def test_the_memory_answers_after_its_connections_are_killed(
    redis_url: str, key_prefix: str
) -> None:
    mem = await Memory.connect(redis_url, prefix=key_prefix, writer="test")
    try:
        await mem.register_robot(RobotState(id="r1", embodiment="t", pose=Pose(x=0, y=0)))
        await asyncio.gather(*(mem.get_robot("r1") for _ in range(8)))  # fill the pool
        assert await kill_clients(redis_url) >= 1
        got = await asyncio.gather(*(mem.get_robot("r1") for _ in range(8)))
        assert {r.id for r in got} == {"r1"}
        await mem.heartbeat("r1", ttl_s=5.0)
    finally:
        await mem.close()
