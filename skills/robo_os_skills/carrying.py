"""deliver: a carrier unloads its tray at the place it is docked at."""

from __future__ import annotations

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Base, Tray
from robo_os.skill.refs import ObjectName, PlaceName

from ._support import changed, failure_of, lease, pose_json

__all__ = ["deliver"]


@skill(
    capabilities={"carry"},
    timeout_s=60.0,
    preconditions=["on(object, robot)", "at(robot, target)"],
    effects=["not on(object, robot)", "on(object, target)"],
)
async def deliver(
    ctx: SkillContext, object: ObjectName, target: PlaceName, tray: Tray, base: Base
) -> SkillResult:
    """Unload an object from the robot's tray onto the place where the robot is docked.

    Args:
        object: The object on the tray.
        target: The place the robot is at, where the object goes.
    """
    robot = ctx.robot_id
    if await ctx.memory.get_object(object) is None:
        return SkillResult.failure(ErrorCode.not_found, f"no object named {object!r}")
    if object not in await tray.contents():
        return SkillResult.failure(
            ErrorCode.precondition_failed, f"{object} is not on {robot}'s tray"
        )
    here = await base.place()
    if here != target:
        return SkillResult.failure(
            ErrorCode.precondition_failed, f"{robot} is at {here or 'no place'}, not at {target}"
        )
    async with lease(ctx, object) as held:
        result = await tray.unload(object, cancel=ctx.cancel, deadline=ctx.deadline)
        if result.on != robot and (result.ok or result.pose is not None):
            # it left the tray: memory says where it came to rest, even after a failure
            await ctx.memory.transfer(
                object, to_on=result.on, to_holder=None, pose=result.pose, lease=held
            )
        if not result.ok:
            return failure_of(result, object=object, on=result.on)
    return SkillResult.success(
        f"{object} is on {target}",
        data={"object": object, "on": target, "pose": pose_json(result)},
        changes=[changed("object", object, on=target)],
    )
