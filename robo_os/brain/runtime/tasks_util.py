"""Stopping asyncio tasks for sure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait"]

log = logging.getLogger(__name__)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], *, timeout_s: float = 10.0, nudge_s: float = 0.5
) -> list[asyncio.Task[Any]]:
    """Cancel the tasks and wait until they end; returns those still running after
    `timeout_s` (logged). A task is cancelled again every `nudge_s` while it runs on:
    Python 3.11's `asyncio.wait_for` (used inside redis-py) can swallow a cancel that
    arrives just as the wrapped call completes, and the task then carries on."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    deadline = time.monotonic() + timeout_s
    while pending:
        for task in pending:
            task.cancel()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(nudge_s, remaining))
    for task in tasks:
        if task.done() and not task.cancelled():
            with contextlib.suppress(BaseException):
                task.result()  # retrieve it: no "exception never retrieved" noise
    for task in pending:
        log.warning("task %s did not stop within %.1fs", task.get_name(), timeout_s)
    return list(pending)
