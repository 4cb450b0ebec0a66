"""navigate_to (a place) and navigate_to_pose (a pose): drive there around obstacles."""

from __future__ import annotations

import time

from robo_os_memory import Pose

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Base, Tray
from robo_os.skill.refs import PlaceName

from ._support import changed, failure_of, pose_json

__all__ = ["POSE_INTERVAL_S", "navigate_to", "navigate_to_pose"]

POSE_INTERVAL_S = 0.15
"""How often the robot's pose is written to memory while it drives (about 7 Hz); an
agent may set another in the context's extras under `pose_interval_s`."""


@skill(
    capabilities={"navigate"},
    timeout_s=120.0,
    effects=["not at(robot, *)", "at(robot, target)"],
)
async def navigate_to(
    ctx: SkillContext, target: PlaceName, base: Base, tray: Tray | None = None
) -> SkillResult:
    """Drive to a place and dock at it, planning a path around furniture and robots.

    Args:
        target: The place to go to.
    """
    place = await ctx.memory.get_place(target)
    if place is None:
        return SkillResult.failure(ErrorCode.not_found, f"no place named {target!r}")
    return await _drive(ctx, base, tray, target, place.pose, target)


@skill(
    capabilities={"navigate"},
    timeout_s=120.0,
    effects=["not at(robot, *)"],
)
async def navigate_to_pose(
    ctx: SkillContext,
    x: float,
    y: float,
    yaw: float = 0.0,
    *,
    base: Base,
    tray: Tray | None = None,
) -> SkillResult:
    """Drive to a pose on the floor (metres, radians in the world frame), planning a path
    around furniture and robots. The robot ends at no place (it docks only with
    navigate_to).

    Args:
        x: Target x in metres.
        y: Target y in metres.
        yaw: Heading at the goal in radians.
    """
    goal = Pose(x=x, y=y, yaw=yaw)
    return await _drive(ctx, base, tray, goal, goal, f"({x:.2f}, {y:.2f})")


async def _drive(
    ctx: SkillContext, base: Base, tray: Tray | None, goal: str | Pose, goal_pose: Pose, label: str
) -> SkillResult:
    """Drive to a place (docking there) or a pose, writing the pose to memory as it goes."""
    robot = ctx.robot_id
    start = await base.pose()
    total = max(start.distance_to(goal_pose), 1e-6)
    await ctx.memory.update_robot(robot, place=None, pose=start, activity=f"driving to {label}")

    done = [0.0]  # progress never goes back (a detour around furniture can move away)

    async def on_pose(pose: Pose) -> None:
        await ctx.memory.update_robot(robot, pose=pose)
        done[0] = max(done[0], 1.0 - min(pose.distance_to(goal_pose) / total, 1.0))
        await ctx.report_progress(done[0], f"driving to {label}")

    result = await base.move_to(
        goal,
        cancel=ctx.cancel,
        deadline=ctx.deadline,
        on_pose=on_pose,
        progress_interval_s=float(ctx.extras.get("pose_interval_s", POSE_INTERVAL_S)),
    )
    final = result.pose or await base.pose()
    docked = await base.place()
    await ctx.memory.update_robot(robot, pose=final, place=docked, activity=None)
    await _carry_along(ctx, tray, final)
    if not result.ok:
        return failure_of(result, pose=final.model_dump(), place=docked)
    await ctx.report_progress(1.0, f"at {label}")
    return SkillResult.success(
        f"{robot} is at {label}",
        data={"place": docked, "pose": pose_json(result) or final.model_dump(), "t": time.time()},
        changes=[changed("robot", robot, place=docked, pose=final.model_dump())],
    )


async def _carry_along(ctx: SkillContext, tray: Tray | None, pose: Pose) -> None:
    """Objects on the robot's tray moved with it: record where they are now."""
    if tray is None:
        return
    for name in await tray.contents():
        obj = await ctx.memory.get_object(name)
        if obj is not None and obj.on == ctx.robot_id:
            await ctx.memory.update_object(
                name, pose=pose.model_copy(update={"z": obj.pose.z if obj.pose else 0.0})
            )
