"""Robot liveness, as the scheduler needs it: the memory's change feed for robots, read
with blocking reads, turned into "robot went away" / "robot is back" calls.

Optionally it also runs the memory's liveness watcher (which marks robots whose
heartbeat expired offline and emits the `offline` change this monitor reacts to).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import TimeoutError as RedisTimeoutError
from robo_os_memory.models import Change, EntityKind, RobotStatusValue

from .tasks_util import cancel_and_wait

if TYPE_CHECKING:
    from robo_os_memory import Memory

__all__ = ["RobotMonitor"]

log = logging.getLogger(__name__)

_GONE = {RobotStatusValue.offline.value, RobotStatusValue.stopped.value}
_LIVE = {RobotStatusValue.idle.value, RobotStatusValue.busy.value}
_PROGRESS = {"progress", "activity"}


class RobotMonitor:
    def __init__(
        self,
        memory: Memory,
        *,
        on_offline: Callable[[str, str], None],
        on_online: Callable[[str, bool], None],
        on_progress: Callable[[str, dict[str, object]], None] | None = None,
        watch_liveness: bool = False,
        max_backoff_s: float = 5.0,
        own_writer: str | None = None,
    ) -> None:
        """`on_offline(robot, reason)`; `on_online(robot, registered)` where
        `registered` is True when the robot (re-)registered (its skills may differ);
        `on_progress(robot, fields)` when an agent reports progress/activity.
        `own_writer`: the `by` of this brain's own writes; an offline it wrote itself
        was already acted on (with the real reason) and is not reported again."""
        self.memory = memory
        self.on_offline = on_offline
        self.on_online = on_online
        self.on_progress = on_progress
        self.watch_liveness = watch_liveness
        self.max_backoff_s = max_backoff_s
        self.own_writer = own_writer
        self._jobs: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()
        """Set once the change feed is being read (tests wait on it)."""

    def start(self) -> None:
        self._jobs.append(asyncio.create_task(self._follow(), name="robo-os-robot-monitor"))
        if self.watch_liveness:
            self._jobs.append(
                asyncio.create_task(self.memory.watch_liveness(), name="robo-os-liveness")
            )

    async def close(self) -> None:
        await cancel_and_wait(self._jobs)
        self._jobs.clear()

    async def _follow(self) -> None:
        cursor = await self._start_cursor()
        backoff = 0.1
        while True:
            try:
                feed = self.memory.subscribe(kinds=[EntityKind.robot], cursor=cursor)
                self.ready.set()
                async for change in feed:
                    cursor = change.cursor
                    backoff = 0.1
                    self._handle(change)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A cancel that the client library turned into a connection error
                    # (redis-py closes the socket on cancellation) must still stop us.
                    raise asyncio.CancelledError from e
                if isinstance(e, RedisTimeoutError):
                    # An idle blocking read outlived the client's socket timeout.
                    log.debug("robot monitor: idle read timed out; resubscribing at %s", cursor)
                    continue
                log.warning("robot monitor: change feed failed (%s); retrying in %.1fs", e, backoff)
                # A pause before reconnecting (Redis restarting), not a wait for an event.
                await asyncio.sleep(backoff)
                backoff = min(self.max_backoff_s, backoff * 2)

    async def _start_cursor(self) -> str:
        latest = getattr(self.memory, "latest_cursor", None)
        if latest is None:
            return "$"
        try:
            return str(await latest())
        except Exception as e:  # fall back to "from now on"
            log.warning("robot monitor: cannot read the latest cursor: %s", e)
            return "$"

    def _handle(self, change: Change) -> None:
        status = change.fields.get("status")
        try:
            if (
                change.op in ("update", "upsert")
                and status in _GONE
                and change.by == self.own_writer
            ):
                pass  # this brain marked it offline itself and already moved its work
            elif change.op in ("offline", "delete") or (
                change.op in ("update", "upsert") and status in _GONE
            ):
                reason = (
                    "heartbeat expired"
                    if change.op == "offline"
                    else f"{change.op} by {change.by or '?'}: status {status}"
                )
                self.on_offline(change.name, reason)
            elif change.op in ("online", "upsert") or (change.op == "update" and status in _LIVE):
                self.on_online(change.name, change.op == "upsert")
            if (
                change.op == "update"
                and self.on_progress is not None
                and _PROGRESS & change.fields.keys()
            ):
                self.on_progress(change.name, dict(change.fields))
        except Exception:  # one bad handler call must not stop the feed
            log.exception("robot monitor: handling %s %s failed", change.op, change.name)
