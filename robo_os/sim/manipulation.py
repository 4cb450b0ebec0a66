"""Arm and tray motions: pick, place, unload and operating a drawer, each planned as
IK waypoints up front (an unreachable target fails before anything moves) and run as
phases by a `PhaseController`."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

import pybullet as p
from pydantic import JsonValue
from robo_os_memory.models import Pose

from ..skill.parts import MotionOutcome, MotionResult
from .geometry import Frame2, quat_yaw, wrap_angle
from .kinematics import ArmModel, IKSolution, Kinematics, OtherArm
from .models import MotionRequest, MoveTool, Operate, Pick, Place, Unload
from .motions import (
    Attach,
    Detach,
    Fingers,
    Guard,
    MoveJoints,
    Phase,
    PhaseController,
    PusherTo,
    Settle,
)
from .rigs import RobotRig
from .view import Scene

__all__ = [
    "Workspace",
    "reaches",
    "start_move_tool",
    "start_operate",
    "start_pick",
    "start_place",
    "start_unload",
]

Point = tuple[float, float, float]
HOVER = 0.12
"""Height above a grasp or release point that the gripper approaches from (m)."""
DROP = 0.012
"""Gap between a released object's bottom and the surface (m)."""
RIM_CLEARANCE = 0.05
"""How far above a place's top a load comes in before it is lowered (m): into a basin,
over its rim."""


class Workspace(Scene, Protocol):
    """What arm and tray motions need: the scene, and an IK solver per arm model."""

    def kinematics(self, model: ArmModel) -> Kinematics: ...


def _fail(outcome: MotionOutcome, message: str, **data: JsonValue) -> MotionResult:
    return MotionResult(outcome=outcome, message=message, data=data)


def _arm_frame(world: Workspace, rig: RobotRig) -> tuple[Frame2, float]:
    assert rig.arm is not None
    return rig.arm.base_frame(rig.pose(world.client))


def _solve(
    world: Workspace,
    rig: RobotRig,
    target: Point,
    yaw: float,
    seed: tuple[float, ...] | None = None,
) -> IKSolution:
    assert rig.arm is not None
    frame, z = _arm_frame(world, rig)
    if math.hypot(target[0] - frame.x, target[1] - frame.y) > rig.arm.model.reach_m:
        return IKSolution(tuple(rig.arm.stow), math.inf)
    return world.kinematics(rig.arm.model).solve(frame, z, target, yaw, seed)


def _chain(
    world: Workspace, rig: RobotRig, points: list[Point], yaw: float
) -> list[tuple[float, ...]] | None:
    """IK for consecutive waypoints, each seeded by the last; None if any is out of reach."""
    seed: tuple[float, ...] | None = None
    out = []
    for pt in points:
        sol = _solve(world, rig, pt, yaw, seed)
        if not sol.ok:
            return None
        out.append(sol.joints)
        seed = sol.joints
    return out


def _reachable_places(rig: RobotRig) -> set[str]:
    if rig.base is None:
        return set(rig.reach)
    return {rig.place} if rig.place else set()


def _surface_z(world: Workspace, target: str) -> float | None:
    if target in world.places:
        return world.places[target].surface_z
    other = world.robots.get(target)
    if other is not None and other.tray is not None:
        return other.tray.top_z
    return None


def _support_reachable(world: Workspace, rig: RobotRig, support: str | None) -> bool:
    """Whether the thing an object rests on is within this arm's workspace."""
    places = _reachable_places(rig)
    if support is None:
        return False
    if support in world.places:
        return support in places
    other = world.robots.get(support)
    if other is not None:
        return other.place is not None and other.place in places
    if support in world.objects:  # in a receptacle: wherever the receptacle is
        return _support_reachable(world, rig, world.support_of(support))
    return False


def _floor_reachable(rig: RobotRig, support: str | None) -> bool:
    """A loose object on the floor is in a mobile arm's workspace wherever the base stands:
    whether it is in reach is the IK's answer (the skill drives next to it first)."""
    return support is None and rig.base is not None


def reaches(world: Workspace, rig: RobotRig, target: str) -> bool:
    """Whether the arm can reach `target` (place, robot tray, object) without driving."""
    if rig.arm is None:
        return False
    if target in world.objects:
        support = world.support_of(target)
        if world.holder_of(target) is not None or not (
            _support_reachable(world, rig, support) or _floor_reachable(rig, support)
        ):
            return False
        return isinstance(_grasp_plan(world, rig, target), tuple)
    if target in world.places or target in world.robots:
        if not _support_reachable(world, rig, target):
            return False
        return bool(_spots(world, rig, target, radius=0.0))
    return False


# -- pick ------------------------------------------------------------------------------------------


FLOOR_FINGER_CLEARANCE = 0.02
"""The lowest a grasp point goes on the floor (m): the finger tips stay off it."""


