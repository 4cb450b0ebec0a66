"""What the standard skills share: outcome -> error mapping, leases, state changes.
(The parts a skill needs are injected by type: `arm: Arm` in its signature.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from robo_os_memory import Lease, LeaseHeldError, LeaseLostError

from robo_os.contracts import ErrorCode, SkillResult, StateChange
from robo_os.skill.context import SkillAborted, SkillContext
from robo_os.skill.parts import MotionOutcome, MotionResult

__all__ = [
    "ERROR_OF",
    "LEASE_MARGIN_S",
    "changed",
    "failure_of",
    "lease",
    "pose_json",
]

ERROR_OF: dict[MotionOutcome, ErrorCode] = {
    MotionOutcome.collision: ErrorCode.collision,
    MotionOutcome.unreachable: ErrorCode.unreachable,
    MotionOutcome.not_found: ErrorCode.not_found,
    MotionOutcome.held_by_other: ErrorCode.held_by_other,
    MotionOutcome.precondition_failed: ErrorCode.precondition_failed,
    MotionOutcome.cancelled: ErrorCode.cancelled,
    MotionOutcome.timeout: ErrorCode.timeout,
    MotionOutcome.failed: ErrorCode.internal,
}
"""How a motion that did not finish becomes a skill's error code."""

LEASE_MARGIN_S = 5.0
"""A lease outlives the skill's deadline by this much, so it never lapses mid-motion."""


def failure_of(result: MotionResult, **data: Any) -> SkillResult:
    return SkillResult.failure(
        ERROR_OF.get(result.outcome, ErrorCode.internal), result.message, data=data
    )


def pose_json(result: MotionResult) -> dict[str, float] | None:
    return result.pose.model_dump() if result.pose is not None else None


def changed(kind: str, name: str, **fields: Any) -> StateChange:
    return StateChange(kind=kind, name=name, fields=fields)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def lease(ctx: SkillContext, resource: str) -> AsyncIterator[Lease]:
    """Hold a lease on `resource` for the skill's lifetime; someone else's lease ends the
    skill with `held_by_other`."""
    ttl = max(ctx.remaining(), 0.0) + LEASE_MARGIN_S
    try:
        held = await ctx.memory.acquire(resource, ctx.robot_id, ttl)
    except LeaseHeldError as e:
        raise SkillAborted(ErrorCode.held_by_other, f"{resource} is reserved by {e.holder}") from e
    try:
        yield held
    finally:
        with contextlib.suppress(LeaseLostError):  # it expired or was taken over: nothing to free
            await ctx.memory.release(held)
