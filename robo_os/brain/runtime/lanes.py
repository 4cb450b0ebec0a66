"""Per-robot lanes: each robot runs one subtask at a time, across all tasks, in the
order the subtasks became ready."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ...errors import RobotUnavailableError

__all__ = ["LaneClosed", "RobotLanes"]


class LaneClosed(RobotUnavailableError):
    """The robot went away while the subtask waited for it."""


@dataclass
class _Lane:
    holder: str | None = None
    holder_token: asyncio.Future[None] | None = None
    waiters: deque[tuple[str, asyncio.Future[None]]] = field(default_factory=deque)

    def grant(self) -> None:
        while self.holder_token is None and self.waiters:
            owner, fut = self.waiters.popleft()
            if not fut.done():
                self.holder, self.holder_token = owner, fut
                fut.set_result(None)


class RobotLanes:
    """FIFO mutual exclusion per robot. `fail(robot, reason)` wakes every waiter of a
    robot that went away with LaneClosed (its holder is stopped by its own dispatch)."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._watchers: list[tuple[str, int, asyncio.Future[None]]] = []

    def _changed(self) -> None:
        keep = []
        for robot, n, fut in self._watchers:
            if fut.done():
                continue
            if self.load(robot) >= n:
                fut.set_result(None)
            else:
                keep.append((robot, n, fut))
        self._watchers = keep

    async def wait_load(self, robot: str, at_least: int) -> None:
        """Return once `at_least` subtasks run or wait on the robot (for tests and tools)."""
        if self.load(robot) >= at_least:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.append((robot, at_least, fut))
        await fut

    @asynccontextmanager
    async def hold(self, robot: str, owner: str) -> AsyncIterator[None]:
        lane = self._lanes.setdefault(robot, _Lane())
        token: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiters.append((owner, token))
        lane.grant()
        self._changed()
        try:
            await token
        except BaseException:
            self._drop(lane, token)
            raise
        try:
            yield
        finally:
            self._drop(lane, token)

    def _drop(self, lane: _Lane, token: asyncio.Future[None]) -> None:
        if lane.holder_token is token:
            lane.holder, lane.holder_token = None, None
            lane.grant()
        else:
            lane.waiters = deque((o, f) for o, f in lane.waiters if f is not token)
        self._changed()

    def fail(self, robot: str, reason: str) -> None:
        lane = self._lanes.get(robot)
        if lane is None:
            return
        waiters, lane.waiters = lane.waiters, deque()
        for owner, fut in waiters:
            if not fut.done():
                fut.set_exception(
                    LaneClosed(f"robot {robot} went away while {owner} waited for it: {reason}")
                )

    def holder(self, robot: str) -> str | None:
        lane = self._lanes.get(robot)
        return lane.holder if lane else None

    def load(self, robot: str) -> int:
        """Subtasks running or queued on the robot."""
        lane = self._lanes.get(robot)
        if lane is None:
            return 0
        return (lane.holder is not None) + sum(1 for _, f in lane.waiters if not f.done())