def _floor_grasp_z(world: Workspace, obj: str, grasp_height: float) -> float:
    """Grasp height of an object on the floor from its real extent: one that fell lies
    on its side, lower than its upright height says."""
    lo, hi = p.getAABB(world.object_body(obj), physicsClientId=world.client)
    return max(float(lo[2] + (hi[2] - lo[2]) * grasp_height), FLOOR_FINGER_CLEARANCE)


def _grasp_plan(
    world: Workspace, rig: RobotRig, obj: str
) -> tuple[float, list[tuple[float, ...]]] | str | None:
    """(gripper yaw, joints for pre-grasp, grasp, lift); None when out of reach; the
    place whose walls every grasp the arm reaches would run into (a corner of a sink)."""
    ob = world.objects[obj]
    pose = world.object_pose(obj)
    shape = ob.shape
    frame, _ = _arm_frame(world, rig)
    reach_dir = math.atan2(pose.y - frame.y, pose.x - frame.x)
    gx = pose.x + shape.grasp_offset * math.cos(pose.yaw)
    gy = pose.y + shape.grasp_offset * math.sin(pose.yaw)
    bottom = pose.z - shape.height / 2
    gz = max(bottom + shape.height * shape.grasp_height, bottom + 0.015)
    if world.support_of(obj) is None:
        gz = _floor_grasp_z(world, obj, shape.grasp_height)
    if shape.symmetric:
        # round: any yaw grasps it. Across the reach first; then square to the place it
        # rests on (along its walls, where a basin's or a shelf's panel leaves room only
        # for the hand lying parallel to it); then turned every eighth
        yaws = [reach_dir]
        support = world.support_of(obj)
        if support is not None and support in world.places:
            square_to = world.places[support].frame.yaw
            yaws += [square_to + k * math.pi / 2 for k in range(4)]
        yaws += [reach_dir + k * math.pi / 4 for k in (2, 1, -1, 4, -2, 3, -3)]
    else:
        base = pose.yaw + shape.grasp_yaw
        turns = (0, 2, 1, 3) if shape.square else (0, 2)
        yaws = sorted(
            [base + k * math.pi / 2 for k in turns],
            # facing the reach first; a stable sort keeps the order of `turns` otherwise
            key=lambda y: abs(wrap_angle(y - reach_dir)) > math.pi / 2,
        )
    nudging: tuple[float, list[tuple[float, ...]]] | None = None
    walled: str | None = None
    for yaw in yaws:
        joints = _chain(
            world, rig, [(gx, gy, gz + HOVER), (gx, gy, gz), (gx, gy, gz + 0.15)], wrap_angle(yaw)
        )
        if joints is None:
            continue
        touched = _gripper_touches(world, rig, obj, (gx, gy, gz), wrap_angle(yaw))
        if touched is None:
            return wrap_angle(yaw), joints
        if touched in world.places:
            walled = walled or touched
        elif nudging is None:
            nudging = (wrap_angle(yaw), joints)
    if nudging is not None:
        # every grasp the arm reaches brushes another object: the first (the fingers
        # nudge a light object aside, as a real gripper does)
        return nudging
    if walled is not None:
        return walled
    return None


GRASP_TOUCH = 0.003
"""How deep the open gripper may graze something at a grasp (m): the pads skim the
surface a low object rests on."""
_PROBES: weakref.WeakKeyDictionary[object, dict[tuple[float, ...], int]] = (
    weakref.WeakKeyDictionary()
)


def _probe(world: Workspace, half: tuple[float, ...]) -> int:
    """A box collision shape (not a body) to query the scene with, made once per world
    (a client id is reused by the next world)."""
    shapes = _PROBES.setdefault(world, {})
    key = tuple(round(h, 4) for h in half)
    shape = shapes.get(key)
    if shape is None:
        shape = p.createCollisionShape(
            p.GEOM_BOX, halfExtents=list(half), physicsClientId=world.client
        )
        shapes[key] = shape
    return shape


def _gripper_touches(
    world: Workspace, rig: RobotRig, obj: str, point: Point, yaw: float
) -> str | None:
    """What the open gripper at a grasp of `obj` (between its pads at `point`, turned to
    `yaw`) would meet besides `obj` (a place: a sink's wall, a shelf's back panel; or
    an object standing next to it), None when clear."""
    assert rig.arm is not None
    c = world.client
    others = [(name, pl.body) for name, pl in world.places.items()]
    others += [(o, world.object_body(o)) for o in world.objects if o != obj]
    cos, sin = math.cos(yaw), math.sin(yaw)
    orientation = p.getQuaternionFromEuler((0.0, 0.0, yaw))
    for (cx, cy, cz), half in world.kinematics(rig.arm.model).gripper_boxes():
        at = (point[0] + cx * cos - cy * sin, point[1] + cx * sin + cy * cos, point[2] + cz)
        shape = _probe(world, half)
        for name, body in others:
            if p.getClosestPoints(
                bodyA=-1,
                bodyB=body,
                distance=-GRASP_TOUCH,
                collisionShapeA=shape,
                collisionShapePositionA=at,
                collisionShapeOrientationA=orientation,
                physicsClientId=c,
            ):
                return name
    return None


