"""pick, place and put_in: grasping and putting down with an arm.

Memory follows the physics: it is written once the motion has ended, atomically
(`memory.pick` / `memory.place`), and after a failed or cancelled motion it records
where the object really is (still held, or dropped somewhere)."""

from __future__ import annotations

from robo_os_memory import ConflictError, Lease

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillAborted, SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Arm, Base, Gripper, MotionOutcome, MotionResult, Tray
from robo_os.skill.refs import ObjectName, PlaceOrRobotName

from ._support import changed, failure_of, lease, pose_json
from .navigation import redock_near

__all__ = ["pick", "place", "put_in"]


async def _hand_free(ctx: SkillContext, gripper: Gripper) -> None:
    held = await gripper.holding()
    if held is not None:
        raise SkillAborted(
            ErrorCode.precondition_failed, f"{ctx.robot_id}'s hand is full (holding {held})"
        )


@skill(
    capabilities={"manipulate"},
    timeout_s=60.0,
    preconditions=["hand_empty(robot)", "on(object, ?from)", "reaches(robot, ?from)"],
    effects=["not on(object, ?from)", "not hand_empty(robot)", "holding(robot, object)"],
)
async def pick(
    ctx: SkillContext,
    object: ObjectName,
    arm: Arm,
    gripper: Gripper,
    base: Base | None = None,
    tray: Tray | None = None,
) -> SkillResult:
    """Grasp an object the robot can reach without driving and lift it. A mobile robot
    docked at the object's place whose arm cannot reach it from its slot moves to a
    free slot of that place nearer the object first.

    Args:
        object: The object to pick up.
    """
    robot = ctx.robot_id
    record = await ctx.memory.get_object(object)
    if record is None:
        return SkillResult.failure(ErrorCode.not_found, f"no object named {object!r}")
    if record.held_by not in (None, robot):
        return SkillResult.failure(ErrorCode.held_by_other, f"{object} is held by {record.held_by}")
    await _hand_free(ctx, gripper)
    async with lease(ctx, object) as held:
        result = await arm.pick(object, cancel=ctx.cancel, deadline=ctx.deadline)
        if result.outcome == MotionOutcome.unreachable and record.pose is not None:
            moved = await redock_near(ctx, base, tray, record.pose)
            if moved is not None and moved.ok:
                result = await arm.pick(object, cancel=ctx.cancel, deadline=ctx.deadline)
        if result.ok or await gripper.holding() == object:
            try:
                await ctx.memory.pick(robot, object, pose=result.pose, lease=held)
            except ConflictError as e:
                return SkillResult.failure(ErrorCode.held_by_other, f"memory refused the pick: {e}")
        if not result.ok:
            return failure_of(result, object=object)
    return SkillResult.success(
        f"{robot} holds {object}",
        data={"object": object, "from": record.on, "pose": pose_json(result)},
        changes=[
            changed("object", object, held_by=robot, on=None),
            changed("robot", robot, holding=object),
        ],
    )


async def _put(
    ctx: SkillContext, arm: Arm, gripper: Gripper, obj: str, target: str, held: Lease
) -> SkillResult:
    robot = ctx.robot_id
    result = await arm.place(obj, target, cancel=ctx.cancel, deadline=ctx.deadline)
    if result.ok:
        await ctx.memory.place(robot, obj, target, pose=result.pose, lease=held)
        return SkillResult.success(
            f"{obj} is on {target}",
            data={"object": obj, "on": target, "pose": pose_json(result)},
            changes=[
                changed("object", obj, on=target, held_by=None),
                changed("robot", robot, holding=None),
            ],
        )
    await _record_release(ctx, gripper, obj, result, held)
    full = {"full": result.data["full"]} if "full" in result.data else {}
    return failure_of(result, object=obj, on=result.on, **full)


async def _record_release(
    ctx: SkillContext, gripper: Gripper, obj: str, result: MotionResult, held: Lease
) -> None:
    """After a failed put-down: if the hand let go, memory must say where it landed."""
    if await gripper.holding() == obj:
        return
    if result.on is not None:
        await ctx.memory.place(ctx.robot_id, obj, result.on, pose=result.pose, lease=held)
    else:
        await ctx.memory.transfer(obj, to_on=None, to_holder=None, pose=result.pose, lease=held)


async def _holding(ctx: SkillContext, gripper: Gripper, obj: str) -> None:
    held = await gripper.holding()
    if held != obj:
        raise SkillAborted(
            ErrorCode.precondition_failed,
            f"{ctx.robot_id} is not holding {obj} (it holds {held or 'nothing'})",
        )


async def _not_reserved(ctx: SkillContext, target: str) -> None:
    other = await ctx.memory.lease_of(target)
    if other is not None and other.holder != ctx.robot_id:
        raise SkillAborted(ErrorCode.held_by_other, f"{target} is reserved by {other.holder}")


@skill(
    capabilities={"manipulate"},
    timeout_s=60.0,
    preconditions=["holding(robot, object)", "reaches(robot, target)"],
    effects=["not holding(robot, object)", "hand_empty(robot)", "on(object, target)"],
)
async def place(
    ctx: SkillContext, object: ObjectName, target: PlaceOrRobotName, arm: Arm, gripper: Gripper
) -> SkillResult:
    """Put the held object down on a place, or onto another robot's tray (to load a
    carrier docked within reach). It is let go only once it rests on the target.

    Args:
        object: The object the robot holds.
        target: A place, or a robot with a tray.
    """
    if await ctx.memory.get_place(target) is None and await ctx.memory.get_robot(target) is None:
        return SkillResult.failure(ErrorCode.not_found, f"no place or robot named {target!r}")
    await _holding(ctx, gripper, object)
    await _not_reserved(ctx, target)
    async with lease(ctx, object) as held:
        return await _put(ctx, arm, gripper, object, target, held)


@skill(
    capabilities={"manipulate"},
    timeout_s=60.0,
    preconditions=["holding(robot, object)", "on(container, ?at)", "reaches(robot, ?at)"],
    effects=["not holding(robot, object)", "hand_empty(robot)", "on(object, container)"],
)
async def put_in(
    ctx: SkillContext, object: ObjectName, container: ObjectName, arm: Arm, gripper: Gripper
) -> SkillResult:
    """Put the held object into a receptacle object (a bowl) within reach.

    Args:
        object: The object the robot holds.
        container: The receptacle to put it in.
    """
    if await ctx.memory.get_object(container) is None:
        return SkillResult.failure(ErrorCode.not_found, f"no object named {container!r}")
    await _holding(ctx, gripper, object)
    await _not_reserved(ctx, container)
    async with lease(ctx, object) as held:
        return await _put(ctx, arm, gripper, object, container, held)
