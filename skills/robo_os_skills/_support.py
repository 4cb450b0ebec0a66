"""What the standard skills share: outcome -> error mapping, leases, state changes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from robo_os_memory import Lease, LeaseHeldError, LeaseLostError

from robo_os.contracts import ErrorCode, SkillResult, StateChange
from robo_os.skill.context import SkillAborted, SkillContext
from robo_os.skill.parts import MotionOutcome, MotionResult, Parts, parts_of

__all__ = [
    "ERROR_OF",
    "LEASE_MARGIN_S",
    "changed",
    "failure_of",
    "lease",
    "parts",
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


def parts(ctx: SkillContext, *needed: str) -> Parts:
    """The robot's parts; SkillAborted(precondition_failed) when one it needs is missing."""
    got = parts_of(ctx.robot)
    missing = [n for n in needed if getattr(got, n) is None]
    if missing:
        raise SkillAborted(
            ErrorCode.precondition_failed, f"{ctx.robot_id} has no {', '.join(missing)}"
        )
    return got


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