def start_pick(
    world: Workspace, rig: RobotRig, request: MotionRequest
) -> PhaseController | MotionResult:
    assert isinstance(request, Pick)
    obj = request.object
    if rig.arm is None:
        return _fail(MotionOutcome.precondition_failed, f"{rig.id} has no arm")
    if obj not in world.objects:
        return _fail(MotionOutcome.not_found, f"no object named {obj!r}")
    if rig.arm.held is not None:
        return _fail(
            MotionOutcome.precondition_failed,
            f"{rig.id}'s hand is full (holding {rig.arm.held[0]})",
        )
    holder = world.holder_of(obj)
    if holder is not None:
        return _fail(MotionOutcome.held_by_other, f"{obj} is held by {holder}")
    support = world.support_of(obj)
    if not (_support_reachable(world, rig, support) or _floor_reachable(rig, support)):
        where = f"on {support}" if support else "on the floor"
        return _fail(MotionOutcome.unreachable, f"{obj} is {where}, out of {rig.id}'s reach")
    plan = _grasp_plan(world, rig, obj)
    if plan is None:
        return _fail(MotionOutcome.unreachable, f"{obj} is outside {rig.id}'s workspace")
    if isinstance(plan, str):
        return _fail(
            MotionOutcome.unreachable,
            f"{obj} cannot be grasped where it lies: {rig.id}'s gripper would meet {plan}"
            " from every side it can reach",
        )
    yaw, (pre, grasp, lift) = plan
    # another arm over the object, or in the way there and back: tried low and from the
    # side, else refused before moving (arms share places: a fixed arm's counter, a
    # manipulator docked at its back, the fixed arm's stowed hand over the counter)
    others = _other_arms(world, rig)
    pose, shape = world.object_pose(obj), world.objects[obj].shape

    def load_at(dz: float, dx: float = 0.0, dy: float = 0.0) -> Box:
        x, y, r = pose.x + dx, pose.y + dy, shape.radius
        bottom = pose.z - shape.height / 2 + dz
        return ((x - r, y - r, bottom), (x + r, y + r, bottom + shape.height))

    m = rig.arm.model
    route = _clear_route(world, rig, pre, grasp, lift, [load_at(0.15)], others)
    if not isinstance(route, str):
        there = [MoveJoints(via, f"turning towards {obj}") for via in route[0]]
        back = [MoveJoints(via, f"turning back with {obj}") for via in route[1]]
        approach = [MoveJoints(pre, f"moving above {obj}")]
        leave = [MoveJoints(lift, f"lifting {obj}", speed=0.8)]
    else:
        low = _low_grasp(world, rig, obj, yaw, grasp, load_at, others)
        if low is None:
            return _fail(
                MotionOutcome.precondition_failed,
                f"{route}'s arm is in the way of {rig.id} picking {obj}: wait until it moves",
            )
        side, lifted, out = low
        there, back = [], []
        approach = [MoveJoints(side, f"moving beside {obj}")]
        leave = [
            MoveJoints(lifted, f"lifting {obj}", speed=0.5),
            MoveJoints(out, f"drawing {obj} clear of the other arm", speed=0.5),
        ]
    phases: list[Phase] = [
        Fingers(m.finger_open, 0.1, "opening the gripper"),
        *there,
        *approach,
        MoveJoints(grasp, f"reaching {obj}", speed=0.8),
        Fingers(0.0, 0.35, f"closing on {obj}"),
        Attach(obj, world.object_body(obj), grip_yaw=yaw),
        *leave,
        *back,
        MoveJoints(rig.arm.stow, f"stowing {obj}"),
    ]
    return PhaseController(rig, "arm", phases, obj=obj)


LOW_GRASPS = ((0.05, 0.1, 0.04), (0.05, 0.2, 0.04), (0.03, 0.2, 0.02), (0.02, 0.25, 0.02))
"""(height above the grasp, distance drawn back towards the arm, rise while drawn back:
the load never drags on the surface it came off) of the low approaches a pick tries,
lowest last, when the straight one from above meets another arm (m)."""


def _low_grasp(
    world: Workspace,
    rig: RobotRig,
    obj: str,
    yaw: float,
    grasp: tuple[float, ...],
    load_at: Callable[[float, float, float], Box],
    others: _Arms,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]] | None:
    """Joints (beside, lifted, out) for a grasp from the side, low under another arm's
    hand: in along the reach from `back` m nearer the arm, `hover` above the grasp point,
    lifted only `hover`, drawn back out the same way; None if every one meets an arm."""
    assert rig.arm is not None
    frame, _ = _arm_frame(world, rig)
    q = world.object_pose(obj)
    shape = world.objects[obj].shape
    gx = q.x + shape.grasp_offset * math.cos(q.yaw)
    gy = q.y + shape.grasp_offset * math.sin(q.yaw)
    gz = max(
        q.z - shape.height / 2 + shape.height * shape.grasp_height, q.z - shape.height / 2 + 0.015
    )
    reach = math.atan2(gy - frame.y, gx - frame.x)
    ux, uy = math.cos(reach), math.sin(reach)
    here, stow = tuple(rig.arm.commanded), tuple(rig.arm.stow)
    for hover, back, rise in LOW_GRASPS:
        sx, sy = gx - ux * back, gy - uy * back
        joints = _chain(
            world,
            rig,
            [(sx, sy, gz + hover), (gx, gy, gz + hover), (sx, sy, gz + hover + rise)],
            yaw,
        )
        if joints is None:
            continue
        side, lifted, out = joints
        postures = [
            *_path(here, side),
            *_path(side, grasp),
            *_path(grasp, lifted),
            *_path(lifted, out),
            *_path(out, stow),
        ]
        loads = [load_at(hover, 0.0, 0.0), load_at(hover + rise, -ux * back, -uy * back)]
        if _blocking_arm(world, rig, postures, loads, others) is None:
            return side, lifted, out
    return None


