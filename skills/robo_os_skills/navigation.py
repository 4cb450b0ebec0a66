"""navigate_to (a place) and navigate_to_pose (a pose): drive there around obstacles.

navigate_to reserves one of the place's docking slots first (`_slots.py`) and records
the place and slot the robot docked at: the one fact of where it is. Any drive clears it
as it leaves. A robot in the way is answered by a detour, after a back-off."""

from __future__ import annotations

import time

from robo_os_memory import EntityKind, Lease, LeaseLostError, Pose

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillAborted, SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Base, DockingBase, DockSlot, MotionOutcome, MotionResult, Tray
from robo_os.skill.refs import PlaceName

from ._slots import next_change, reserve_slot
from ._support import changed, failure_of, pose_json

__all__ = [
    "DETOUR_BACKOFF_S",
    "MAX_DETOURS",
    "POSE_INTERVAL_S",
    "REDOCK_GAIN_M",
    "navigate_to",
    "navigate_to_pose",
    "redock_near",
]

POSE_INTERVAL_S = 0.1
"""How often the robot's pose is written to memory while it drives (10 Hz); an
agent may set another in the context's extras under `pose_interval_s`."""

MAX_DETOURS = 5
"""How many new paths a drive tries after another robot got in its way."""
DETOUR_BACKOFF_S = 0.5
"""The longest wait for the other robot to move before the n-th detour is n times this."""


@skill(
    capabilities={"navigate"},
    timeout_s=120.0,
    effects=["not at(robot, *)", "at(robot, target)"],
)
async def navigate_to(
    ctx: SkillContext, target: PlaceName, base: Base, tray: Tray | None = None
) -> SkillResult:
    """Drive to a place and dock at it, planning a path around furniture and robots.
    Reserves a docking slot there first; waits while every slot is taken.

    Args:
        target: The place to go to.
    """
    place = await ctx.memory.get_place(target)
    if place is None:
        return SkillResult.failure(ErrorCode.not_found, f"no place named {target!r}")
    if not isinstance(base, DockingBase):  # a base without slots: no reservation to make
        return await _drive(ctx, base, tray, target, place.pose, target)
    me = await ctx.memory.get_robot(ctx.robot_id)
    if (
        me is not None
        and me.place == target
        and me.slot is not None
        and await base.place() == target
    ):
        final = await base.pose()
        return _arrived(ctx, target, final, target, me.slot)
    async with reserve_slot(ctx, base, target) as held:
        result = await _drive(
            ctx, base, tray, target, place.pose, target, slot=held.index, lease=held.lease
        )
    if held.waited_s > 0:
        result = result.model_copy(
            update={"data": {**result.data, "waited_for_slot_s": round(held.waited_s, 3)}}
        )
    return result


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
    ctx: SkillContext,
    base: Base,
    tray: Tray | None,
    goal: str | Pose,
    goal_pose: Pose,
    label: str,
    *,
    slot: int | None = None,
    lease: Lease | None = None,
) -> SkillResult:
    """Drive to a place (docking at `slot`, reserved by `lease`) or a pose, writing the
    pose to memory as it goes. Leaving clears the robot's place and slot at once."""
    robot = ctx.robot_id
    start = await base.pose()
    total = max(start.distance_to(goal_pose), 1e-6)
    await ctx.memory.update_robot(
        robot, place=None, slot=None, pose=start, activity=f"driving to {label}"
    )

    done = [0.0]  # progress never goes back (a detour around furniture can move away)

    async def on_pose(pose: Pose) -> None:
        await ctx.memory.update_robot(robot, pose=pose)
        done[0] = max(done[0], 1.0 - min(pose.distance_to(goal_pose) / total, 1.0))
        await ctx.report_progress(done[0], f"driving to {label}")

    interval = float(ctx.extras.get("pose_interval_s", POSE_INTERVAL_S))
    detours = 0
    while True:
        # a robot in the way counts as moved by any change of it from here on
        since = await ctx.memory.latest_cursor()
        if isinstance(base, DockingBase):
            result = await base.move_to(
                goal,
                slot=slot,
                cancel=ctx.cancel,
                deadline=ctx.deadline,
                on_pose=on_pose,
                progress_interval_s=interval,
            )
        else:
            result = await base.move_to(
                goal,
                cancel=ctx.cancel,
                deadline=ctx.deadline,
                on_pose=on_pose,
                progress_interval_s=interval,
            )
        other = result.data.get("robot")
        in_the_way = result.outcome in (MotionOutcome.collision, MotionOutcome.held_by_other)
        if not in_the_way or not isinstance(other, str):
            break
        if detours >= MAX_DETOURS or ctx.remaining() <= 0:
            break
        # another robot was in the way: the driver has backed off; give it a moment to
        # move (its next pose or a growing back-off), then plan a new path around it
        detours += 1
        ctx.logger.info("%s: %s; detour %d around %s", robot, result.message, detours, other)
        watch = ctx.memory.subscribe(kinds=[EntityKind.robot], names=[other], cursor=since)
        async with watch as sub:
            await next_change(ctx, sub, min(DETOUR_BACKOFF_S * detours, ctx.remaining()))
    final = result.pose or await base.pose()
    docked = await base.place()
    docked_slot = await base.slot() if isinstance(base, DockingBase) and docked else None
    try:
        # fenced by the slot's lease: a robot whose reservation lapsed cannot claim it
        await ctx.memory.update_robot(
            robot, pose=final, place=docked, slot=docked_slot, activity=None, lease=lease
        )
    except LeaseLostError:
        await ctx.memory.update_robot(robot, pose=final, activity=None)
        return SkillResult.failure(
            ErrorCode.held_by_other,
            f"{robot} lost its reservation of slot {slot} of {label} before it docked",
            data={"pose": final.model_dump()},
        )
    await _carry_along(ctx, tray, final)
    if not result.ok:
        return failure_of(result, pose=final.model_dump(), place=docked, detours=detours)
    await ctx.report_progress(1.0, f"at {label}")
    return _arrived(ctx, label, final, docked, docked_slot, result, detours)


