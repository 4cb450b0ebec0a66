"""Error correction for one task: where a ready subtask runs, and what happens to a
failed attempt (retry, reassign with its chain, or fail and wait for a replan)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ...contracts import (
    TRANSIENT_ERRORS,
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
from .store import TaskMeta

if TYPE_CHECKING:
    from .executor import TaskRunner, _Flight

__all__ = ["NOT_REASSIGNABLE", "Corrector"]

log = logging.getLogger(__name__)

NOT_REASSIGNABLE = frozenset({ErrorCode.not_found, ErrorCode.invalid_args})
"""The plan itself is wrong about the world or the call: another robot will not help."""


class Corrector:
    def __init__(self, runner: TaskRunner) -> None:
        self.r = runner

    async def place(self, sub: SubtaskState) -> SubtaskState | None:
        """The subtask on the robot that should run it now (moved if need be), or None
        when no robot can (then it failed and waits for a replan)."""
        excluded = set(self.r.meta.excluded.get(sub.id, []))
        if sub.robot in excluded or not await self.r.d.allocator.available(sub.robot):
            if await self.move(sub, excluded, f"robot {sub.robot} is unavailable"):
                return self.r.sub(sub.id)
            await self.fail_subtask(
                sub,
                SkillResult.failure(
                    ErrorCode.robot_offline,
                    f"robot {sub.robot} is unavailable and no equivalent robot can run {sub.skill}",
                ),
            )
            return None
        if (
            self.r.d.settings.rebalance
            and self.r.d.lanes.load(sub.robot) > 0
            and is_chain_head(self.r.task, sub.id)
        ):
            await self.move(sub, excluded, f"robot {sub.robot} is busy", idle_only=True)
            return self.r.sub(sub.id)
        return sub

    async def move(
        self,
        sub: SubtaskState,
        excluded: set[str],
        reason: str,
        *,
        idle_only: bool = False,
        result: SkillResult | None = None,
    ) -> bool:
        base = Subtask(
            id=sub.id,
            robot=sub.robot,
            skill=sub.skill,
            args=dict(sub.args),
            depends_on=list(sub.depends_on),
        )
        candidates = await self.r.d.allocator.alternatives(base, excluded)
        if idle_only:
            candidates = [c for c in candidates if self.r.d.lanes.load(c.robot) == 0]
        for cand in await self.r.d.allocator.rank(candidates):
            moved, _ = apply_move(self.r.task, sub.id, cand)
            problems = await self.r.d.planner.check(remaining_plan(moved))
            if problems:
                log.info(
                    "task %s: moving %s to %s rejected: %s",
                    self.r.task.id,
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
                ev = self.r.event(
                    TaskEventKind.subtask_reassigned,
                    reason,
                    subtask=sub.id,
                    robot=cand.robot,
                    **{"from": sub.robot, "to": cand.robot, "moved": ids},
                )
                return new.model_copy(update={"subtasks": subs}), [ev]

            await self.r.update(mutate)
            return True
        return False

    async def recover(
        self, sub: SubtaskState, flight: _Flight, result: SkillResult, common: dict[str, Any]
    ) -> None:
        code = result.error or ErrorCode.internal
        tries_left = sub.attempts < self.r.d.settings.max_attempts
        if code in TRANSIENT_ERRORS and tries_left:
            delay = self.r.d.settings.retry_backoff_s * max(1, sub.attempts)
            ev = self.r.event(
                TaskEventKind.subtask_retried,
                f"{code.value}: {result.message}",
                subtask=sub.id,
                robot=flight.robot,
                error=code.value,
                delay_s=delay,
                **common,
            )
            await self.r.set_subtask(sub.id, ev, status=SubtaskStatus.pending, result=result)
            if delay > 0:
                self.r.hold_back(sub.id, delay)
            return
        if code not in NOT_REASSIGNABLE and tries_left:
            excluded = set(self.r.meta.excluded.get(sub.id, [])) | {flight.robot}
            if await self.move(
                sub, excluded, f"{code.value} on {flight.robot}: {result.message}", result=result
            ):
                return
        await self.fail_subtask(sub, result, **common)

    async def fail_subtask(self, sub: SubtaskState, result: SkillResult, **common: Any) -> None:
        code = result.error or ErrorCode.internal
        ev = self.r.event(
            TaskEventKind.subtask_failed,
            f"{code.value}: {result.message}",
            subtask=sub.id,
            robot=sub.robot,
            error=code.value,
            **common,
        )
        await self.r.set_subtask(
            sub.id, ev, status=SubtaskStatus.failed, result=result, finished_at=time.time()
        )
        self.r.failures.append(
            f"subtask {sub.id} ({sub.skill} on {sub.robot}) failed with"
            f" {code.value}: {result.message}"
        )
