"""Per-robot lanes: each robot runs one subtask at a time, across all tasks.

A lane grants its robot to the waiting subtask with the highest task priority, first
come first served among equals. A task may *claim* a lane for a run of its subtasks that
must not be interleaved (docs/execution.md, "How tasks share the fleet"): while the
claim lasts, only that task's subtasks are granted the robot; other tasks' subtasks wait
in the lane until the task releases it (`release_claims`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ...errors import RobotUnavailableError

__all__ = ["LaneClosed", "RobotLanes", "task_of"]


class LaneClosed(RobotUnavailableError):
    """The robot went away while the subtask waited for it."""


def task_of(owner: str) -> str:
    """The task id of a lane owner (a call id `task/subtask/attempt`)."""
    return owner.split("/", 1)[0]


@dataclass(eq=False)
class _Waiter:
    owner: str
    priority: int
    seq: int
    fut: asyncio.Future[None]
    claim: bool

    @property
    def task(self) -> str:
        return task_of(self.owner)


@dataclass
class _Lane:
    holder: str | None = None
    holder_token: asyncio.Future[None] | None = None
    claimed_by: str | None = None
    """The task whose run keeps the robot between its subtasks."""
    waiters: list[_Waiter] = field(default_factory=list)

    def grant(self) -> None:
        while self.holder_token is None:
            eligible = [
                w for w in self.waiters if not w.fut.done() and self.claimed_by in (None, w.task)
            ]
            self.waiters = [w for w in self.waiters if not w.fut.done()]
            if not eligible:
                return
            best = min(eligible, key=lambda w: (-w.priority, w.seq))
            self.waiters.remove(best)
            self.holder, self.holder_token = best.owner, best.fut
            if best.claim:
                # Set on grant, not on release: the robot is never free between the
                # subtasks of the run, not even for the instant after one ends.
                self.claimed_by = best.task
            best.fut.set_result(None)


class RobotLanes:
    """Mutual exclusion per robot, by priority then arrival. `fail(robot, reason)` wakes
    every waiter of a robot that went away with LaneClosed (its holder is stopped by its
    own dispatch)."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._watchers: list[tuple[str, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

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
    async def hold(
        self, robot: str, owner: str, *, priority: int = 0, claim: bool = False
    ) -> AsyncIterator[None]:
        """Hold the robot for `owner` (a call id). `claim`: the owner's task keeps the
        robot after this call, until it releases the claim."""
        lane = self._lanes.setdefault(robot, _Lane())
        token: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiters.append(_Waiter(owner, priority, next(self._seq), token, claim))
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
        else:
            lane.waiters = [w for w in lane.waiters if w.fut is not token]
        lane.grant()
        self._changed()

    def claim(self, robot: str, task_id: str) -> None:
        """Claim the robot for a task outright (a resumed task's run in progress)."""
        lane = self._lanes.setdefault(robot, _Lane())
        lane.claimed_by = task_id

    def release_claims(self, task_id: str, keep: Iterable[str] = ()) -> list[str]:
        """End the task's claims on every robot not in `keep`; returns those robots."""
        kept = set(keep)
        released = []
        for robot, lane in self._lanes.items():
            if lane.claimed_by == task_id and robot not in kept:
                lane.claimed_by = None
                released.append(robot)
                lane.grant()
        if released:
            self._changed()
        return released

    def claimed_by(self, robot: str) -> str | None:
        lane = self._lanes.get(robot)
        return lane.claimed_by if lane else None

    def claims(self) -> dict[str, str]:
        """robot -> the task claiming it."""
        return {r: lane.claimed_by for r, lane in self._lanes.items() if lane.claimed_by}

    def blocker(self, robot: str, task_id: str) -> str | None:
        """The other task that keeps the robot from `task_id` now: the one claiming it,
        else the one whose call runs on it; None when the robot is free or ours."""
        lane = self._lanes.get(robot)
        if lane is None:
            return None
        if lane.claimed_by not in (None, task_id):
            return lane.claimed_by
        if lane.holder is not None and task_of(lane.holder) != task_id:
            return task_of(lane.holder)
        return None

    def fail(self, robot: str, reason: str) -> None:
        lane = self._lanes.get(robot)
        if lane is None:
            return
        waiters, lane.waiters = lane.waiters, []
        for w in waiters:
            if not w.fut.done():
                w.fut.set_exception(
                    LaneClosed(f"robot {robot} went away while {w.owner} waited for it: {reason}")
                )

    def holder(self, robot: str) -> str | None:
        lane = self._lanes.get(robot)
        return lane.holder if lane else None

    def load(self, robot: str) -> int:
        """Subtasks running or queued on the robot."""
        lane = self._lanes.get(robot)
        if lane is None:
            return 0
        return (lane.holder is not None) + sum(1 for w in lane.waiters if not w.fut.done())

    def busy_for(self, robot: str, task_id: str | None) -> int:
        """The robot's load as a subtask of `task_id` would meet it: a claim by another
        task counts as one more subtask ahead."""
        other_claim = self.claimed_by(robot) not in (None, task_id)
        return self.load(robot) + (1 if other_claim else 0)
