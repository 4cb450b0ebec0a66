"""open and close: operate an articulated place (a cabinet's drawer)."""

from __future__ import annotations

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillAborted, SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Arm, Gripper
from robo_os.skill.refs import PlaceName

from ._support import changed, failure_of, lease

__all__ = ["close_place", "open_place"]


async def _operate(
    ctx: SkillContext, arm: Arm, gripper: Gripper, target: str, want_open: bool
) -> SkillResult:
    if await ctx.memory.get_place(target) is None:
        return SkillResult.failure(ErrorCode.not_found, f"no place named {target!r}")
    held = await gripper.holding()
    if held is not None:
        raise SkillAborted(
            ErrorCode.precondition_failed, f"{ctx.robot_id}'s hand is full (holding {held})"
        )
    async with lease(ctx, target) as reserved:
        result = await arm.operate(target, want_open, cancel=ctx.cancel, deadline=ctx.deadline)
        if not result.ok:
            return failure_of(result, target=target)
        await ctx.memory.update_place(target, attrs={"open": want_open}, lease=reserved)
    state = "open" if want_open else "closed"
    return SkillResult.success(
        f"{target} is {state}",
        data={"target": target, "open": want_open},
        changes=[changed("place", target, attrs={"open": want_open})],
    )


@skill(
    name="open",
    capabilities={"manipulate"},
    timeout_s=60.0,
    preconditions=["not open(target)", "hand_empty(robot)", "reaches(robot, target)"],
    effects=["open(target)"],
)
async def open_place(
    ctx: SkillContext, target: PlaceName, arm: Arm, gripper: Gripper
) -> SkillResult:
    """Open an articulated place, e.g. pull a cabinet's drawer out.

    Args:
        target: The place to open.
    """
    return await _operate(ctx, arm, gripper, target, True)


@skill(
    name="close",
    capabilities={"manipulate"},
    timeout_s=60.0,
    preconditions=["open(target)", "hand_empty(robot)", "reaches(robot, target)"],
    effects=["not open(target)"],
)
async def close_place(
    ctx: SkillContext, target: PlaceName, arm: Arm, gripper: Gripper
) -> SkillResult:
    """Close an articulated place, e.g. push a cabinet's drawer in.

    Args:
        target: The place to close.
    """
    return await _operate(ctx, arm, gripper, target, False)