# -- place -----------------------------------------------------------------------------------------


def _spots(
    world: Workspace, rig: RobotRig, target: str, radius: float, exclude: str | None = None
) -> list[tuple[float, float, float]]:
    """Free points (x, y, surface z) on a place or tray, best first."""
    frame, _ = _arm_frame(world, rig)
    if target in world.places:
        pb = world.places[target]
        x0, x1, y0, y1 = pb.region
        step = 0.06
        local = [
            (x0 + radius + i * step, y0 + radius + j * step)
            for i in range(int((x1 - x0 - 2 * radius) / step) + 1)
            for j in range(int((y1 - y0 - 2 * radius) / step) + 1)
        ]
        points = [pb.frame.to_world(lx, ly) for lx, ly in local]
        z = pb.surface_z
        points.sort(key=lambda q: abs(math.hypot(q[0] - frame.x, q[1] - frame.y) - 0.45))
    else:
        other = world.robots[target]
        tray = other.tray
        assert tray is not None
        of = other.pose(world.client)
        z = tray.top_z
        offsets = [
            (0.0, 0.0),
            (0.1, 0.0),
            (-0.1, 0.0),
            (0.1, 0.1),
            (0.1, -0.1),
            (-0.1, 0.1),
            (-0.1, -0.1),
        ]
        points = [of.to_world(tray.centre[0] + dx, tray.centre[1] + dy) for dx, dy in offsets]
    others = [
        (world.object_pose(o), world.objects[o].shape.radius)
        for o in world.objects
        if o != exclude and world.holder_of(o) is None
    ]
    free = [
        (x, y, z)
        for x, y in points
        if math.hypot(x - frame.x, y - frame.y) <= (rig.arm.model.reach_m if rig.arm else 0.0)
        and all(
            math.hypot(x - q.x, y - q.y) >= radius + r + 0.015 or abs(q.z - z) > 0.3
            for q, r in others
        )
    ]
    return free


Box = tuple[Point, Point]
CLEARANCE = 0.01
"""Gap kept between a planned posture (and its load) and another robot's arm (m)."""


def _overlap(a: Box, b: Box, margin: float) -> bool:
    return all(a[0][i] - margin < b[1][i] and b[0][i] - margin < a[1][i] for i in range(3))


@dataclass(frozen=True)
class _Arms:
    """Every other robot's arm as it stands now: for the solver's collision check, and
    its links' boxes (what a load is checked against)."""

    names: list[str]
    arms: list[OtherArm]
    boxes: list[list[Box]]

    def boxed(self, box: Box) -> str | None:
        for name, boxes in zip(self.names, self.boxes, strict=True):
            if any(_overlap(box, b, CLEARANCE) for b in boxes):
                return name
        return None


def _other_arms(world: Workspace, rig: RobotRig) -> _Arms:
    c = world.client
    names: list[str] = []
    arms: list[OtherArm] = []
    boxes: list[list[Box]] = []
    for other in world.robots.values():
        if other is rig or other.arm is None:
            continue
        body = other.arm.body
        pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=c)
        joints = [
            j
            for j in range(p.getNumJoints(body, physicsClientId=c))
            if p.getJointInfo(body, j, physicsClientId=c)[2] != p.JOINT_FIXED
        ]
        states = p.getJointStates(body, joints, physicsClientId=c)
        names.append(other.id)
        arms.append(
            OtherArm(
                other.arm.model.urdf,
                Frame2(pos[0], pos[1], quat_yaw(orn)),
                pos[2],
                tuple((j, st[0]) for j, st in zip(joints, states, strict=True)),
            )
        )
        links: list[Box] = []
        for link in range(-1, p.getNumJoints(body, physicsClientId=c)):
            lo, hi = p.getAABB(body, link, physicsClientId=c)
            links.append(((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2])))
        boxes.append(links)
    return _Arms(names, arms, boxes)


