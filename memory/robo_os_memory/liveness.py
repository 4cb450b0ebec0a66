"""Liveness: per-robot heartbeat keys and the watcher that marks dead robots offline.

A heartbeat sets the robot's own `{prefix}:alive:{id}` key with a PX TTL and its
deadline in the `{prefix}:deadlines` sorted set, so one live robot can never keep another
alive. The watcher runs `sweep.lua` (robots past their deadline go offline, with one
`offline` change each) and then waits, on a timer, until the earliest deadline, or until
a heartbeat adds a new deadline (a nudge on `{prefix}:wake`, read with a blocking XREAD).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from redis import exceptions as rexc

from .base import BLOCK_MS, blocking_deadline
from .deadline import call_deadline
from .errors import InvalidUpdateError, StoreUnavailableError
from .keys import Keys
from .scripts import RedisClient, Scripts

__all__ = ["heartbeat", "run_heartbeat", "sweep", "watch"]

log = logging.getLogger(__name__)


async def heartbeat(scripts: Scripts, robot_id: str, ttl_s: float, *, by: str) -> str | None:
    if ttl_s <= 0:
        raise InvalidUpdateError(f"heartbeat ttl must be > 0, not {ttl_s}")
    status = await scripts.run("heartbeat", by, [robot_id, max(1, round(ttl_s * 1000))])
    if status == "idle":
        log.debug("heartbeat robot=%s status=%s", robot_id, status)
    return None if status is None else str(status)


async def heartbeats(
    scripts: Scripts, robot_ids: Sequence[str], ttl_s: float, *, by: str
) -> dict[str, str | None]:
    if ttl_s <= 0:
        raise InvalidUpdateError(f"heartbeat ttl must be > 0, not {ttl_s}")
    if not robot_ids:
        return {}
    got = await scripts.run("heartbeats", by, [max(1, round(ttl_s * 1000)), *robot_ids])
    return {r: (str(s) if s is not None else None) for r, s in zip(robot_ids, got, strict=True)}


async def sweep(scripts: Scripts, *, by: str) -> tuple[int, int, int]:
    """One pass: returns (server now ms, next deadline ms or -1, robots marked offline)."""
    now_ms, next_ms, marked = await scripts.run("sweep", by, [500])
    if int(marked):
        log.info("liveness: %s robot(s) marked offline", marked)
    return int(now_ms), int(next_ms), int(marked)


async def _wake_reader(
    r: RedisClient, keys: Keys, wake: asyncio.Event, timeout_s: float | None
) -> None:
    async with call_deadline(timeout_s):
        last = await r.xrevrange(keys.wake, count=1)
    position = str(last[0][0]) if last else "0-0"
    while True:
        async with call_deadline(blocking_deadline(timeout_s)):
            reply = await r.xread({keys.wake: position}, count=100, block=BLOCK_MS)
        for _, entries in reply or ():
            position = entries[-1][0]
            wake.set()


async def _watch_once(
    r: RedisClient,
    keys: Keys,
    scripts: Scripts,
    *,
    by: str,
    max_wait_s: float,
    blocking: RedisClient,
    timeout_s: float | None,
) -> None:
    wake = asyncio.Event()
    reader = asyncio.create_task(
        _wake_reader(blocking, keys, wake, timeout_s), name="robo-os-liveness-wake"
    )
    waiter: asyncio.Task[bool] | None = None
    try:
        while True:
            wake.clear()
            now_ms, next_ms, _ = await sweep(scripts, by=by)
            # a timer to the earliest deadline, cut short when a new deadline appears
            timeout = (
                max_wait_s
                if next_ms < 0
                else min(max_wait_s, max(0.0, (next_ms - now_ms) / 1000.0) + 0.001)
            )
            waiter = asyncio.create_task(wake.wait())
            done, _ = await asyncio.wait(
                {waiter, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            if reader in done:
                reader.result()  # re-raise what stopped the wake reader
                raise StoreUnavailableError("liveness wake reader stopped")
    finally:
        for task in (reader, waiter):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, rexc.RedisError, TimeoutError):
                    await task


async def watch(
    r: RedisClient,
    keys: Keys,
    scripts: Scripts,
    *,
    by: str,
    max_wait_s: float,
    blocking: RedisClient,
    timeout_s: float | None,
) -> None:
    backoff = 0.1
    while True:
        try:
            await _watch_once(
                r,
                keys,
                scripts,
                by=by,
                max_wait_s=max_wait_s,
                blocking=blocking,
                timeout_s=timeout_s,
            )
        except (rexc.ConnectionError, rexc.TimeoutError, StoreUnavailableError, TimeoutError) as e:
            log.warning("liveness watcher lost redis (%s); retrying in %.1fs", e, backoff)
            # retry backoff after a failure, not synchronisation: nothing to wait on while
            # redis is unreachable
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


async def run_heartbeat(scripts: Scripts, robot_id: str, interval_s: float, ttl_s: float) -> None:
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while True:
        try:
            await heartbeat(scripts, robot_id, ttl_s, by=robot_id)
        except (rexc.ConnectionError, rexc.TimeoutError, TimeoutError) as e:
            log.warning("heartbeat of %s failed (%s); trying again next beat", robot_id, e)
        # a cadence, not synchronisation: beat on a fixed grid so load does not drift it
        next_at += interval_s
        await asyncio.sleep(max(0.0, next_at - loop.time()))