REDOCK_GAIN_M = 0.1
"""How much nearer what it must reach another slot must be for a robot to move there."""


async def redock_near(
    ctx: SkillContext, base: Base | None, tray: Tray | None, point: Pose
) -> SkillResult | None:
    """Move to the free slot of the place the robot is docked at that stands nearest
    `point` (an object its arm cannot reach from here), reserving it as navigate_to
    does; None when there is no nearer free slot (or the base has no slots). Keeps
    the robot at the same place: only its slot changes."""
    if not isinstance(base, DockingBase):
        return None
    place, here = await base.place(), await base.slot()
    if place is None or here is None:
        return None
    record = await ctx.memory.get_place(place)
    if record is None:
        return None
    slots = [s for s in await base.slots(place) if s.pose is not None]

    def away(slot: DockSlot) -> float:
        assert slot.pose is not None
        return slot.pose.distance_to(point)

    current = next((s for s in slots if s.index == here), None)
    if current is None:
        return None
    nearer = sorted((s for s in slots if away(s) < away(current) - REDOCK_GAIN_M), key=away)
    if not nearer:
        return None
    try:
        async with reserve_slot(ctx, base, place, among=nearer, wait=False) as held:
            ctx.logger.info(
                "%s: moving to slot %d of %s, nearer what it must reach",
                ctx.robot_id, held.index, place,
            )
            return await _drive(
                ctx, base, tray, place, record.pose, place, slot=held.index, lease=held.lease
            )
    except SkillAborted:  # every nearer slot is taken right now: stay where it is
        return None


def _arrived(
    ctx: SkillContext,
    label: str,
    final: Pose,
    docked: str | None,
    slot: int | None,
    result: MotionResult | None = None,
    detours: int = 0,
) -> SkillResult:
    robot = ctx.robot_id
    pose = (pose_json(result) if result is not None else None) or final.model_dump()
    return SkillResult.success(
        f"{robot} is at {label}",
        data={"place": docked, "slot": slot, "pose": pose, "detours": detours, "t": time.time()},
        changes=[changed("robot", robot, place=docked, slot=slot, pose=final.model_dump())],
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