def _blocking_arm(
    world: Workspace,
    rig: RobotRig,
    postures: list[tuple[float, ...]],
    loads: list[Box],
    others: _Arms,
) -> str | None:
    """The robot whose arm a planned move would run into: the postures on the way (and
    the load's boxes) against every other arm; None when clear. Arms share places (a
    fixed arm's counter, a mobile manipulator docked at its back), and a spot that is free
    of objects can still lie under the other arm's stowed wrist."""
    if not others.arms:
        return None
    assert rig.arm is not None
    for box in loads:
        hit = others.boxed(box)
        if hit is not None:
            return hit
    frame, z = _arm_frame(world, rig)
    kin = world.kinematics(rig.arm.model)
    for joints in postures:
        i = kin.touches(joints, frame, z, others.arms, CLEARANCE)
        if i is not None:
            return others.names[i]
    return None


def _blocking_place(
    world: Workspace, rig: RobotRig, postures: list[tuple[float, ...]]
) -> str | None:
    """The place a planned move would run the arm into (its links up to the wrist: the
    hand and fingers are the grasp's and release's to keep clear); None when clear. A
    straight joint-space move can dip the elbow into a basin's wall or a shelf's edge."""
    assert rig.arm is not None
    frame, z = _arm_frame(world, rig)
    m = rig.arm.model
    reach = m.reach_m + 0.2
    names: list[str] = []
    boxes: list[tuple[tuple[float, float, float], tuple[float, float, float], float]] = []
    for name, place in world.places.items():
        if math.hypot(place.frame.x - frame.x, place.frame.y - frame.y) > reach + max(
            place.depth, place.width
        ):
            continue
        for (px, py, pz), half in place.parts:
            cx, cy = place.frame.to_world(px, py)
            names.append(name)
            boxes.append(((cx, cy, pz), half, place.frame.yaw))
    if not boxes:
        return None
    kin = world.kinematics(m)
    links = frozenset(m.arm_joints)
    for joints in postures:
        i = kin.touches_boxes(joints, frame, z, boxes, 0.0, links)
        if i is not None:
            return names[i]
    return None


def _path(start: tuple[float, ...], end: tuple[float, ...], n: int = 4) -> list[tuple[float, ...]]:
    """Postures along a joint-space move (MoveJoints interpolates joints linearly)."""
    return [
        tuple(a + (b - a) * k / n for a, b in zip(start, end, strict=True)) for k in range(1, n + 1)
    ]


def _clear_route(
    world: Workspace,
    rig: RobotRig,
    pre: tuple[float, ...],
    down: tuple[float, ...],
    up: tuple[float, ...],
    loads: list[Box],
    others: _Arms,
) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]] | str:
    """Via postures (there, back) for a put-down clear of every other arm, or the
    robot whose arm is in the way. First straight from where the arm is; then turning
    the tucked arm towards the spot before reaching out: a straight joint-space move
    unfolds the forearm towards the front while the base joint still turns, through the
    space a second arm working the same place stows in."""
    assert rig.arm is not None
    here, stow = tuple(rig.arm.commanded), tuple(rig.arm.stow)
    blocker: str | None = None
    for turn in (False, True):
        go = [(pre[0], *here[1:])] if turn else []
        ret = [(up[0], *stow[1:])] if turn else []
        there, back = [here, *go, pre], [up, *ret, stow]
        postures = [
            *(q for a, b in pairwise(there) for q in _path(a, b)),
            down,
            *(q for a, b in pairwise(back) for q in _path(a, b)),
        ]
        blocker = _blocking_arm(world, rig, postures, loads, others)
        if blocker is None:
            return go, ret
    assert blocker is not None
    return blocker


def _load_touches(obj: str) -> Guard:
    def touches(world: Scene, rig: RobotRig) -> bool:
        assert rig.arm is not None
        body = world.object_body(obj)
        return any(
            cp[2] not in rig.bodies
            for cp in p.getContactPoints(bodyA=body, physicsClientId=world.client)
        )

    return touches


