"""`KinematicWorld`: the simulated world without physics, for fleets too large for pybullet.

Robots are points with a heading and a footprint; a drive turns to face its goal, goes
there in a straight line at the robot's speed and turns to the docked heading; an arm
motion takes a fixed time; a grasp is a state change (the object becomes held), a place
puts the object at a free spot of the target. Reach is geometric: an arm reaches what
lies on the place it is docked at (a fixed arm: its `reach` places) within `ARM_REACH_M`
of its shoulder. Docking slots are reserved as in the physics world (one robot per slot,
the brain arbitrates who gets which); furniture is not an obstacle, and a drive whose
goal is another robot's footprint is refused.

Time is simulated and event driven: `run()` jumps to the next motion's end (or, with
`real_time`, waits for the wall clock to reach it), so an idle fleet of any size costs
nothing and a pose is computed only when asked for (`robot_pose`, `poses`). It offers
the methods of `SimWorld` that `WorldActor`, `LocalWorldClient`, seeding, observation
and fault injection use, so the same driver and skills run on it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from robo_os_memory.models import AttrValue, Pose

from ..errors import ConfigError, UnknownNameError
from ..fleet import FleetConfig, RobotConfig
from ..settings import SimSettings
from ..skill.observation import Observation, ObservedObject
from ..skill.parts import CameraImage, DockSlot, MotionOutcome, MotionResult
from .geometry import Frame2, wrap_angle
from .models import (
    MotionRequest,
    MoveTool,
    Navigate,
    ObjectInfo,
    Operate,
    Pick,
    Place,
    PlaceInfo,
    RobotInfo,
    Unload,
    WorldInfo,
)
from .objects import builtin_object_shapes, object_attrs
from .observation import NEAR_M
from .restore import WorldMemory
from .scene import PlaceBody as _PlaceGeometry
from .scene import PlaceKind, Slot, _front_yaw, _slots, builtin_place_kinds

__all__ = ["ARM_REACH_M", "KinematicBody", "KinematicWorld", "builtin_bodies"]

log = logging.getLogger(__name__)

ARM_REACH_M = 0.85
"""How far (m, horizontally) an arm reaches from its shoulder (a Panda's 0.855 m)."""


@dataclass(frozen=True)
class KinematicBody:
    """What the kinematic world knows of an embodiment."""

    capabilities: frozenset[str]
    half_length: float = 0.25
    half_width: float = 0.25
    speed: float = 1.0
    """Driving speed (m/s), as the physics world's navigation controller."""
    turn_rate: float = 2.5
    """Turning speed (rad/s)."""
    arm_s: float = 2.0
    """How long one arm motion (pick, place, operate) takes (s)."""
    shoulder: tuple[float, float] | None = None
    """Where the arm is mounted in the robot's frame; None: no arm."""
    tray_top: float | None = None
    """Height of the tray's top; None: no tray."""

    @property
    def radius(self) -> float:
        return math.hypot(self.half_length, self.half_width)


def builtin_bodies() -> dict[str, KinematicBody]:
    """The builtin embodiments (robo_os/sim/embodiments.py) as kinematic bodies."""
    return {
        "fixed_arm": KinematicBody(
            frozenset({"manipulate", "camera"}), 0.1, 0.1, speed=0.0, shoulder=(0.0, 0.0)
        ),
        "carrier": KinematicBody(frozenset({"navigate", "carry"}), 0.25, 0.22, tray_top=0.78),
        "mobile_manipulator": KinematicBody(
            frozenset({"navigate", "manipulate", "camera"}), shoulder=(0.1, 0.0)
        ),
    }


@dataclass
class _Robot:
    config: RobotConfig
    body: KinematicBody
    frame: Frame2
    place: str | None = None
    slot: Slot | None = None
    held: str | None = None

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def mobile(self) -> bool:
        return "navigate" in self.body.capabilities


@dataclass
class _Object:
    name: str
    type: str
    attrs: dict[str, AttrValue]
    x: float
    y: float
    z: float
    yaw: float
    on: str | None
    """A place, a robot (its tray) or a receptacle object; None: held or on the floor."""
    local: tuple[float, float] = (0.0, 0.0)
    """Offset in its carrier robot's frame (on a tray)."""
    height: float = 0.1
    receptacle: bool = False


@dataclass
class _Motion:
    id: str
    robot: str
    part: str
    t0: float
    end: float
    finish: _Finish | None
    path: tuple[Frame2, Frame2] | None = None
    """A drive's start and goal."""
    span: float | None = None
    """How long the whole drive from start to goal takes, when the motion ends before it
    (a blocked path): positions follow this pace, not the shortened end."""
    result: MotionResult | None = None
    stuck: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class _Finish:
    """What a motion does to the world when it ends (or is cut short)."""

    def __init__(self, done: object, stopped: object = None) -> None:
        self.done = done
        self.stopped = stopped


class KinematicWorld:
    """A simulated household without physics (see the module doc). Nothing to release,
    but `close()` is offered as `SimWorld` does."""

    def __init__(
        self,
        fleet: FleetConfig,
        settings: SimSettings | None = None,
        *,
        bodies: dict[str, KinematicBody] | None = None,
        place_kinds: dict[str, PlaceKind] | None = None,
        memory: WorldMemory | None = None,
    ) -> None:
        self.fleet = fleet
        self.settings = settings or SimSettings()
        self.sim_time = 0.0
        self.steps = 0
        self.restore_notes: tuple[str, ...] = ()
        self._bodies = bodies or builtin_bodies()
        kinds = place_kinds or builtin_place_kinds()
        self.places: dict[str, _PlaceGeometry] = {}
        self.objects: dict[str, _Object] = {}
        self.robots: dict[str, _Robot] = {}
        self._drawers: dict[str, bool] = {}
        self._motions: OrderedDict[str, _Motion] = OrderedDict()
        self._active: dict[str, _Motion] = {}
        self._ids = itertools.count(1)
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._halted: set[str] = set()
        self.faults = _Faults(self.settings)
        shapes = builtin_object_shapes()
        for pc in fleet.scene.places:
            self.places[pc.name] = _place(pc, kinds)
            if pc.kind in kinds and kinds[pc.kind].drawer:
                self._drawers[pc.name] = pc.attrs.get("open") is True
        rng = random.Random(self.settings.seed)
        for oc in fleet.scene.objects:
            pb = self.places[oc.at]
            x, y = Frame2(pb.config.pose.x, pb.config.pose.y, pb.config.pose.yaw).to_world(
                *oc.offset
            )
            shape = shapes.get(oc.type, shapes["cube"])
            self.objects[oc.name] = _Object(
                oc.name,
                oc.type,
                object_attrs(oc),
                x,
                y,
                pb.surface_z + shape.height / 2,
                pb.config.pose.yaw + rng.uniform(-0.15, 0.15),
                oc.at,
                height=shape.height,
                receptacle=shape.receptacle or oc.receptacle,
            )
        for rc in fleet.robots:
            self._spawn(rc)
        if memory is not None and not memory.empty:
            self.restore_notes = tuple(self._restore(memory))
        log.info(
            "kinematic world built: %d places, %d objects, %d robots",
            len(self.places),
            len(self.objects),
            len(self.robots),
        )

    # -- building ------------------------------------------------------------------------------
    def _spawn(self, rc: RobotConfig) -> None:
        body = self._bodies.get(rc.embodiment)
        if body is None:
            raise ConfigError(
                str(UnknownNameError("embodiment", rc.embodiment, list(self._bodies)))
            )
        place = self.places.get(rc.at)
        if place is None:
            raise ConfigError(
                str(UnknownNameError("place", rc.at, list(self.places))) + f" (robot {rc.id!r})"
            )
        robot = _Robot(rc, body, place.frame)
        if not robot.mobile:
            if rc.mount is not None:
                robot.frame = Frame2(rc.mount.x, rc.mount.y, rc.mount.yaw)
            else:
                robot.frame = place.frame.compose(place.depth / 2 - 0.2, 0.0, math.pi)
            robot.place = rc.at
        else:
            slot = next((s for s in place.slots if s.occupant is None), None)
            if slot is None:  # every slot taken: wait in front of the place, undocked
                robot.frame = place.frame.compose(place.depth / 2 + 0.9, 0.0, math.pi)
            else:
                slot.occupant, robot.slot, robot.place = rc.id, slot, rc.at
                robot.frame = slot.dock_pose(body.half_length)
        self.robots[rc.id] = robot

    def _restore(self, memory: WorldMemory) -> list[str]:
        """Put robots and objects where memory has them (a restart); returns what could
        not be honoured."""
        notes: list[str] = []
        for rec in memory.robots:
            robot = self.robots.get(rec.id)
            if robot is None or not robot.mobile:
                continue
            if rec.place is not None and rec.place in self.places:
                slots = self.places[rec.place].slots
                slot = next((s for s in slots if s.index == rec.slot), None)
                if slot is not None and slot.occupant in (None, robot.id):
                    self._undock(robot)
                    slot.occupant, robot.slot, robot.place = robot.id, slot, rec.place
                    robot.frame = slot.dock_pose(robot.body.half_length)
                    continue
            if rec.pose is not None:
                self._undock(robot)
                robot.frame = Frame2(rec.pose.x, rec.pose.y, rec.pose.yaw)
        for orec in memory.objects:
            ob = self.objects.get(orec.name)
            if ob is None:
                notes.append(f"{orec.name} is not in the scene")
                continue
            holder = orec.held_by
            if holder is not None and holder in self.robots and self.robots[holder].held is None:
                self._grasp(self.robots[holder], ob)
            elif orec.pose is not None:
                ob.x, ob.y, ob.z, ob.yaw = orec.pose.x, orec.pose.y, orec.pose.z, orec.pose.yaw
                ob.on = orec.on if orec.on in self.places or orec.on in self.objects else None
                if orec.on in self.robots:
                    self._put_on_tray(self.robots[orec.on], ob)
        return notes

    # -- queries -------------------------------------------------------------------------------
    def _frame_now(self, robot: _Robot) -> Frame2:
        motion = self._base_motion(robot.id)
        if motion is None or motion.path is None:
            return robot.frame
        return _along(motion, self.sim_time)

    def _base_motion(self, robot_id: str) -> _Motion | None:
        for m in self._active.values():
            if m.robot == robot_id and m.part == "base":
                return m
        return None

    def robot_pose(self, robot_id: str) -> Pose:
        f = self._frame_now(self.robots[robot_id])
        return Pose(x=f.x, y=f.y, yaw=f.yaw)

    def poses(self) -> dict[str, Pose]:
        """Every robot's pose now (one publish round for the whole fleet)."""
        return {r: self.robot_pose(r) for r in self.robots}

    def object_pose(self, name: str) -> Pose:
        ob = self.objects[name]
        carrier = self._carrier(ob)
        if carrier is not None:
            robot, z = carrier
            f = self._frame_now(robot)
            if robot.held == name and robot.body.shoulder is not None:
                x, y = f.to_world(robot.body.shoulder[0] + 0.3, robot.body.shoulder[1])
            else:
                x, y = f.to_world(*ob.local)
            return Pose(x=x, y=y, z=z, yaw=f.yaw)
        return Pose(x=ob.x, y=ob.y, z=ob.z, yaw=ob.yaw)

    def _carrier(self, ob: _Object) -> tuple[_Robot, float] | None:
        holder = self.holder_of(ob.name)
        if holder is not None:
            return self.robots[holder], 1.0
        if ob.on in self.robots:
            robot = self.robots[ob.on]
            return robot, (robot.body.tray_top or 0.0) + ob.height / 2
        return None

    def holder_of(self, obj: str) -> str | None:
        for robot in self.robots.values():
            if robot.held == obj:
                return robot.id
        return None

    def support_of(self, obj: str) -> str | None:
        return self.objects[obj].on

    def tray_contents(self, robot_id: str) -> list[str]:
        return sorted(o.name for o in self.objects.values() if o.on == robot_id)

    def robot_info(self, robot_id: str) -> RobotInfo:
        robot = self.robots[robot_id]
        return RobotInfo(
            id=robot.id,
            embodiment=robot.config.embodiment,
            capabilities=tuple(sorted(robot.body.capabilities)),
            pose=self.robot_pose(robot_id),
            place=robot.place,
            slot=robot.slot.index if robot.mobile and robot.slot is not None else None,
            reach=() if robot.mobile else (robot.config.at, *robot.config.reach),
            holding=robot.held,
            tray=tuple(self.tray_contents(robot_id)) if robot.body.tray_top else (),
            busy=tuple(sorted(m.part for m in self._active.values() if m.robot == robot_id)),
        )

    def object_info(self, name: str) -> ObjectInfo:
        ob = self.objects[name]
        return ObjectInfo(
            name=name,
            type=ob.type,
            pose=self.object_pose(name),
            on=ob.on,
            held_by=self.holder_of(name),
            attrs=ob.attrs,
        )

    def place_info(self, name: str) -> PlaceInfo:
        cfg = self.places[name].config
        attrs = dict(cfg.attrs)
        if name in self._drawers:
            attrs["open"] = self._drawers[name]
        return PlaceInfo(
            name=name,
            kind=cfg.kind,
            pose=cfg.pose,
            size=cfg.size,
            attrs=attrs,
            articulated=name in self._drawers,
        )

    def describe(self) -> WorldInfo:
        return WorldInfo(
            places=tuple(self.place_info(n) for n in self.places),
            objects=tuple(self.object_info(n) for n in self.objects),
            robots=tuple(self.robot_info(r) for r in self.robots),
            sim_time=self.sim_time,
            engine="kinematic",
        )

    def observed_object(self, obj: str) -> ObservedObject:
        return ObservedObject(
            name=obj,
            pose=self.object_pose(obj),
            on=self.objects[obj].on,
            held_by=self.holder_of(obj),
        )

    def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]:
        return tuple(
            self.observed_object(o) for o in (names or tuple(self.objects)) if o in self.objects
        )

    def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        robot = self.robots[robot_id]
        info = self.robot_info(robot_id)
        near = {
            o
            for o in self.objects
            if self.object_pose(o).distance_to(info.pose) <= NEAR_M or robot.held == o
        }
        names = sorted(near | {o for o in expect if o in self.objects})
        return Observation(
            robot=robot_id,
            pose=info.pose,
            place=info.place,
            slot=info.slot,
            has_slots=robot.mobile,
            holding=info.holding,
            has_gripper=robot.body.shoulder is not None,
            tray=info.tray if robot.body.tray_top is not None else None,
            objects=tuple(self.observed_object(o) for o in names),
            missing=tuple(sorted(o for o in expect if o not in self.objects)),
        )

    def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        """The place's slots, the free ones nearest the robot first."""
        robot = self.robots[robot_id]
        f = self._frame_now(robot)
        ranked = sorted(
            self.places[place].slots,
            key=lambda s: (s.occupant not in (None, robot_id), s.frame.distance_to(f.x, f.y)),
        )
        return [DockSlot(index=s.index) for s in ranked]

    def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        """No pixels in a kinematic world: a 1x1 image naming what is near."""
        import numpy as np

        from .png import encode_png

        seen = tuple(o.name for o in self.observe(robot_id).objects)
        return CameraImage(
            png=encode_png(np.zeros((1, 1, 3), dtype=np.uint8)), width=1, height=1, visible=seen
        )

    # -- reach -----------------------------------------------------------------------------------
    def _shoulder(self, robot: _Robot) -> tuple[float, float] | None:
        if robot.body.shoulder is None:
            return None
        return self._frame_now(robot).to_world(*robot.body.shoulder)

    def _reach_places(self, robot: _Robot) -> set[str]:
        if not robot.mobile:
            return {robot.config.at, *robot.config.reach}
        return {robot.place} if robot.place is not None else set()

    def _within(self, robot: _Robot, x: float, y: float) -> bool:
        shoulder = self._shoulder(robot)
        return shoulder is not None and math.dist(shoulder, (x, y)) <= ARM_REACH_M

    def _support_reached(self, robot: _Robot, support: str | None) -> bool:
        places = self._reach_places(robot)
        if support is None:
            return robot.mobile  # a loose object on the floor: the skill drives next to it
        if support in self.places:
            return support in places
        if support in self.robots:
            return self.robots[support].place in places
        if support in self.objects:
            return self._support_reached(robot, self.objects[support].on)
        return False

    def reaches(self, robot_id: str, target: str) -> bool:
        robot = self.robots[robot_id]
        if robot.body.shoulder is None:
            return False
        if target in self.objects:
            if self.holder_of(target) is not None:
                return False
            pose = self.object_pose(target)
            return self._support_reached(robot, self.objects[target].on) and self._within(
                robot, pose.x, pose.y
            )
        if target in self.places:
            return target in self._reach_places(robot) and self._spot(robot, target) is not None
        if target in self.robots:
            other = self.robots[target]
            if other.body.tray_top is None or other.place not in self._reach_places(robot):
                return False
            f = self._frame_now(other)
            return self._within(robot, f.x, f.y)
        return False

    def _spot(
        self, robot: _Robot, place: str, clearance: float = 0.12
    ) -> tuple[float, float] | None:
        """A free spot on the place's surface within the arm's reach, nearest the arm."""
        pb = self.places[place]
        x0, x1, y0, y1 = pb.region
        taken = [(o.x, o.y) for o in self.objects.values() if o.on == place]
        shoulder = self._shoulder(robot)
        best: tuple[float, tuple[float, float]] | None = None
        steps = 8
        for i in range(steps + 1):
            for j in range(steps + 1):
                x, y = pb.frame.to_world(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * j / steps)
                if any(math.dist((x, y), t) < clearance for t in taken):
                    continue
                if not self._within(robot, x, y):
                    continue
                d = math.dist(shoulder, (x, y)) if shoulder is not None else 0.0
                if best is None or d < best[0]:
                    best = (d, (x, y))
        return best[1] if best else None

    # -- state changes -------------------------------------------------------------------------
    def _grasp(self, robot: _Robot, ob: _Object) -> None:
        ob.on = None
        robot.held = ob.name

    def _put_on_tray(self, carrier: _Robot, ob: _Object) -> None:
        f = self._frame_now(carrier)
        n = len(self.tray_contents(carrier.id))
        ob.on, ob.local = carrier.id, (0.0, 0.1 * (n % 3 - 1))
        ob.yaw = f.yaw

    def _drop(self, robot: _Robot) -> str | None:
        """Let go of the held object: it falls to the floor below."""
        if robot.held is None:
            return None
        ob = self.objects[robot.held]
        pose = self.object_pose(ob.name)
        robot.held = None
        ob.x, ob.y, ob.z, ob.yaw, ob.on = pose.x, pose.y, ob.height / 2, pose.yaw, None
        return ob.name

    def _undock(self, robot: _Robot) -> None:
        if robot.slot is not None and robot.slot.occupant == robot.id:
            robot.slot.occupant = None
        robot.slot, robot.place = None, None

    # -- motions ---------------------------------------------------------------------------------
    def start(self, robot_id: str, request: MotionRequest) -> str:
        """Start a motion (see `SimWorld.start`); a refused one is finished at once."""
        motion_id = f"m{next(self._ids)}"
        robot = self.robots.get(robot_id)
        outcome: MotionResult | _Motion
        if robot is None:
            outcome = _fail(MotionOutcome.not_found, f"no robot {robot_id!r} in the world")
        elif robot_id in self._halted:
            outcome = _fail(
                MotionOutcome.precondition_failed,
                f"{robot_id} is halted (its agent was declared dead)",
            )
        else:
            outcome = self._plan(motion_id, robot, request)
            if isinstance(outcome, _Motion) and any(
                m.robot == robot_id and m.part == outcome.part for m in self._active.values()
            ):
                outcome = _fail(
                    MotionOutcome.precondition_failed,
                    f"{robot_id}'s {outcome.part} is busy with another motion",
                )
        if isinstance(outcome, MotionResult):
            motion = _Motion(motion_id, robot_id, request.kind, self.sim_time, self.sim_time, None)
            motion.result = outcome
            motion.done.set()
        else:
            motion = outcome
            assert robot is not None
            self.faults.apply(self, robot, request, motion)
            if motion.part == "base":
                self._undock(robot)
            self._active[motion_id] = motion
            self._wake.set()
        self._motions[motion_id] = motion
        while len(self._motions) > 4096:
            self._motions.popitem(last=False)
        return motion_id

    def _plan(self, mid: str, robot: _Robot, request: MotionRequest) -> _Motion | MotionResult:
        t = self.sim_time
        body = robot.body
        if isinstance(request, Navigate):
            if not robot.mobile:
                return _fail(MotionOutcome.precondition_failed, f"{robot.id} cannot drive")
            return self._navigate(mid, robot, request)
        if body.shoulder is None and not isinstance(request, Unload):
            return _fail(MotionOutcome.precondition_failed, f"{robot.id} has no arm")
        if isinstance(request, Pick):
            name = request.object
            if name not in self.objects:
                return _fail(MotionOutcome.not_found, f"no object {name!r}")
            holder = self.holder_of(name)
            if holder is not None:
                return _fail(MotionOutcome.held_by_other, f"{name} is held by {holder}")
            if robot.held is not None:
                return _fail(MotionOutcome.precondition_failed, f"{robot.id} holds {robot.held}")
            if not self.reaches(robot.id, name):
                return _fail(MotionOutcome.unreachable, f"{name} is out of {robot.id}'s reach")
            ob = self.objects[name]

            def picked() -> MotionResult:
                self._grasp(robot, ob)
                return MotionResult(outcome=MotionOutcome.done, pose=self.object_pose(name))

            return _Motion(mid, robot.id, "arm", t, t + body.arm_s, _Finish(picked))
        if isinstance(request, Place):
            return self._place(mid, robot, request)
        if isinstance(request, Unload):
            return self._unload(mid, robot, request)
        if isinstance(request, Operate):
            if request.target not in self._drawers:
                return _fail(MotionOutcome.not_found, f"{request.target} has no drawer")
            if request.target not in self._reach_places(robot):
                return _fail(
                    MotionOutcome.unreachable, f"{request.target} is out of {robot.id}'s reach"
                )
            if robot.held is not None:
                return _fail(MotionOutcome.precondition_failed, f"{robot.id} holds {robot.held}")

            def operated() -> MotionResult:
                self._drawers[request.target] = request.open
                return MotionResult(outcome=MotionOutcome.done)

            return _Motion(mid, robot.id, "arm", t, t + body.arm_s, _Finish(operated))
        assert isinstance(request, MoveTool)
        length, prev = 0.0, (0.0, 0.0, 0.0)
        for tp in request.path:
            here = (tp.x, tp.y, tp.z)
            if math.hypot(tp.x, tp.y) > ARM_REACH_M:
                return _fail(MotionOutcome.unreachable, "a waypoint is out of the arm's reach")
            length, prev = length + math.dist(prev, here), here
        return _Motion(
            mid,
            robot.id,
            "arm",
            t,
            t + length / request.speed,
            _Finish(lambda: MotionResult(outcome=MotionOutcome.done)),
        )

    def _navigate(self, mid: str, robot: _Robot, request: Navigate) -> _Motion | MotionResult:
        body = robot.body
        slot: Slot | None = None
        if request.target is not None:
            place = self.places.get(request.target)
            if place is None:
                return _fail(MotionOutcome.not_found, f"no place {request.target!r}")
            slots = [s for s in place.slots if request.slot is None or s.index == request.slot]
            if not slots:
                return _fail(
                    MotionOutcome.not_found, f"{request.target} has no slot {request.slot}"
                )
            free = [s for s in slots if s.occupant in (None, robot.id)]
            if not free:
                return _fail(
                    MotionOutcome.held_by_other,
                    f"every slot of {request.target} asked for is taken ({slots[0].occupant})",
                )
            start = self._frame_now(robot)
            slot = min(free, key=lambda s: s.frame.distance_to(start.x, start.y))
            goal = slot.dock_pose(body.half_length)
        elif request.pose is not None:
            goal = Frame2(request.pose.x, request.pose.y, request.pose.yaw)
        else:
            return _fail(MotionOutcome.failed, "a drive needs a target or a pose")
        for other in self.robots.values():
            if other.id == robot.id or not other.mobile:
                continue
            f = self._frame_now(other)
            if f.distance_to(goal.x, goal.y) < other.body.radius + body.radius - 0.05:
                return _fail(MotionOutcome.collision, f"the goal is inside {other.id}'s footprint")
        start = self._frame_now(robot)
        d = start.distance_to(goal.x, goal.y)
        heading = math.atan2(goal.y - start.y, goal.x - start.x) if d > 1e-6 else start.yaw
        turns = abs(wrap_angle(heading - start.yaw)) + abs(wrap_angle(goal.yaw - heading))
        if d <= 1e-6:
            turns = abs(wrap_angle(goal.yaw - start.yaw))
        duration = d / body.speed + turns / body.turn_rate
        if slot is not None:
            slot.occupant = robot.id  # reserved from the start, as the physics world does

        def arrived() -> MotionResult:
            robot.frame = goal
            if slot is not None:
                robot.slot, robot.place = slot, slot.place
            return MotionResult(outcome=MotionOutcome.done, pose=self.robot_pose(robot.id))

        def stopped() -> None:
            robot.frame = _along(motion, self.sim_time)
            if slot is not None and slot.occupant == robot.id:
                slot.occupant = None

        motion = _Motion(
            mid, robot.id, "base", self.sim_time, self.sim_time + duration, None, (start, goal)
        )
        motion.finish = _Finish(arrived, stopped)
        return motion

    def _place(self, mid: str, robot: _Robot, request: Place) -> _Motion | MotionResult:
        name, target = request.object, request.target
        if robot.held != name:
            return _fail(MotionOutcome.precondition_failed, f"{robot.id} does not hold {name}")
        t, arm_s = self.sim_time, robot.body.arm_s
        ob = self.objects[name]
        if target in self.places:
            spot = self._spot(robot, target) if target in self._reach_places(robot) else None
            if spot is None:
                return _fail(MotionOutcome.unreachable, f"no free spot of {target} in reach")
            surface = self.places[target].surface_z

            def on_place() -> MotionResult:
                robot.held = None
                ob.x, ob.y, ob.z, ob.on = spot[0], spot[1], surface + ob.height / 2, target
                return MotionResult(
                    outcome=MotionOutcome.done, pose=self.object_pose(name), on=target
                )

            return _Motion(mid, robot.id, "arm", t, t + arm_s, _Finish(on_place))
        if target in self.robots:
            if not self.reaches(robot.id, target):
                return _fail(MotionOutcome.unreachable, f"{target}'s tray is out of reach")
            carrier = self.robots[target]

            def on_tray() -> MotionResult:
                robot.held = None
                self._put_on_tray(carrier, ob)
                return MotionResult(
                    outcome=MotionOutcome.done, pose=self.object_pose(name), on=target
                )

            return _Motion(mid, robot.id, "arm", t, t + arm_s, _Finish(on_tray))
        if target in self.objects and self.objects[target].receptacle:
            if not self.reaches(robot.id, target):
                return _fail(MotionOutcome.unreachable, f"{target} is out of reach")
            rec = self.objects[target]

            def inside() -> MotionResult:
                robot.held = None
                pose = self.object_pose(target)
                ob.x, ob.y, ob.z, ob.on = pose.x, pose.y, pose.z, target
                return MotionResult(
                    outcome=MotionOutcome.done, pose=self.object_pose(name), on=rec.name
                )

            return _Motion(mid, robot.id, "arm", t, t + arm_s, _Finish(inside))
        return _fail(MotionOutcome.not_found, f"nothing to place on called {target!r}")

    def _unload(self, mid: str, robot: _Robot, request: Unload) -> _Motion | MotionResult:
        name = request.object
        if robot.body.tray_top is None:
            return _fail(MotionOutcome.precondition_failed, f"{robot.id} has no tray")
        if name not in self.objects or self.objects[name].on != robot.id:
            return _fail(MotionOutcome.not_found, f"{name} is not on {robot.id}'s tray")
        if robot.place is None or robot.slot is None:
            return _fail(MotionOutcome.precondition_failed, f"{robot.id} is not docked")
        place = self.places[robot.place]
        ob = self.objects[name]

        def unloaded() -> MotionResult:
            f = self._frame_now(robot)
            x, y = f.to_world(robot.body.half_length + 0.15, 0.0)
            ob.x, ob.y, ob.z, ob.yaw = x, y, place.surface_z + ob.height / 2, f.yaw
            ob.on = place.name
            return MotionResult(
                outcome=MotionOutcome.done, pose=self.object_pose(name), on=place.name
            )

        t = self.sim_time
        return _Motion(mid, robot.id, "tray", t, t + 1.5, _Finish(unloaded))

    def _finish(self, motion: _Motion, result: MotionResult | None = None) -> None:
        if result is None:
            assert motion.finish is not None
            done = motion.finish.done
            assert callable(done)
            result = done()
        elif motion.finish is not None and callable(motion.finish.stopped):
            motion.finish.stopped()
        if result.pose is None and motion.part == "base":
            result = result.model_copy(update={"pose": self.robot_pose(motion.robot)})
        motion.result = result
        self._active.pop(motion.id, None)
        motion.done.set()

    def advance(self, dt: float) -> None:
        """Advance simulated time by `dt`, ending every motion due on the way in order."""
        until = self.sim_time + dt
        while True:
            due = [m for m in self._active.values() if not m.stuck and m.end <= until]
            if not due:
                break
            motion = min(due, key=lambda m: m.end)
            self.sim_time = max(self.sim_time, motion.end)
            self._finish(motion)
            self.steps += 1
        self.sim_time = until

    def step(self, n: int = 1) -> None:
        """Advance by n timesteps (as `SimWorld.step`)."""
        self.advance(n * self.settings.timestep_s)

    def _next_end(self) -> float | None:
        ends = [m.end for m in self._active.values() if not m.stuck]
        return min(ends) if ends else None

    async def run(self) -> None:
        """Jump to each motion's end (`real_time`: wait for the wall clock to reach it)."""
        loop = asyncio.get_running_loop()
        while True:
            end = self._next_end()
            if end is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.settings.real_time:
                self._wake.clear()
                wall0, sim0 = loop.time(), self.sim_time
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, end - sim0))
                self.advance(min(end, sim0 + loop.time() - wall0) - self.sim_time)
            else:
                self.advance(max(0.0, end - self.sim_time))
                await asyncio.sleep(0)  # let the callers see each result in turn

    def ensure_running(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(
                self.run(), name="kinematic-world"
            )

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self._runner = None

    def cancel(self, motion_id: str) -> bool:
        motion = self._active.get(motion_id)
        if motion is None:
            return False
        self._finish(
            motion,
            MotionResult(outcome=MotionOutcome.cancelled, message="cancelled"),
        )
        return True

    def halt(self, robot_id: str) -> int:
        if robot_id not in self.robots:
            raise KeyError(f"no robot {robot_id!r} in the world")
        self._halted.add(robot_id)
        stopped = [m.id for m in list(self._active.values()) if m.robot == robot_id]
        for mid in stopped:
            self.cancel(mid)
        log.info("robot %s halted (%d motions stopped)", robot_id, len(stopped))
        return len(stopped)

    def resume(self, robot_id: str) -> bool:
        if robot_id in self._halted:
            self._halted.discard(robot_id)
            return True
        return False

    def result(self, motion_id: str) -> MotionResult | None:
        motion = self._motions.get(motion_id)
        if motion is None:
            raise KeyError(f"unknown motion {motion_id!r}")
        return motion.result

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        motion = self._motions.get(motion_id)
        if motion is None:
            raise KeyError(f"unknown motion {motion_id!r}")
        if motion.result is None:
            self.ensure_running()
            try:
                await asyncio.wait_for(motion.done.wait(), timeout_s)
            except TimeoutError:
                return None
        return motion.result

    def run_until_done(self, motion_id: str, max_sim_s: float = 60.0) -> MotionResult:
        """Advance until the motion ends (tests and benchmarks without a loop)."""
        motion = self._motions[motion_id]
        if motion.result is None:
            self.advance(min(max_sim_s, max(0.0, motion.end - self.sim_time)))
        if motion.result is None:
            self.cancel(motion_id)
        result = self.result(motion_id)
        assert result is not None
        return result


def _fail(outcome: MotionOutcome, message: str) -> MotionResult:
    return MotionResult(outcome=outcome, message=message)


def _along(motion: _Motion, t: float) -> Frame2:
    """Where a drive is at time t: straight from start to goal, heading along the way."""
    assert motion.path is not None
    start, goal = motion.path
    span = motion.span if motion.span is not None else motion.end - motion.t0
    k = 1.0 if span <= 0 else min(1.0, max(0.0, (t - motion.t0) / span))
    if k >= 1.0:
        return goal
    heading = math.atan2(goal.y - start.y, goal.x - start.x)
    return Frame2(start.x + (goal.x - start.x) * k, start.y + (goal.y - start.y) * k, heading)


def _place(cfg: object, kinds: dict[str, PlaceKind]) -> _PlaceGeometry:
    """A place's frame, surface and docking slots, as `scene.build_place` computes them,
    without building a body."""
    from ..fleet import PlaceConfig

    assert isinstance(cfg, PlaceConfig)
    yaw = _front_yaw(cfg)
    along_x = abs(math.cos(yaw - cfg.pose.yaw)) > 0.5
    depth, width = (cfg.size[0], cfg.size[1]) if along_x else (cfg.size[1], cfg.size[0])
    kind = kinds.get(cfg.kind) or kinds["counter"]
    _, surface_z, region = kind.build(depth, width, cfg.size[2])
    sides = kind.sides if cfg.sides is None else tuple(s for s in kind.sides if s in cfg.sides)
    place = _PlaceGeometry(
        cfg,
        -1,
        Frame2(cfg.pose.x, cfg.pose.y, yaw),
        depth,
        width,
        cfg.size[2],
        surface_z,
        region,
        None,
        sides=sides,
    )
    place.slots = _slots(place, kind.slots)
    return place


class _Faults:
    """Injected faults (settings.faults) as state changes: a grasp slips (the pick fails,
    the object falls), a carried object drops on the way, a drive is blocked, a motion is
    slow or stuck. One draw per kind per motion, as `faults.FaultInjector`."""

    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings.faults
        self.seed = self.settings.seed if self.settings.seed is not None else settings.seed
        self._counts: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()

    def apply(
        self, world: KinematicWorld, robot: _Robot, request: MotionRequest, m: _Motion
    ) -> None:
        s = self.settings
        if not s.active or (s.robots and robot.id not in s.robots):
            return
        n = self._counts[(robot.id, request.kind)]
        self._counts[(robot.id, request.kind)] += 1
        rng = random.Random(f"{self.seed}/{robot.id}/{request.kind}/{n}")
        slip, drop, block, slow, stuck = (rng.random() for _ in range(5))
        after = rng.uniform(0.3, 1.5)
        finish = m.finish
        assert finish is not None
        done = finish.done
        assert callable(done)
        if isinstance(request, Pick) and slip < s.grasp_slip:
            self.injected["grasp_slip"] += 1

            def slipped() -> MotionResult:
                done()
                fell = world._drop(robot)
                return _fail(
                    MotionOutcome.failed, f"{fell} slipped out of the gripper (injected fault)"
                )

            finish.done = slipped
        if isinstance(request, Navigate):
            if drop < s.drop_carrying and robot.held is not None:
                self.injected["drop_carrying"] += 1
                world._drop(robot)
            if block < s.blocked_path and m.end - m.t0 > after:
                self.injected["blocked_path"] += 1
                m.span = m.end - m.t0
                m.end = m.t0 + after

                def blocked() -> MotionResult:
                    assert callable(finish.stopped)
                    finish.stopped()
                    return MotionResult(
                        outcome=MotionOutcome.collision,
                        message="the path is blocked (injected fault)",
                        pose=world.robot_pose(robot.id),
                    )

                finish.done = blocked
        if stuck < s.stuck:
            self.injected["stuck"] += 1
            m.stuck = True
        elif slow < s.slow:
            self.injected["slow"] += 1
            m.end = m.t0 + (m.end - m.t0) * s.slow_factor
