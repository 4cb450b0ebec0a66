"""The deadline of one call to Redis, and the pool that keeps waiting for a connection
out of it.

    async with call_deadline(5.0):      # what every Memory call runs under
        await client.get(key)

A call's deadline says how long Redis may take to answer (StoreUnavailableError after
it). Waiting for a free pooled connection is not Redis being slow: `QueueingPool` (a
bounded redis-py `BlockingConnectionPool`) stops the clocks of the deadlines around it
while it waits, and bounds that wait by its own `timeout` instead. So a burst of callers
queues for connections (docs/reliability.md, "Back-pressure") without any of them
timing out as if Redis were gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import redis.asyncio as aioredis

__all__ = ["QueueingPool", "call_deadline"]

_deadlines: ContextVar[tuple[asyncio.Timeout, ...]] = ContextVar(
    "robo_os_memory_deadlines", default=()
)


@asynccontextmanager
async def call_deadline(timeout_s: float | None) -> AsyncIterator[None]:
    """`asyncio.timeout(timeout_s)` that a `QueueingPool` pauses while it waits."""
    async with asyncio.timeout(timeout_s) as deadline:
        token = _deadlines.set((*_deadlines.get(), deadline))
        try:
            yield
        finally:
            _deadlines.reset(token)


class QueueingPool(aioredis.BlockingConnectionPool):
    """A bounded pool whose callers wait (up to `timeout`) for a connection; the wait
    does not count against their `call_deadline`s."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        running = [d for d in _deadlines.get() if not d.expired()]
        paused = [(d, d.when()) for d in running if d.when() is not None]
        if not paused:
            return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for deadline, _ in paused:
            deadline.reschedule(None)
        try:
            return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            waited = loop.time() - started
            for deadline, when in paused:
                assert when is not None
                deadline.reschedule(when + waited)