def start_place(
    world: Workspace, rig: RobotRig, request: MotionRequest
) -> PhaseController | MotionResult:
    assert isinstance(request, Place)
    obj, target = request.object, request.target
    if rig.arm is None:
        return _fail(MotionOutcome.precondition_failed, f"{rig.id} has no arm")
    if rig.arm.held is None or rig.arm.held[0] != obj:
        held = rig.arm.held[0] if rig.arm.held else "nothing"
        return _fail(
            MotionOutcome.precondition_failed, f"{rig.id} is not holding {obj} (it holds {held})"
        )
    shape = world.objects[obj].shape
    if target in world.objects:
        receptacle = world.objects[target]
        if not receptacle.receptacle:
            return _fail(MotionOutcome.precondition_failed, f"{target} is not a receptacle")
        if not _support_reachable(world, rig, world.support_of(target)):
            return _fail(MotionOutcome.unreachable, f"{target} is out of {rig.id}'s reach")
        if world.holder_of(target) is not None:
            return _fail(
                MotionOutcome.held_by_other, f"{target} is held by {world.holder_of(target)}"
            )
        rp = world.object_pose(target)
        floor = rp.z - receptacle.shape.height / 2 + receptacle.shape.rest_height()
        spots = [(rp.x, rp.y, floor)]
    elif target in world.places or (
        target in world.robots and world.robots[target].tray is not None
    ):
        if target == rig.id:
            return _fail(MotionOutcome.precondition_failed, f"{rig.id} cannot put {obj} on itself")
        if not _support_reachable(world, rig, target):
            return _fail(MotionOutcome.unreachable, f"{target} is out of {rig.id}'s reach")
        spots = _spots(world, rig, target, shape.radius, exclude=obj)
        if not spots and target in world.places:
            # nothing left of the surface for this object, from anywhere: true for every
            # robot until something leaves it (`full`: a replan puts nothing else on it)
            return _fail(
                MotionOutcome.unreachable, f"{target} has no free spot left for {obj}", full=target
            )
    elif target in world.robots:
        return _fail(MotionOutcome.precondition_failed, f"{target} has no tray to put {obj} on")
    else:
        return _fail(MotionOutcome.not_found, f"no place, robot or receptacle named {target!r}")
    ox, oy, oz = rig.arm.grip_offset
    rim = world.places[target].height if target in world.places else 0.0
    others = _other_arms(world, rig)
    blocked_by: str | None = None
    walled_by: str | None = None
    tried = 0
    for x, y, surface in spots:
        if tried >= 16:
            break
        # the column the load comes down through: under another arm, skip the spot
        # before solving for it
        column: Box = (
            (x - shape.radius, y - shape.radius, surface),
            (x + shape.radius, y + shape.radius, surface + shape.height + HOVER),
        )
        under = others.boxed(column)
        if under is not None:
            blocked_by = blocked_by or under
            continue
        for yaw in (rig.arm.grip_yaw, wrap_angle(rig.arm.grip_yaw + math.pi)):
            c, s = math.cos(yaw), math.sin(yaw)
            ex, ey = x - (c * ox - s * oy), y - (s * ox + c * oy)
            ez = surface + shape.height / 2 + DROP - oz
            if _gripper_touches(world, rig, obj, (ex, ey, ez), yaw) is not None:
                # the opening fingers would meet a wall or a neighbour here, and so
                # would the gripper picking it up again: another spot
                continue
            # above the spot, the load clears the place's rim (a sink's basin is deeper
            # than the usual hover)
            above = ez + max(HOVER, rim + RIM_CLEARANCE - surface - DROP)
            joints = _chain(world, rig, [(ex, ey, above), (ex, ey, ez), (ex, ey, above)], yaw)
            if joints is None:
                continue
            tried += 1
            pre, down, up = joints
            cz = surface + DROP + shape.height / 2
            loads = [
                (
                    (x - shape.radius, y - shape.radius, cz - shape.height / 2 + dz),
                    (x + shape.radius, y + shape.radius, cz + shape.height / 2 + dz),
                )
                for dz in (0.0, HOVER)
            ]
            route = _clear_route(world, rig, pre, down, up, loads, others)
            if isinstance(route, str):
                blocked_by = blocked_by or route
                continue
            here, stow = tuple(rig.arm.commanded), tuple(rig.arm.stow)
            wall = _blocking_place(
                world,
                rig,
                [
                    *(q for a, b in pairwise([here, *route[0], pre]) for q in _path(a, b)),
                    down,
                    *(q for a, b in pairwise([up, *route[1], stow]) for q in _path(a, b)),
                ],
            )
            if wall is not None:  # the elbow would meet a wall on the way: another spot
                walled_by = walled_by or wall
                continue
            m = rig.arm.model
            phases: list[Phase] = [
                *[MoveJoints(via, f"turning {obj} towards {target}") for via in route[0]],
                MoveJoints(pre, f"moving {obj} above {target}"),
                MoveJoints(down, f"lowering {obj}", speed=0.8, until=_load_touches(obj)),
                Fingers(m.finger_open, 0.3, f"releasing {obj}"),
                Detach(),
                MoveJoints(up, "retreating", speed=0.8),
                *[MoveJoints(via, "turning back") for via in route[1]],
                MoveJoints(rig.arm.stow, "stowing the arm"),
                Settle(obj, target),
            ]
            return PhaseController(rig, "arm", phases, obj=obj)
    if blocked_by is not None:
        return _fail(
            MotionOutcome.unreachable,
            f"every free spot on {target} within {rig.id}'s reach is blocked by {blocked_by}'s arm",
        )
    if walled_by is not None:
        return _fail(
            MotionOutcome.unreachable,
            f"{rig.id}'s arm would run into {walled_by} on the way to every free spot on"
            f" {target} within its reach",
        )
    return _fail(MotionOutcome.unreachable, f"no free spot on {target} within {rig.id}'s reach")


# -- tray ------------------------------------------------------------------------------------------


