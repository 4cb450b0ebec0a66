"""The memory's bounded pool queues callers: a call that waits for a connection longer
than its deadline still succeeds (the wait is not Redis being slow); a wait past the
pool's own timeout fails naming it; a burst far over the pool size all succeeds."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from robo_os_memory import Memory, StoreUnavailableError
from robo_os_memory.models import Pose, RobotState


async def hold_the_connection(mem: Memory, seconds: float) -> None:
    # a blocking pop on a key nobody pushes to: the pool's only connection is busy
    await mem.redis.blpop([f"nothing-{uuid.uuid4().hex}"], timeout=seconds)


async def test_waiting_for_a_connection_is_not_counted_in_the_call_deadline(
    redis_url: str, key_prefix: str
) -> None:
    mem = await Memory.connect(
        redis_url, prefix=key_prefix, max_connections=1, socket_timeout=0.5, pool_timeout_s=10
    )
    try:
        await mem.register_robot(RobotState(id="r1", embodiment="t", pose=Pose(x=0, y=0)))
        holder = asyncio.ensure_future(hold_the_connection(mem, 1.5))
        await asyncio.sleep(0)  # one scheduling step: it takes the connection before it suspends
        assert len(mem.redis.connection_pool._in_use_connections) == 1
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        robot = await mem.get_robot("r1")  # waits ~1.5 s for the connection, deadline 0.5 s
        assert robot is not None and robot.id == "r1"
        assert loop.time() - t0 >= 1.0
        await holder
    finally:
        await mem.close()


async def test_a_wait_past_the_pool_timeout_fails_naming_it(
    redis_url: str, key_prefix: str
) -> None:
    mem = await Memory.connect(redis_url, prefix=key_prefix, max_connections=1, pool_timeout_s=0.2)
    try:
        holder = asyncio.ensure_future(hold_the_connection(mem, 1.0))
        await asyncio.sleep(0)  # one scheduling step: it takes the connection before it suspends
        assert len(mem.redis.connection_pool._in_use_connections) == 1
        with pytest.raises(StoreUnavailableError, match="No connection available"):
            await mem.get_robot("r1")
        await holder
    finally:
        await mem.close()


async def test_a_burst_far_over_the_pool_size_all_succeeds(redis_url: str, key_prefix: str) -> None:
    mem = await Memory.connect(redis_url, prefix=key_prefix, max_connections=2)
    try:
        await mem.register_robot(RobotState(id="r1", embodiment="t", pose=Pose(x=0, y=0)))
        got = await asyncio.gather(*(mem.get_robot("r1") for _ in range(300)))
        assert {r.id for r in got if r is not None} == {"r1"} and len(got) == 300
        assert len(mem.redis.connection_pool._in_use_connections) == 0  # all given back
    finally:
        await mem.close()
