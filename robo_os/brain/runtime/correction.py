"""The writes of error correction for one task: where a ready subtask runs, moving it
(with its chain) to an equivalent robot, recording a retry, a failure or a cancelled
attempt. Which of them happens is `policy.decide`'s call; the runner applies it."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

from ...contracts import (
    ErrorCode,
    SkillResult,
    Subtask,
    SubtaskState,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
)
from .plan_ops import apply_move, is_chain_head, remaining_plan
from .policy import remember
from .store import TaskMeta

if TYPE_CHECKING:
    from ..planning.interface import Planner
    from .allocation import Allocator
    from .lanes import RobotLanes
    from .task_state import TaskState

__all__ = ["Corrector"]

log = logging.getLogger(__name__)


class Corrector:
    def __init__(
        self,
        state: TaskState,
        *,
        planner: Planner,
        allocator: Allocator,
        lanes: RobotLanes,
        rebalance: bool,
    ) -> None:
        self.state = state
        self.planner = planner
        self.allocator = allocator
        self.lanes = lanes
        self.rebalance = rebalance

    def excluded(self, sub_id: str) -> frozenset[str]:
        """Robots that already failed the subtask (never offered it again)."""
        return frozenset(self.state.meta.excluded.get(sub_id, []))

    async def can_run(self, sub: SubtaskState) -> bool:
        """Whether the robot the subtask names may run it now."""
        return sub.robot not in self.excluded(sub.id) and await self.allocator.available(sub.robot)

    async def balance(self, sub: SubtaskState) -> SubtaskState:
        """The subtask, moved to an idle equivalent robot when its own is busy, it heads
        its robot's chain in this task, it is not pinned, and rebalancing is on."""
        if (
            self.rebalance
            and not sub.pinned
            and self.lanes.busy_for(sub.robot, self.state.task.id) > 0
            and is_chain_head(self.state.task, sub.id)
        ):
            reason = f"robot {sub.robot} is busy"
            await self.move(sub, self.excluded(sub.id), reason, idle_only=True)
            return self.state.sub(sub.id)
        return sub

    async def move(
        self,
        sub: SubtaskState,
        excluded: frozenset[str],
        reason: str,
        *,
        idle_only: bool = False,
        result: SkillResult | None = None,
    ) -> bool:
        """Move the subtask and its chain to the best equivalent robot not in `excluded`
        whose remaining plan `Planner.check` accepts; False when there is none, or the
        subtask is pinned to its robot (the user chose it: the policy then replans or
        fails, as when no robot can take it)."""
        if sub.pinned:
            return False
        base = Subtask(
            id=sub.id,
            robot=sub.robot,
            skill=sub.skill,
            args=dict(sub.args),
            depends_on=list(sub.depends_on),
        )
        candidates = await self.allocator.alternatives(base, set(excluded))
        # never onto a robot the task's goal rules out (`use`/`avoid`), nor a stopped one
        candidates = [
            c
            for c in candidates
            if self.state.allows(c.robot) and not self.state.robot_stopped(c.robot)
        ]
        if idle_only:
            candidates = [
                c for c in candidates if self.lanes.busy_for(c.robot, self.state.task.id) == 0
            ]
        for cand in await self.allocator.rank(candidates, task_id=self.state.task.id):
            moved, _ = apply_move(self.state.task, sub.id, cand)
            problems = await self.planner.check(remaining_plan(moved))
            if problems:
                log.info(
                    "task %s: moving %s to %s rejected: %s",
                    self.state.task.id,
                    sub.id,
                    cand.robot,
                    "; ".join(p.message for p in problems),
                )
                continue

            def mutate(
                task: Task, meta: TaskMeta, cand: Subtask = cand
            ) -> tuple[Task, list[TaskEvent]]:
                new, ids = apply_move(task, sub.id, cand)
                fields: dict[str, Any] = {
                    "status": SubtaskStatus.pending,
                    **({"result": result} if result is not None else {}),
                }
                subs = [s.model_copy(update=fields) if s.id == sub.id else s for s in new.subtasks]
                meta.reassignments += 1
                if excluded:
                    meta.excluded[sub.id] = sorted(excluded)
                ev = self.state.event(
                    TaskEventKind.subtask_reassigned,
                    reason,
                    subtask=sub.id,
                    robot=cand.robot,
                    **{"from": sub.robot, "to": cand.robot, "moved": ids},
                )
                return new.model_copy(update={"subtasks": subs}), [ev]

            await self.state.update(mutate)
            return True
        return False

    async def remember(
        self,
        sub: SubtaskState,
        robot: str,
        error: ErrorCode,
        message: str,
        *,
        full: str | None = None,
    ) -> None:
        """Keep the failed call in the task's meta (`policy.remember`); `full`: the place
        the failure found no room on (the skill's `data.full`)."""
        calls = remember(
            self.state.failed_calls(), robot, sub.skill, dict(sub.args), error, message, full=full
        )

        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            stored = [dataclasses.asdict(c) for c in calls]
            if stored == meta.failed_calls:
                return None
            meta.failed_calls = stored
            return task, []

        await self.state.update(mutate)

    async def retry(
        self,
        sub: SubtaskState,
        robot: str,
        result: SkillResult,
        delay_s: float,
        common: dict[str, Any],
    ) -> None:
        """Put the subtask back to pending on the same robot (the runner holds it back
        for `delay_s`)."""
        code = result.error or ErrorCode.internal
        ev = self.state.event(
            TaskEventKind.subtask_retried,
            f"{code.value}: {result.message}",
            subtask=sub.id,
            robot=robot,
            error=code.value,
            delay_s=delay_s,
            **common,
        )
        await self.state.set_subtask(sub.id, ev, status=SubtaskStatus.pending, result=result)

    async def fail(self, sub: SubtaskState, result: SkillResult, **common: Any) -> str:
        """Record the subtask as failed; returns the failure as the replan will read it."""
        code = result.error or ErrorCode.internal
        ev = self.state.event(
            TaskEventKind.subtask_failed,
            f"{code.value}: {result.message}",
            subtask=sub.id,
            robot=sub.robot,
            error=code.value,
            **common,
        )
        await self.state.set_subtask(
            sub.id, ev, status=SubtaskStatus.failed, result=result, finished_at=time.time()
        )
        return (
            f"subtask {sub.id} ({sub.skill} on {sub.robot}) failed with"
            f" {code.value}: {result.message}"
        )

    async def cancelled(
        self, sub: SubtaskState, robot: str, result: SkillResult, common: dict[str, Any]
    ) -> None:
        """Record an attempt that ran as cancelled."""
        ev = self.state.event(
            TaskEventKind.subtask_failed,
            result.message,
            subtask=sub.id,
            robot=robot,
            error=(result.error or ErrorCode.cancelled).value,
            **common,
        )
        await self.state.set_subtask(
            sub.id, ev, status=SubtaskStatus.cancelled, result=result, finished_at=time.time()
        )
