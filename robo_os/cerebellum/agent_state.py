"""What an agent keeps besides the robot record: finished call results (so a call is never
run twice, even across an agent restart) and an ordered writer that takes memory status
writes off the skill's critical path.

Keys (owner: the robot's agent; nothing else writes them), built by
`robo_os.keys.AgentKeys`:

    {prefix}:agent:{robot}:result:{call_id}   string, JSON SkillResult, EX result_ttl_s
    {prefix}:agent:{robot}:results            sorted set call_id -> finish time, EXPIRE result_ttl_s

The index lets a restarted agent load its recent results in two round trips, so the hot
path never asks Redis whether a call already ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc
from robo_os_memory import Memory
from robo_os_memory.errors import MemoryStoreError

from ..contracts import SkillCall, SkillResult
from ..keys import AgentKeys
from ..skill.context import CancelToken
from ..skill.parts import DockingBase, parts_of
from ..skill.robot import Robot

__all__ = [
    "CallResults",
    "CallRun",
    "HeartbeatBatch",
    "StatusWriter",
    "Tombstones",
    "acquire_within",
    "driver_place",
    "driver_reach",
    "driver_slot",
    "heartbeat_until",
    "stamped",
]

log = logging.getLogger(__name__)

_REDIS_ERRORS = (rexc.RedisError, MemoryStoreError, OSError)
_TRIM_EVERY = 256
"""Stores between two trims of a robot's result index (expired ids, more than max_kept)."""


class CallResults:
    """Finished results by call id: in process (authoritative while the agent lives, it is
    the only writer for its robot) and in Redis with a TTL (for the next incarnation)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: AgentKeys,
        *,
        ttl_s: float,
        max_kept: int = 10_000,
    ) -> None:
        """`redis` is the memory's client (the same Redis and prefix); `keys` are the
        robot's own."""
        self._r = redis
        self._keys = keys
        self._index = keys.results
        self.ttl_s = ttl_s
        self.max_kept = max_kept
        self._results: dict[str, SkillResult] = {}
        self._stores = 0

    def get(self, call_id: str) -> SkillResult | None:
        return self._results.get(call_id)

    def remember(self, call_id: str, result: SkillResult) -> None:
        self._results[call_id] = result
        if len(self._results) > self.max_kept:  # dicts keep insertion order: drop the oldest
            del self._results[next(iter(self._results))]

    async def load(self) -> int:
        """Read the results a previous incarnation stored; returns how many."""
        now = time.time()
        pipe = self._r.pipeline(transaction=False)
        pipe.zremrangebyscore(self._index, "-inf", now - self.ttl_s)
        pipe.zrange(self._index, -self.max_kept, -1)
        _, ids = await pipe.execute()
        if not ids:
            return 0
        values = await self._r.mget([self._keys.result(i) for i in ids])
        for call_id, raw in zip(ids, values, strict=True):
            if raw is not None:
                self._results[call_id] = SkillResult.model_validate_json(raw)
        return len(self._results)

    async def store(self, call_id: str, result: SkillResult) -> None:
        ttl = max(1, round(self.ttl_s))
        now = time.time()
        pipe = self._r.pipeline(transaction=False)
        pipe.set(self._keys.result(call_id), result.model_dump_json(), ex=ttl)
        pipe.zadd(self._index, {call_id: now})
        self._stores += 1
        if self._stores % _TRIM_EVERY == 1:  # the index's own upkeep, not every call's
            pipe.zremrangebyscore(self._index, "-inf", now - self.ttl_s)
            pipe.zremrangebyrank(self._index, 0, -self.max_kept - 1)
            pipe.expire(self._index, ttl)
        await pipe.execute()


Job = Callable[[], Awaitable[Any]]
FieldsWriter = Callable[[dict[str, Any]], Awaitable[Any]]


