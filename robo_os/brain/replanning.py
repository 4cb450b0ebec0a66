"""Planning and replanning of one task: the part of `TaskRunner` that talks to the Planner
and adopts (or refuses) what it returns."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ..contracts import (
    PlanProblem,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from .interfaces import PlanningOutcome
from .plan_ops import states_from_plan, structural_problems
from .store import TaskMeta

if TYPE_CHECKING:
    from .executor import RunnerDeps

__all__ = ["Replanning"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Replanning:
    """Mixed into TaskRunner; relies on its state and helpers."""

    d: RunnerDeps
    task: Task
    meta: TaskMeta
    failures: list[str]
    not_before: dict[str, float]
    cancel_reason: str | None

    async def _update(
        self, mutate: Callable[[Task, TaskMeta], tuple[Task, list[TaskEvent]] | None]
    ) -> None: ...
    def _event(
        self,
        kind: TaskEventKind,
        message: str = "",
        *,
        subtask: str | None = None,
        robot: str | None = None,
        **data: Any,
    ) -> TaskEvent: ...
    async def _finish(
        self, status: TaskStatus, message: str, problems: list[PlanProblem] | None = None
    ) -> None: ...
    async def _interruptible(self, work: Coroutine[Any, Any, T]) -> T | None: ...

    async def plan_task(self) -> bool:
        """Plan the instruction; True when there is a plan to run."""
        instruction = self.task.instruction
        if not instruction:
            await self._finish(TaskStatus.failed, "the task has neither an instruction nor a plan")
            return False
        await self._update(
            lambda t, m: (
                t.model_copy(update={"status": TaskStatus.planning}),
                [self._event(TaskEventKind.planning, instruction)],
            )
        )
        t0 = time.monotonic()
        try:
            outcome = await self._interruptible(self.d.planner.plan(self.task.id, instruction))
        except Exception as e:  # a planner bug fails this task only
            log.exception("task %s: planner raised", self.task.id)
            await self._finish(TaskStatus.failed, f"the planner failed: {type(e).__name__}: {e}")
            return False
        if outcome is None:
            await self._finish(TaskStatus.cancelled, self.cancel_reason or "cancelled")
            return False
        return await self._adopt(outcome, time.monotonic() - t0, failure=None)

    async def replan_task(self) -> bool:
        """Replace the rest of the task after permanent failures; True to go on."""
        failure = "; ".join(self.failures)
        limit = self.d.settings.max_replans
        if self.task.replans >= limit:
            await self._finish(
                TaskStatus.failed, f"{failure} (no replans left: max_replans={limit})"
            )
            return False
        await self._update(
            lambda t, m: (
                t,
                [
                    self._event(
                        TaskEventKind.planning, f"replanning after: {failure}", replan=t.replans + 1
                    )
                ],
            )
        )
        t0 = time.monotonic()
        try:
            outcome = await self._interruptible(
                self.d.planner.replan(
                    self.task.id,
                    self.task.instruction,
                    self.meta.goal,
                    list(self.task.subtasks),
                    failure,
                )
            )
        except Exception as e:
            log.exception("task %s: planner raised while replanning", self.task.id)
            await self._finish(
                TaskStatus.failed, f"{failure}; replanning failed: {type(e).__name__}: {e}"
            )
            return False
        if outcome is None:
            await self._finish(TaskStatus.cancelled, self.cancel_reason or "cancelled")
            return False
        return await self._adopt(outcome, time.monotonic() - t0, failure=failure)

    async def _adopt(self, outcome: PlanningOutcome, took: float, *, failure: str | None) -> bool:
        plan = outcome.plan
        calls = outcome.model_calls
        prefix = f"{failure}; replanning" if failure else "planning"
        if plan is None or plan.error:
            problems = list(outcome.problems)
            reason = (plan.error if plan is not None else None) or outcome.message or "no plan"
            if (
                plan is not None
                and plan.error
                and not any(p.code == "infeasible" for p in problems)
            ):
                problems.append(PlanProblem(code="infeasible", message=plan.error))
            await self._reject(f"{prefix} failed: {reason}", problems, calls)
            return False
        existing = {s.id for s in self.task.subtasks}
        failed_ids = [s.id for s in self.task.subtasks if s.status == SubtaskStatus.failed]
        if not plan.subtasks:
            # The planner sees the goal already reached from the current state.
            await self._update(self._adopting([], outcome, took, failure, failed_ids))
            await self._finish(TaskStatus.succeeded, "nothing left to do: the goal already holds")
            return False
        done = {s.id for s in self.task.subtasks if s.status == SubtaskStatus.succeeded}
        problems = structural_problems(plan.subtasks, done=done)
        problems += [
            PlanProblem(
                code="duplicate_id",
                message=f"subtask id {s.id!r} is already used in this task",
                subtask=s.id,
            )
            for s in plan.subtasks
            if s.id in existing
        ]
        if problems:
            await self._reject(f"{prefix} produced an unusable plan", problems, calls)
            return False
        await self._update(self._adopting(plan.subtasks, outcome, took, failure, failed_ids))
        self.failures.clear()
        self.not_before.clear()
        return True

    def _adopting(
        self,
        subtasks: list[Any],
        outcome: PlanningOutcome,
        took: float,
        failure: str | None,
        failed_ids: list[str],
    ) -> Callable[[Task, TaskMeta], tuple[Task, list[TaskEvent]]]:
        from ..contracts import Plan

        new_states = states_from_plan(Plan(subtasks=subtasks))

        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            subs = [
                s.model_copy(update={"status": SubtaskStatus.skipped})
                if s.status == SubtaskStatus.pending
                else s
                for s in task.subtasks
            ]
            update: dict[str, Any] = {
                "status": TaskStatus.running,
                "subtasks": subs + new_states,
                "model_calls": task.model_calls + outcome.model_calls,
            }
            if failure is not None:
                update["replans"] = task.replans + 1
                meta.resolved_failures = sorted(set(meta.resolved_failures) | set(failed_ids))
            if outcome.goal is not None:
                meta.goal = outcome.goal
            meta.planner = outcome.planner or meta.planner
            kind = TaskEventKind.replanned if failure is not None else TaskEventKind.planned
            ev = self._event(
                kind,
                outcome.message or f"{len(new_states)} subtasks",
                planner=outcome.planner,
                subtasks=[s.id for s in new_states],
                model_calls=outcome.model_calls,
                duration_s=round(took, 3),
                **({"failure": failure} if failure else {}),
            )
            return task.model_copy(update=update), [ev]

        return mutate

    async def _reject(self, message: str, problems: list[PlanProblem], calls: int) -> None:
        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            ev = self._event(
                TaskEventKind.plan_rejected,
                message,
                problems=[p.model_dump(mode="json") for p in problems],
            )
            return task.model_copy(update={"model_calls": task.model_calls + calls}), [ev]

        await self._update(mutate)
        await self._finish(TaskStatus.failed, message, problems)
