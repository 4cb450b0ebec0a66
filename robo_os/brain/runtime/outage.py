"""Redis outages as the brain's runtime sees them: which errors mean "Redis is gone"
(not "this task is wrong"), and waiting, with a bounded back-off, until it answers again.

A runner that meets an outage stops its state machine, waits here and resumes the task
from its stored record (executor.py); one whose wait runs out leaves the task to the
scheduler's reconciler (docs/reliability.md, "Redis outage").
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from robo_os_memory.errors import StoreUnavailableError

from ...errors import ServiceUnavailableError

if TYPE_CHECKING:
    from .store import TaskStore

__all__ = ["FIRST_PAUSE_S", "MAX_PAUSE_S", "is_store_outage", "wait_for_store"]

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 1.0
"""Back-off between two probes of an unreachable Redis: doubling from the first to the
cap, so a restart is noticed within about a second and a long outage costs one PING a
second per waiting runner."""


def is_store_outage(exc: BaseException) -> bool:
    """Whether `exc` says Redis (the task store or the memory) cannot be reached."""
    return isinstance(
        exc,
        ServiceUnavailableError | StoreUnavailableError | RedisConnectionError | RedisTimeoutError,
    )


async def wait_for_store(store: TaskStore, deadline_s: float) -> bool:
    """Probe Redis until it answers (True) or `deadline_s` has passed (False)."""
    end = time.monotonic() + deadline_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            await store.ping()
        except ServiceUnavailableError as e:
            left = end - time.monotonic()
            if left <= 0:
                log.warning("Redis still unreachable after %.1f s: %s", deadline_s, e)
                return False
            # a back-off between probes of a service that is down, not a synchronisation
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, MAX_PAUSE_S)
            continue
        return True
