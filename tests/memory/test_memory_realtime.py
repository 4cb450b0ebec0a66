"""Real time: subscriptions over blocking stream reads; liveness (offline within two
heartbeat intervals, per robot); lease expiry events. Every wait here is on a change
arriving, with a deadline; nothing sleeps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from robo_os_memory import (
    Change,
    EntityKind,
    Memory,
    NotFoundError,
    ObjectState,
    Pose,
    RobotState,
    RobotStatusValue,
)
from robo_os_memory.subscription import Subscription

DEADLINE_S = 10.0  # generous: the machine is shared; the figures are in the benchmark


async def _next(sub: Subscription, match: Callable[[Change], bool] = lambda c: True) -> Change:
    async def first() -> Change:
        async for change in sub:
            if match(change):
                return change
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(first(), DEADLINE_S)


@contextlib.asynccontextmanager
async def _running(coro: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(coro)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_subscribe_filters_and_order(memory: Memory) -> None:
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    async with (
        memory.subscribe(kinds=[EntityKind.object]) as objects,
        memory.subscribe(names=["r1"]) as r1,
    ):
        # a reader already blocked in XREAD is woken by the write
        waiting = asyncio.ensure_future(_next(objects))
        await memory.update_robot("r1", activity="looking")
        await memory.upsert_object(ObjectState(name="cup"))
        await memory.update_object("cup", attrs={"seen": True})
        first = await waiting
        assert (first.kind, first.name, first.op) == (EntityKind.object, "cup", "upsert")
        second = await _next(objects)
        assert (second.name, second.op, second.fields) == (
            "cup",
            "update",
            {"attrs": {"seen": True}},
        )
        robot = await _next(r1)
        assert (robot.kind, robot.name, robot.fields) == (
            EntityKind.robot,
            "r1",
            {"activity": "looking"},
        )
        assert robot.by == "test" and robot.version == 2


async def test_subscribe_resumes_from_cursor(memory: Memory) -> None:
    await memory.upsert_object(ObjectState(name="cup"))
    async with memory.subscribe() as sub:
        await memory.update_object("cup", attrs={"n": 1})
        got = await _next(sub)
        resume = sub.cursor
        assert got.cursor == resume
    # while nobody listens, two more changes happen; a new subscription from the cursor
    # gets exactly those, in order
    await memory.update_object("cup", attrs={"n": 2})
    await memory.update_object("cup", attrs={"n": 3})
    async with memory.subscribe(cursor=resume) as again:
        assert (await _next(again)).fields == {"attrs": {"n": 2}}
        assert (await _next(again)).fields == {"attrs": {"n": 3}}


async def test_dead_robot_goes_offline_within_two_intervals(memory: Memory) -> None:
    interval = memory.heartbeat_interval_s
    async with memory.subscribe(kinds=[EntityKind.robot]) as sub, _running(memory.watch_liveness()):
        r = await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
        assert r.last_heartbeat is not None
        off = await _next(sub, lambda c: c.op == "offline")
        assert off.name == "r1" and off.fields == {"status": "offline"}
        # server-side time stamps: the heartbeat and the offline change. The bound is
        # two intervals; the slack covers a watcher delayed by a loaded CI machine.
        assert interval * 1.5 <= off.ts - r.last_heartbeat <= 2 * interval + 0.2
        r1 = await memory.get_robot("r1")
        assert r1 is not None and r1.status == RobotStatusValue.offline

        # a heartbeat brings it back
        await memory.heartbeat("r1")
        back = await _next(sub, lambda c: c.name == "r1")
        assert back.op == "online" and back.fields == {"status": "idle"}
        r1 = await memory.get_robot("r1")
        assert r1 is not None and r1.status == RobotStatusValue.idle


async def test_one_live_robot_never_keeps_a_dead_one_alive(memory: Memory) -> None:
    start = await memory.latest_cursor()
    await memory.register_robot(RobotState(id="alive", embodiment="mobile"))
    async with (
        memory.subscribe(names=["dead"]) as dead_changes,
        _running(memory.run_heartbeat("alive", interval_s=memory.heartbeat_interval_s / 4)),
        _running(memory.watch_liveness()),
        _running(memory.watch_liveness()),  # a second watcher: still one offline change
    ):
        await memory.register_robot(RobotState(id="dead", embodiment="mobile"))
        off = await _next(dead_changes, lambda c: c.op == "offline")
        assert off.name == "dead"
        assert await memory.sweep_liveness() == 0
        alive = await memory.get_robot("alive")
        assert alive is not None and alive.status == RobotStatusValue.idle
    changes, _ = await memory.changes_since(
        start, names=["alive", "dead"], kinds=[EntityKind.robot]
    )
    assert [(c.name, c.op) for c in changes if c.op in ("offline", "online")] == [
        ("dead", "offline")
    ]


async def test_lease_expiry_is_an_event(memory: Memory) -> None:
    async with memory.subscribe(kinds=[EntityKind.lease]) as sub, _running(memory.watch_liveness()):
        lease = await memory.acquire("cup", "r1", ttl_s=0.1)
        assert (await _next(sub)).op == "acquire"
        expired = await _next(sub)
        assert (expired.op, expired.name, expired.fields) == (
            "expire",
            "cup",
            {"holder": "r1", "token": lease.token},
        )
        assert expired.ts >= lease.expires_at
        assert await memory.lease_of("cup") is None
        newer = await memory.acquire("cup", "r2", ttl_s=5)
        assert newer.token > lease.token


async def test_batched_heartbeats_keep_each_robot_alive_as_its_own_would(memory: Memory) -> None:
    for rid in ("a", "b", "c"):
        await memory.register_robot(RobotState(id=rid, embodiment="mobile"))
    host = memory.as_writer("agent-host")
    async with memory.subscribe(kinds=[EntityKind.robot]) as sub, _running(memory.watch_liveness()):
        # "c" is not beaten for: it alone goes offline, however often the others beat
        async def beat() -> None:
            while True:
                assert await host.heartbeats(["a", "b", "ghost"]) == {
                    "a": "idle",
                    "b": "idle",
                    "ghost": None,
                }
                await asyncio.sleep(memory.heartbeat_interval_s / 4)  # the beat's cadence

        async with _running(beat()):
            off = await _next(sub, lambda c: c.op == "offline")
            assert off.name == "c"
            assert await memory.sweep_liveness() == 0
            for rid in ("a", "b"):
                r = await memory.get_robot(rid)
                assert r is not None and r.status == RobotStatusValue.idle
        # one batched beat brings an offline robot back, written by that robot
        got = await host.heartbeats(["c"])
        assert got == {"c": "idle"}
        back = await _next(sub, lambda c: c.name == "c" and c.op == "online")
        assert back.by == "c"


async def test_a_writer_view_shares_the_pools_and_leaves_them_open(memory: Memory) -> None:
    view = memory.as_writer("r9")
    await view.register_robot(RobotState(id="r9", embodiment="mobile"))
    r = await memory.get_robot("r9")
    assert r is not None and r.updated_by == "r9" and view._r is memory._r
    await view.close()  # the pools are the original's
    await memory.update_robot("r9", activity="still connected")
    assert (await view.get_robot("r9")).activity == "still connected"  # type: ignore[union-attr]


async def test_heartbeat_of_unknown_robot(memory: Memory) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        await memory.heartbeat("ghost")


async def test_pose_stream_reaches_a_subscriber_in_order(memory: Memory) -> None:
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    async with memory.subscribe(names=["r1"]) as sub:
        for i in range(50):
            await memory.update_robot("r1", pose=Pose(x=i, y=0))
        xs = [(await _next(sub)).fields["pose"]["x"] for _ in range(50)]  # type: ignore[index]
    assert xs == [float(i) for i in range(50)]


async def test_idle_readers_outlive_the_socket_timeout(
    redis_url: str, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # redis-py cuts reads longer than socket_timeout; blocking reads must stay below it
    mem = await Memory.connect(
        redis_url, prefix=key_prefix, socket_timeout=0.2, heartbeat_interval_s=0.2
    )
    try:
        await mem.register_robot(RobotState(id="r1", embodiment="mobile"))
        async with mem.subscribe(kinds=[EntityKind.object]) as sub, _running(mem.watch_liveness()):
            # nothing happens for five socket timeouts: the wait ends by our deadline only
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(sub), 1.0)
            await mem.upsert_object(ObjectState(name="cup"))
            assert (await _next(sub)).name == "cup"
    finally:
        await mem.close()
    assert not [r for r in caplog.records if "lost redis" in r.getMessage()]


async def test_cancelling_readers_and_writers_always_stops_them(memory: Memory) -> None:
    """A task cancelled in the middle of a memory call must end. (redis-py sends under
    asyncio.wait_for when a socket timeout is set, which on Python 3.11 can swallow the
    cancellation; the memory keeps its own deadlines instead.)"""
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))

    async def reader() -> None:
        async for _ in memory.subscribe(kinds=[EntityKind.robot]):
            pass

    async def writer() -> None:
        k = 0
        while True:
            k += 1
            await memory.update_robot("r1", progress=k % 100 / 100)

    for i in range(60):
        task = asyncio.ensure_future(reader() if i % 2 else writer())
        for _ in range(i % 6):  # cancel at a different point of the call each time
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=DEADLINE_S)
        assert done, f"task {i} ignored its cancellation"
        assert task.cancelled()
