"""pick_from_floor: drive next to an object lying loose on the floor and pick it up.

An object that fell (a slipped grasp, a drop while carrying) is recorded by
reconciliation where it lies: on no place, with its pose (`loose(O)` in the symbolic
model). No place's docking slot reaches it, so this skill drives to a stand-off pose
facing it (trying a few sides, nearest to the robot first: furniture or a wall may take
some) and then grasps it with the ordinary pick, which writes memory as it does."""

from __future__ import annotations

import math

from robo_os_memory import Pose

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Arm, Base, Gripper, Tray
from robo_os.skill.refs import ObjectName

from .manipulation import pick
from .navigation import _drive

__all__ = ["FLOOR_APPROACHES", "FLOOR_STANDOFF_M", "pick_from_floor"]

FLOOR_STANDOFF_M = 0.55
"""Base centre to object when picking from the floor (m): the simulator's mobile
manipulator has its arm 0.1 m ahead of the base centre and its front edge 0.25 m ahead,
so the object lies about 0.45 m from the arm's base, well inside the Panda's reach down
to the floor (docs/simulator.md, "Picking from the floor")."""

FLOOR_APPROACHES = 8
"""How many sides (evenly spaced around the object) a pick from the floor tries."""


def _approaches(obj: Pose, robot: Pose) -> list[Pose]:
    """Stand-off poses facing the object, the side the robot is on first."""
    toward = math.atan2(robot.y - obj.y, robot.x - obj.x)
    steps = sorted(range(FLOOR_APPROACHES), key=lambda k: min(k, FLOOR_APPROACHES - k))
    out = []
    for k in steps:
        a = toward + 2 * math.pi * k / FLOOR_APPROACHES
        out.append(
            Pose(
                x=obj.x + FLOOR_STANDOFF_M * math.cos(a),
                y=obj.y + FLOOR_STANDOFF_M * math.sin(a),
                yaw=math.atan2(math.sin(a + math.pi), math.cos(a + math.pi)),
            )
        )
    return out


@skill(
    capabilities={"navigate", "manipulate"},
    timeout_s=150.0,
    preconditions=["hand_empty(robot)", "loose(object)"],
    effects=[
        "not at(robot, *)",
        "not loose(object)",
        "not hand_empty(robot)",
        "holding(robot, object)",
    ],
)
async def pick_from_floor(
    ctx: SkillContext,
    object: ObjectName,
    base: Base,
    arm: Arm,
    gripper: Gripper,
    tray: Tray | None = None,
) -> SkillResult:
    """Drive next to an object lying on the floor (where memory records it fell) and
    pick it up. The robot ends at no place.

    Args:
        object: The object on the floor.
    """
    record = await ctx.memory.get_object(object)
    if record is None:
        return SkillResult.failure(ErrorCode.not_found, f"no object named {object!r}")
    if record.held_by is not None or record.on is not None or record.pose is None:
        where = f"held by {record.held_by}" if record.held_by else f"on {record.on}"
        return SkillResult.failure(
            ErrorCode.precondition_failed,
            f"{object} is not on the floor ({where if record.pose else 'no pose known'})",
        )
    tried: list[str] = []
    for stand in _approaches(record.pose, await base.pose()):
        label = f"({stand.x:.2f}, {stand.y:.2f}) beside {object}"
        drove = await _drive(ctx, base, tray, stand, stand, label)
        if not drove.ok:
            tried.append(drove.message)
            if drove.error in (ErrorCode.cancelled, ErrorCode.timeout):
                return drove
            continue
        picked = await pick(ctx, object, arm, gripper)
        if picked.error != ErrorCode.unreachable:
            return picked
        tried.append(picked.message)
    return SkillResult.failure(
        ErrorCode.unreachable,
        f"{ctx.robot_id} found no side of {object} to pick it from: "
        + "; ".join(dict.fromkeys(tried)),
    )
