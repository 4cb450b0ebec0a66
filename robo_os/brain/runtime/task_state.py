"""A running task's state as one runner sees it: the latest stored Task and TaskMeta,
written only through versioned store updates that also append the task's events, and
whether a cancel was requested."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ... import tracing
from ...contracts import (
    TERMINAL_TASK_STATUSES,
    ObjectEnd,
    PlanProblem,
    SubtaskState,
    SubtaskStatus,
    Task,
    TaskError,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from ...symbolic.goal import Goal
from ..planning.interface import FailedCall
from .claims import ObjectClaims
from .policy import TaskView, repeated_failure
from .store import TaskMeta

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from ...agent_protocol import Dispatcher
    from ...settings import SchedulerSettings
    from ..planning.interface import FleetWork, Planner
    from .allocation import Allocator, SkillTimeouts
    from .estop import EStop
    from .lanes import RobotLanes
    from .store import TaskStore

__all__ = ["RunnerDeps", "TaskState"]

T = TypeVar("T")


async def _nothing(robot: str, reason: str) -> None:
    return None


def _no_work(task_id: str, priority: int) -> FleetWork | None:
    return None


@dataclass
class RunnerDeps:
    store: TaskStore
    dispatcher: Dispatcher
    planner: Planner
    lanes: RobotLanes
    allocator: Allocator
    timeouts: SkillTimeouts
    settings: SchedulerSettings
    cancel_grace_s: float = 2.0
    on_robot_unavailable: Callable[[str, str], Awaitable[None]] = _nothing
    memory: Memory | None = None
    """Where the runner reads object names and skill specs for claims (None: no claims)."""
    claims: ObjectClaims = field(default_factory=ObjectClaims)
    estop: EStop | None = None
    """The emergency stop every runner obeys (None: none, nothing is ever stopped)."""
    fleet_work: Callable[[str, int], FleetWork | None] = _no_work
    """The other tasks' open work as a task (id, priority) meets it, for planning it
    (`Scheduler.fleet_work`; None: the planner treats every robot as free)."""


class TaskState:
    def __init__(self, deps: RunnerDeps, task: Task, meta: TaskMeta) -> None:
        self.d = deps
        self.task = task
        self.meta = meta
        self.cancel_reason: str | None = None
        self._cancelled = asyncio.Event()
        self._write_lock = asyncio.Lock()

    def request_cancel(self, reason: str) -> bool:
        """Record a cancel request; False when one was made before (the first reason stays)."""
        if self.cancel_reason is not None:
            return False
        self.cancel_reason = reason
        self._cancelled.set()
        return True

    async def until_cancelled(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Await `work` unless the task is cancelled first (then None)."""
        job = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._cancelled.wait())
        try:
            await asyncio.wait({job, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not job.done():
                job.cancel()
                with contextlib.suppress(BaseException):
                    await job
        return None if job.cancelled() else job.result()

    def view(self) -> TaskView:
        """What the correction policy may know of this task now."""
        s = self.d.settings
        return TaskView(
            replans=self.task.replans,
            max_replans=s.max_replans,
            max_attempts=s.max_attempts,
            retry_backoff_s=s.retry_backoff_s,
            cancelled=self.cancel_reason is not None,
            infrastructure_retries=s.infrastructure_retries,
            repeated=repeated_failure(self.failed_calls(), s.max_identical_failures),
        )

    def robot_stopped(self, robot: str) -> bool:
        """Whether the emergency stop (global, or the robot's own) keeps `robot` still."""
        return self.d.estop is not None and self.d.estop.stopped(robot)

    def allows(self, robot: str) -> bool:
        """Whether the task's goal lets `robot` act (its `use` and `avoid`)."""
        goal = Goal.from_json(self.meta.goal) if self.meta.goal is not None else None
        return goal is None or goal.allows(robot)

    def failed_calls(self) -> list[FailedCall]:
        """The calls that failed in this task so far (replans avoid them)."""
        return [FailedCall(**c) for c in self.meta.failed_calls]

    async def update(
        self, mutate: Callable[[Task, TaskMeta], tuple[Task, list[TaskEvent]] | None]
    ) -> None:
        async with self._write_lock:
            self.task, self.meta = await self.d.store.update(
                self.task.id, mutate, current=(self.task, self.meta)
            )

    async def set_subtask(self, sub_id: str, event: TaskEvent | None, **fields: Any) -> None:
        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            subs = [s.model_copy(update=fields) if s.id == sub_id else s for s in task.subtasks]
            return task.model_copy(update={"subtasks": subs}), [event] if event else []

        await self.update(mutate)

    def event(
        self,
        kind: TaskEventKind,
        message: str = "",
        *,
        subtask: str | None = None,
        robot: str | None = None,
        **data: Any,
    ) -> TaskEvent:
        return TaskEvent(
            task_id=self.task.id,
            kind=kind,
            subtask=subtask,
            robot=robot,
            message=message,
            data=data,
        )

    def sub(self, sub_id: str) -> SubtaskState:
        return next(s for s in self.task.subtasks if s.id == sub_id)

    def all_done(self) -> bool:
        return all(
            s.status in (SubtaskStatus.succeeded, SubtaskStatus.skipped)
            or (s.status == SubtaskStatus.failed and s.id in self.meta.resolved_failures)
            for s in self.task.subtasks
        )

    def stuck_reason(self) -> str:
        by_id = {s.id: s for s in self.task.subtasks}
        waiting = [s.id for s in self.task.subtasks if s.status == SubtaskStatus.awaiting_approval]
        if waiting:
            return f"subtask {', '.join(waiting)} awaits approval"
        for s in self.task.subtasks:
            if s.status == SubtaskStatus.pending:
                bad = [
                    d
                    for d in s.depends_on
                    if d not in by_id or by_id[d].status != SubtaskStatus.succeeded
                ]
                return (
                    f"subtask {s.id} cannot run: its dependencies {', '.join(bad)} did not succeed"
                )
        return "no subtask can run"

    async def finish(
        self,
        status: TaskStatus,
        message: str,
        problems: list[PlanProblem] | None = None,
        *,
        objects: list[ObjectEnd] | None = None,
    ) -> None:
        """End the task (once). `objects`: where the objects it touched ended."""
        open_to = (
            SubtaskStatus.cancelled if status == TaskStatus.cancelled else SubtaskStatus.skipped
        )

        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            if task.status in TERMINAL_TASK_STATUSES:
                return None
            meta.claims = []  # an ended task claims nothing (the runner releases them)
            subs = [
                s.model_copy(update={"status": SubtaskStatus.skipped})
                if s.status in (SubtaskStatus.pending, SubtaskStatus.awaiting_approval)
                else s.model_copy(update={"status": open_to})
                if s.status == SubtaskStatus.running
                else s
                for s in task.subtasks
            ]
            error = (
                TaskError(message=message, problems=problems or [])
                if status == TaskStatus.failed
                else None
            )
            kind = {
                TaskStatus.succeeded: TaskEventKind.succeeded,
                TaskStatus.failed: TaskEventKind.failed,
            }.get(status, TaskEventKind.cancelled)
            ev = self.event(
                kind,
                message,
                status=status.value,
                duration_s=round(time.time() - task.created_at, 3),
                replans=task.replans,
                model_calls=task.model_calls,
            )
            update: dict[str, Any] = {
                "status": status,
                "subtasks": subs,
                "error": error,
                "waiting_for": [],
            }
            if objects is not None:
                update["objects"] = objects
            return task.model_copy(update=update), [ev]

        await self.update(mutate)
        tracing.task_ended(self.task.id, status.value, message)