def start_unload(
    world: Workspace, rig: RobotRig, request: MotionRequest
) -> PhaseController | MotionResult:
    assert isinstance(request, Unload)
    obj = request.object
    if rig.tray is None:
        return _fail(MotionOutcome.precondition_failed, f"{rig.id} has no tray")
    if obj not in world.objects:
        return _fail(MotionOutcome.not_found, f"no object named {obj!r}")
    if world.support_of(obj) != rig.id:
        return _fail(MotionOutcome.precondition_failed, f"{obj} is not on {rig.id}'s tray")
    if rig.place is None:
        return _fail(MotionOutcome.precondition_failed, f"{rig.id} is not docked at a place")
    in_the_way = _landing_taken(world, rig, obj)
    if in_the_way is not None:
        # pushed off the tray it would land on (or against) that one: refused before the
        # pusher moves, the load still on the tray for an arm to take
        return _fail(
            MotionOutcome.unreachable,
            f"{in_the_way} lies where {obj} would land on {rig.place} in front of {rig.id}",
        )
    phases: list[Phase] = [
        PusherTo(rig.tray.pusher_travel, f"pushing {obj} onto {rig.place}", load=obj),
        PusherTo(0.0, "retracting the pusher", speed=0.6),
        Settle(obj, rig.place),
    ]
    return PhaseController(rig, "tray", phases, obj=obj)


UNLOAD_PAST_EDGE = 0.1
"""How far past the tray's front edge the pusher carries a load (m): where it lands."""


def _landing_taken(world: Workspace, rig: RobotRig, obj: str) -> str | None:
    """The object resting (on the place the robot is docked at, or on something there)
    where `obj` would land when pushed off the tray; None when the spot is clear."""
    tray, place = rig.tray, rig.place
    assert tray is not None and place is not None
    frame = rig.pose(world.client)
    here = world.object_pose(obj)
    _, ly = frame.to_local(here.x, here.y)
    radius = world.objects[obj].shape.radius
    x, y = frame.to_world(tray.centre[0] + tray.length / 2 + UNLOAD_PAST_EDGE + radius, ly)
    for other in world.objects:
        if other == obj or world.holder_of(other) is not None:
            continue
        support, seen = world.support_of(other), 0
        while support is not None and support in world.objects and seen < 8:  # in a bowl there
            support, seen = world.support_of(support), seen + 1
        if support != place:
            continue
        q = world.object_pose(other)
        if math.hypot(q.x - x, q.y - y) < radius + world.objects[other].shape.radius + 0.02:
            return other
    return None


# -- articulated places ----------------------------------------------------------------------------


class _DrawerCheck(Phase):
    label = "checking the drawer"

    def __init__(self, place: str, want_open: bool) -> None:
        self.place, self.want_open = place, want_open

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        if world.drawer_open(self.place) == self.want_open:
            return True
        state = "open" if self.want_open else "closed"
        return MotionResult(
            outcome=MotionOutcome.failed, message=f"{self.place}'s drawer did not end {state}"
        )


def start_operate(
    world: Workspace, rig: RobotRig, request: MotionRequest
) -> PhaseController | MotionResult:
    assert isinstance(request, Operate)
    target = request.target
    if rig.arm is None:
        return _fail(MotionOutcome.precondition_failed, f"{rig.id} has no arm")
    pb = world.places.get(target)
    if pb is None:
        return _fail(MotionOutcome.not_found, f"no place named {target!r}")
    if pb.drawer is None:
        return _fail(MotionOutcome.precondition_failed, f"{target} has nothing to open or close")
    if rig.arm.held is not None:
        return _fail(
            MotionOutcome.precondition_failed,
            f"{rig.id}'s hand is full (holding {rig.arm.held[0]})",
        )
    if target not in _reachable_places(rig):
        return _fail(MotionOutcome.unreachable, f"{target} is out of {rig.id}'s reach")
    if world.drawer_open(target) == request.open:
        return MotionResult(
            outcome=MotionOutcome.done,
            message=f"{target} is already {'open' if request.open else 'closed'}",
        )
    drawer = pb.drawer
    q = p.getJointState(pb.body, drawer.joint, physicsClientId=world.client)[0]
    goal = drawer.travel if request.open else 0.0
    hx, hy, hz = drawer.handle
    yaw = pb.frame.yaw  # fingers close across the fin, the hand's long side along the front

    def at(d: float, dz: float = 0.0) -> Point:
        x, y = pb.frame.to_world(hx + d, hy)
        return (x, y, hz + dz)

    n = 5
    path = [
        at(q, 0.1),
        at(q),
        *[at(q + (goal - q) * k / n) for k in range(1, n + 1)],
        at(goal, 0.1),
    ]
    joints = _chain(world, rig, path, yaw)
    if joints is None:
        return _fail(
            MotionOutcome.unreachable, f"{target}'s handle is outside {rig.id}'s workspace"
        )
    m = rig.arm.model
    phases: list[Phase] = [
        Fingers(m.finger_open, 0.1, "opening the gripper"),
        MoveJoints(joints[0], f"moving above {target}'s handle"),
        MoveJoints(joints[1], "reaching the handle", speed=0.8),
        Fingers(0.0, 0.3, "grasping the handle"),
        Attach(f"{target} handle", pb.body, drawer.joint, grip_yaw=yaw),
        *[MoveJoints(j, "pulling" if request.open else "pushing", speed=0.5) for j in joints[2:-1]],
        Detach(),
        Fingers(m.finger_open, 0.25, "letting go of the handle"),
        MoveJoints(joints[-1], "retreating"),
        MoveJoints(rig.arm.stow, "stowing the arm"),
        _DrawerCheck(target, request.open),
    ]
    return PhaseController(rig, "arm", phases)


