"""A task's events as Server-Sent Events: the stored backlog after a cursor, then new
events as they are appended (blocking stream reads), until the task's terminal event.

Each event is sent as

    id: <stream cursor>
    event: <kind>
    data: <TaskEvent JSON>

so a client that reconnects with `Last-Event-ID` (or `?cursor=`) gets exactly what it
missed. A comment line goes out every `keepalive_s` while nothing happens.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from ...contracts import TERMINAL_TASK_STATUSES, TaskEvent
from ...errors import NotFoundError, UserError
from ..runtime.store import TERMINAL_EVENT_KINDS, TaskStore

__all__ = ["format_sse", "parse_cursor", "task_event_stream"]

_CURSOR = re.compile(r"^\d+(-\d+)?$")


def parse_cursor(raw: str | None) -> str:
    """A stream cursor from a client ("0" or empty: from the start)."""
    if raw is None or raw.strip() in ("", "0"):
        return "0-0"
    raw = raw.strip()
    if not _CURSOR.match(raw):
        raise UserError(f"invalid cursor {raw!r}: expected an event id like 1712345678901-0")
    return raw if "-" in raw else f"{raw}-0"


def format_sse(event: TaskEvent) -> bytes:
    frame = f"id: {event.cursor}\nevent: {event.kind.value}\ndata: {event.model_dump_json()}\n\n"
    return frame.encode()


async def task_event_stream(
    store: TaskStore, task_id: str, after: str, *, keepalive_s: float = 15.0
) -> AsyncIterator[bytes]:
    cursor = after
    while True:  # the backlog, page by page
        page = await store.events(task_id, after=cursor, count=500)
        for event in page:
            cursor = event.cursor or cursor
            yield format_sse(event)
            if event.kind in TERMINAL_EVENT_KINDS:
                return
        if len(page) < 500:
            break
    try:
        task = await store.get(task_id)
    except NotFoundError:
        return
    if task.status in TERMINAL_TASK_STATUSES:
        return  # the client already has the terminal event
    while True:
        events = await store.read_events(task_id, cursor, block_s=keepalive_s)
        if not events:
            yield b": keepalive\n\n"
            continue
        for event in events:
            cursor = event.cursor or cursor
            yield format_sse(event)
            if event.kind in TERMINAL_EVENT_KINDS:
                return
