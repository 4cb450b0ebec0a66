"""Admission control: how many tasks one brain runs at once (`scheduler.max_active_tasks`).

A submission takes a slot before its task is stored and the slot is given back when the
task's runner ends (terminal, or handed to the reconciler). Over the limit a submission
waits, first come first served, up to `admission_wait_s` with at most `admission_queue`
others; otherwise it is refused with OverloadedError (the REST layer's 429 with
`Retry-After`). Tasks the brain resumes or adopts take a slot without asking: they were
accepted once and are never refused (they may take the count over the limit for a while).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque

from ...errors import OverloadedError

__all__ = ["REFUSAL_REASONS", "Admission"]

log = logging.getLogger(__name__)

LIMIT_NAME = "scheduler.max_active_tasks"
FULL = "full"
WAIT_TIMEOUT = "wait_timeout"
REFUSAL_REASONS = (FULL, WAIT_TIMEOUT)
"""Why a submission is refused (the metric's `reason` label)."""


class Admission:
    """Slots for active tasks. `limit` None: every submission is admitted."""

    def __init__(
        self,
        limit: int | None,
        *,
        wait_s: float = 0.0,
        queue: int = 0,
        retry_after_s: int = 2,
    ) -> None:
        self.limit = limit
        self.wait_s = wait_s
        self.queue = queue
        self.retry_after_s = retry_after_s
        self.held = 0
        """Slots in use: active tasks, and submissions being stored."""
        self.refused = 0
        """Submissions refused since start (the metrics' figure)."""
        self.refused_by: Counter[str] = Counter()
        """The same, by reason: `full` (no room to wait: waiting is off or the queue is
        full) or `wait_timeout` (waited `wait_s` for a slot); `GET /metrics`."""
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._queued = asyncio.Event()

    @property
    def waiting(self) -> int:
        """Submissions waiting for a slot now."""
        return sum(1 for w in self._waiters if not w.done())

    async def until_waiting(self, n: int, timeout_s: float) -> None:
        """Return once `n` submissions wait for a slot (TimeoutError after `timeout_s`)."""
        async with asyncio.timeout(timeout_s):
            while self.waiting < n:
                self._queued.clear()
                await self._queued.wait()

    async def acquire(self) -> None:
        """Take a slot, waiting for one if the settings allow; OverloadedError if none."""
        if self.limit is None or (self.held < self.limit and not self._waiters):
            self.held += 1
            return
        if self.wait_s <= 0 or self.waiting >= self.queue:
            self._refuse(FULL)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._queued.set()
        try:
            # the slot is handed over by `release` (held stays the same)
            await asyncio.wait_for(asyncio.shield(waiter), self.wait_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # handed over just as the wait ended: ours
            waiter.cancel()
            self._refuse(WAIT_TIMEOUT)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over, but the caller is gone: pass it on
            waiter.cancel()
            raise
        finally:
            if waiter in self._waiters and waiter.done():
                self._waiters.remove(waiter)

    def take(self) -> None:
        """Take a slot without asking (a resumed or adopted task)."""
        self.held += 1

    def release(self) -> None:
        """Give a slot back: to the longest waiting submission, else to the pool."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.held = max(0, self.held - 1)

    def _refuse(self, reason: str) -> None:
        self.refused += 1
        self.refused_by[reason] += 1
        assert self.limit is not None
        raise OverloadedError(
            f"the brain runs {self.held} tasks, its limit ({LIMIT_NAME} = {self.limit});"
            f" retry after {self.retry_after_s} s",
            limit=LIMIT_NAME,
            value=self.limit,
            retry_after_s=self.retry_after_s,
        )