class StatusWriter:
    """Runs memory writes one after another in a background task, in submission order,
    after a short batching window (a skill starts, and its result goes back, before its
    robot's `busy` is written). Robot-record updates queued back to back merge into one
    write (later fields win), and one that changes nothing this writer wrote last is
    dropped: a state that lasted less than the window (a skill that finished before its
    `busy` was written, 50 progress reports) is not replayed.
    Failures are logged, never raised: a Redis hiccup must not fail the skill that is
    moving the robot."""

    def __init__(
        self,
        name: str,
        write_fields: FieldsWriter,
        *,
        batch_window_s: float = 0.002,
        written: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self._write_fields = write_fields
        self.batch_window_s = batch_window_s
        self._written: dict[str, Any] = dict(written or {})
        """The record's fields as this writer last wrote them: an update that would
        write the same values again (busy and back to idle within one window) is dropped."""
        self._jobs: deque[Job | dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"status-writer:{self.name}")

    def update(self, **fields: Any) -> None:
        """Queue an update of the robot's record."""
        if self._jobs and isinstance(self._jobs[-1], dict):
            self._jobs[-1].update(fields)
        else:
            self._jobs.append(dict(fields))
        self._kick()

    def submit(self, job: Job) -> None:
        """Queue any other write."""
        self._jobs.append(job)
        self._kick()

    def _kick(self) -> None:
        self._idle.clear()
        if self._timer is None and not self._wake.is_set():
            # a batching window, not a wait for anything: the writer wakes after it, so
            # what queued the write (a skill's first step, a reply on its way to the
            # brain) goes first, and the updates of a call that ends within it merge
            self._timer = asyncio.get_running_loop().call_later(self.batch_window_s, self._ring)

    def _ring(self) -> None:
        self._timer = None
        self._wake.set()

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every queued write is done (or `timeout_s` passed)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._jobs:
                job = self._jobs.popleft()
                try:
                    if isinstance(job, dict):
                        await self._write_changed(job)
                    else:
                        await job()
                except _REDIS_ERRORS as e:
                    log.warning("%s: memory write failed: %s", self.name, e)
                except Exception:  # a bug in a write must not stop the writes after it
                    log.exception("%s: memory write raised", self.name)
            self._idle.set()

    async def _write_changed(self, fields: dict[str, Any]) -> None:
        if all(k in self._written and self._written[k] == v for k, v in fields.items()):
            return
        await self._write_fields(fields)
        self._written.update(fields)

    async def close(self, timeout_s: float = 10.0) -> None:
        if self._timer is not None:  # write what is queued now
            self._timer.cancel()
            self._ring()
        await self.flush(timeout_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@dataclass
class CallRun:
    """One call the agent holds: its cancel token and the future its awaiters share."""

    call: SkillCall
    token: CancelToken
    done: asyncio.Future[SkillResult]
    concurrent: bool = False
    started: bool = False


@dataclass
class Tombstones:
    """Call ids cancelled before they arrived (a cancel can overtake its run)."""

    size: int = 1024
    ids: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def add(self, call_id: str, reason: str) -> None:
        self.ids[call_id] = reason
        while len(self.ids) > self.size:
            self.ids.popitem(last=False)


def stamped(result: SkillResult, started: float) -> SkillResult:
    """`result` with start/finish times, unless the skill set them."""
    if result.started_at is not None:
        return result
    return result.model_copy(update={"started_at": started, "finished_at": time.time()})


async def driver_place(robot: Robot) -> str | None:
    """Where the driver says the robot is: a `place` attribute, else its base's place."""
    place = getattr(robot, "place", None)
    if isinstance(place, str):
        return place
    base = parts_of(robot).base
    if base is not None:
        try:
            return await base.place()
        except Exception as e:  # a driver that cannot tell yet: the skills will update it
            log.warning("robot %s: cannot read its place: %s", robot.id, e)
    return None


async def driver_slot(robot: Robot) -> int | None:
    """Which docking slot the driver says its base is docked at (a `DockingBase`)."""
    base = parts_of(robot).base
    if isinstance(base, DockingBase):
        try:
            return await base.slot()
        except Exception as e:  # as for the place: the navigation skills will write it
            log.warning("robot %s: cannot read its slot: %s", robot.id, e)
    return None


def driver_reach(robot: Robot) -> tuple[str, ...]:
    """Places the driver says the robot reaches without moving (a `reach` attribute)."""
    reach = getattr(robot, "reach", ())
    return tuple(reach) if isinstance(reach, list | tuple) else ()


async def acquire_within(lock: asyncio.Lock, token: CancelToken, deadline: float) -> bool:
    """Take `lock` (FIFO), unless `token` is cancelled or `deadline` (monotonic) passes
    first; True when it is held."""
    if not lock.locked() and not token.cancelled:
        await lock.acquire()  # free: returns at once
        return True
    waiter = asyncio.ensure_future(lock.acquire())
    stop = asyncio.ensure_future(token.wait())
    try:
        await asyncio.wait(
            {waiter, stop},
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        stop.cancel()
    if waiter.done() and not waiter.cancelled() and not token.cancelled:
        return True
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    if waiter.done() and not waiter.cancelled():
        lock.release()  # it got the lock in the same instant it was given up
    return False


async def heartbeat_until(
    memory: Memory, robot_id: str, interval_s: float, halt: asyncio.Event
) -> None:
    """Heartbeat on a fixed cadence until `halt` is set (a Redis error skips one beat).
    `halt`, not cancel(), ends it: redis-py 8 may swallow a cancel that lands while a
    command is in flight."""
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not halt.is_set():
        try:
            await memory.heartbeat(robot_id)
        except Exception as e:  # Redis away for a moment: the next beat tries again
            log.warning("agent %s: heartbeat failed: %s", robot_id, e)
        next_at += interval_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(halt.wait(), max(0.0, next_at - loop.time()))


class HeartbeatBatch:
    """One heartbeat loop for many robots' agents in one process (an agent host): every
    `interval_s`, one round trip beats for every robot added (`Memory.heartbeats`), as
    each agent's own loop would. An agent adds its robot once started and discards it
    when it stops; a Redis error skips one beat for all of them."""

    def __init__(self, memory: Memory, interval_s: float) -> None:
        self.memory = memory
        self.interval_s = interval_s
        self._robots: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._halt = asyncio.Event()

    @property
    def robots(self) -> frozenset[str]:
        return frozenset(self._robots)

    async def add(self, robot_id: str) -> None:
        """Beat for this robot from now on (the first beat at once)."""
        self._robots.add(robot_id)
        if self._task is None or self._task.done():
            self._halt.clear()
            self._task = asyncio.create_task(self._run(), name="heartbeats")
        try:
            await self.memory.heartbeats([robot_id])
        except Exception as e:  # the loop's next beat tries again
            log.warning("agent %s: heartbeat failed: %s", robot_id, e)

    def discard(self, robot_id: str) -> None:
        self._robots.discard(robot_id)

    async def close(self) -> None:
        self._halt.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), self.interval_s * 2)
            self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.interval_s
        while not self._halt.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), max(0.0, next_at - loop.time()))
            if self._halt.is_set():
                return
            next_at += self.interval_s
            robots = sorted(self._robots)
            if not robots:
                continue
            try:
                await self.memory.heartbeats(robots)
            except Exception as e:  # Redis away for a moment: the next beat tries again
                log.warning("heartbeats of %d robots failed: %s", len(robots), e)
