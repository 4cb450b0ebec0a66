"""A task's events for Server-Sent Events: the stored backlog after a cursor, then new
events as they are appended (blocking stream reads), until the task's terminal event.

The route (`routes/tasks.py`) sends each event as

    event: <kind>
    data: <TaskEvent JSON>
    id: <stream cursor>

through FastAPI's `EventSourceResponse`, which also sends a comment line every 15 s while
nothing happens; a client that reconnects with `Last-Event-ID` (or `?cursor=`) gets exactly
what it missed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from ...contracts import TERMINAL_TASK_STATUSES, TaskEvent
from ...errors import NotFoundError, UserError
from ..runtime.store import TERMINAL_EVENT_KINDS, TaskStore

__all__ = ["parse_cursor", "task_event_stream"]

_CURSOR = re.compile(r"^\d+(-\d+)?$")


def parse_cursor(raw: str | None) -> str:
    """A stream cursor from a client ("0" or empty: from the start)."""
    if raw is None or raw.strip() in ("", "0"):
        return "0-0"
    raw = raw.strip()
    if not _CURSOR.match(raw) or any(int(part) >= 2**64 for part in raw.split("-")):
        # Redis stream ids are two unsigned 64-bit numbers; a larger one is refused here,
        # not by Redis halfway through a read
        raise UserError(
            f"invalid cursor {raw[:40]!r}: expected an event id like 1712345678901-0"
        )
    return raw if "-" in raw else f"{raw}-0"


async def task_event_stream(
    store: TaskStore, task_id: str, after: str, *, block_s: float = 15.0
) -> AsyncIterator[TaskEvent]:
    """The task's events after `after`, oldest first, ending with its terminal event (or at
    once if the task ended before `after`). Each live read blocks at most `block_s`."""
    cursor = after
    ended = False
    while True:  # the backlog, page by page
        page = await store.events(task_id, after=cursor, count=500)
        for event in page:
            cursor = event.cursor or cursor
            yield event
            if event.kind in TERMINAL_EVENT_KINDS:
                return
        if len(page) == 500:
            continue
        if ended:
            return  # the task ended at or before `after`: the client has its terminal event
        try:
            task = await store.get(task_id)
        except NotFoundError:
            return
        if task.status not in TERMINAL_TASK_STATUSES:
            break
        # It may have ended after the last page was read: a record and its events are
        # stored together, so one more pass reaches the terminal event.
        ended = True
    while True:
        for event in await store.read_events(task_id, cursor, block_s=block_s):
            cursor = event.cursor or cursor
            yield event
            if event.kind in TERMINAL_EVENT_KINDS:
                return