# -- free motion ------------------------------------------------------------------------------
TOOL_TOLERANCE_M = 0.01
"""How close the end effector must come to each waypoint of a free motion."""
TOOL_STEP_M = 0.03
"""Spacing of the IK points a straight segment of a free motion is cut into."""


def _tool_point(world: Scene, rig: RobotRig) -> Point:
    assert rig.arm is not None
    state = p.getLinkState(rig.arm.body, rig.arm.model.ee_link, physicsClientId=world.client)
    x, y, z = state[4]
    return (x, y, z)


class _ToolAt(Phase):
    """Wait until the end effector has settled on a waypoint (read from the simulation,
    not from the commanded joints)."""

    def __init__(self, index: int, target: Point) -> None:
        self.index, self.target = index, target
        self.label = f"settling on waypoint {index}"
        self.reached = False
        self._t = 0.0

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        self._t += dt
        assert rig.arm is not None
        state = p.getLinkState(rig.arm.body, rig.arm.model.ee_link, physicsClientId=world.client)
        here = state[4]
        if math.dist(here, self.target) <= TOOL_TOLERANCE_M:
            self.reached = True
            return True
        if self._t < 1.0:
            return None
        return MotionResult(
            outcome=MotionOutcome.collision,
            message=f"the end effector stopped {math.dist(here, self.target):.3f} m short of"
            f" waypoint {self.index}",
            data={"reached": self.index},
        )


def start_move_tool(
    world: Workspace, rig: RobotRig, request: MotionRequest
) -> PhaseController | MotionResult:
    """Plan a free motion: every waypoint (and the straight line to it) solved by IK up
    front, so an out-of-reach pose fails before anything moves."""
    assert isinstance(request, MoveTool)
    if rig.arm is None:
        return _fail(MotionOutcome.precondition_failed, f"{rig.id} has no arm")
    arm = rig.arm
    frame, base_z = _arm_frame(world, rig)
    kin = world.kinematics(arm.model)
    start = _tool_point(world, rig)
    phases: list[Phase] = []
    seed: tuple[float, ...] | None = tuple(arm.commanded)
    for i, waypoint in enumerate(request.path):
        goal = (waypoint.x, waypoint.y, waypoint.z)
        out = math.dist((frame.x, frame.y, base_z), goal)
        if out > arm.model.reach_m:
            return _fail(
                MotionOutcome.unreachable,
                f"waypoint {i} ({goal[0]:.2f}, {goal[1]:.2f}, {goal[2]:.2f}) is {out:.2f} m"
                f" from {rig.id}'s arm base, beyond its {arm.model.reach_m:.2f} m reach",
            )
        n = max(1, math.ceil(math.dist(start, goal) / TOOL_STEP_M))
        for k in range(1, n + 1):
            f = k / n
            pt = (
                start[0] + (goal[0] - start[0]) * f,
                start[1] + (goal[1] - start[1]) * f,
                start[2] + (goal[2] - start[2]) * f,
            )
            sol = kin.solve(frame, base_z, pt, frame.yaw, seed, waypoint.orientation)
            if not sol.ok:
                return _fail(
                    MotionOutcome.unreachable,
                    f"waypoint {i} ({goal[0]:.2f}, {goal[1]:.2f}, {goal[2]:.2f}) is outside"
                    f" {rig.id}'s workspace in that orientation (IK misses by"
                    f" {sol.error_m:.3f} m)",
                )
            seconds = math.dist(start, goal) / n / request.speed
            span = max(abs(a - b) for a, b in zip(sol.joints, seed or sol.joints, strict=True))
            phases.append(
                MoveJoints(sol.joints, f"moving to waypoint {i}", speed=max(span / seconds, 0.05))
            )
            seed = sol.joints
        phases.append(_ToolAt(i, goal))
        start = goal
    return _ToolController(rig, phases)


class _ToolController(PhaseController):
    """A phased free motion whose result says how many waypoints were reached and
    where the end effector ended, however it ended (a cancel midway included)."""

    def __init__(self, rig: RobotRig, phases: list[Phase]) -> None:
        super().__init__(rig, "arm", phases)
        self.checks = [ph for ph in phases if isinstance(ph, _ToolAt)]

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        out = super().step(world, dt)
        if out is None:
            return None
        arm = self.rig.arm
        assert arm is not None
        state = p.getLinkState(arm.body, arm.model.ee_link, physicsClientId=world.client)
        x, y, z = state[4]
        reached = sum(1 for c in self.checks if c.reached)
        return out.model_copy(
            update={"pose": Pose(x=x, y=y, z=z), "data": {**out.data, "reached": reached}}
        )
