"""Rebuilding the simulated world from the shared memory, for a stack started again on
the memory of an earlier run (`robo-os up --data-dir`, or the same `ROBO_OS_REDIS__URL`).

The world is built where memory says things are, not where the scene file first put
them: an object on a place at its recorded pose, on a robot's tray, in a robot's gripper
(attached to the hand as a pick leaves it, so that physics holds it), inside a receptacle,
or loose on the floor; a mobile robot docked at its recorded place and slot, or standing
where it stopped. What memory lacks (an object or robot new in the fleet file) comes from
the scene file. A record that cannot be honoured (its place, robot or receptacle is gone,
the gripper is full, the floor spot is inside furniture) falls back to the scene file's
placement, else the floor at its last pose, and is reported in the notes `rebuild`
returns: `robo_os.restart.adopt_world` then corrects memory from the rebuilt world.

`rebuild` sees the world through `Rebuilder` (it never imports world.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import pybullet as p
from pydantic import BaseModel, ConfigDict
from robo_os_memory.models import AttrValue, ObjectState, PlaceState, Pose, RobotState

from ..fleet import FleetConfig, PlaceConfig, RobotConfig
from .geometry import Frame2, quat_yaw, yaw_quat
from .objects import ObjectBody, ObjectShape, object_attrs
from .rigs import RobotRig
from .scene import PlaceBody, Slot
from .view import Scene

__all__ = ["Rebuilder", "Spot", "WorldMemory", "place_config", "rebuild"]

log = logging.getLogger(__name__)

Spot = tuple[float, float, float, float]
"""Where an object is built: its centre (x, y, z) and yaw."""

LIFT = 0.002
"""Gap under an object built resting on something (it settles onto it)."""
TRAY_SPOTS = (
    (0.0, 0.0),
    (0.1, 0.0),
    (-0.1, 0.0),
    (0.1, 0.1),
    (0.1, -0.1),
    (-0.1, 0.1),
    (-0.1, -0.1),
)
"""Offsets from a tray's centre tried for its load, as a place on a tray does."""
SURFACE_STEP = 0.05
"""Grid (m) searched for a free spot on a place when the recorded one is taken."""


class WorldMemory(BaseModel):
    """What the shared memory says of the world (one snapshot): what a world is rebuilt
    from. Frozen records, so it crosses to the world actor as it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objects: tuple[ObjectState, ...] = ()
    robots: tuple[RobotState, ...] = ()
    places: tuple[PlaceState, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to adopt: a fresh memory (places alone say nothing of the state)."""
        return not self.objects and not self.robots


class Rebuilder(Scene, Protocol):
    """What rebuilding needs of the world: the scene, and building objects and robots."""

    @property
    def floor_size(self) -> tuple[float, float]: ...

    def shape_of(self, type_: str) -> ObjectShape: ...

    def add_object(
        self,
        name: str,
        type_: str,
        attrs: Mapping[str, AttrValue],
        spot: Spot,
    ) -> ObjectBody: ...

    def spawn_robot(self, config: RobotConfig) -> RobotRig: ...

    def claim_slot(self, place: str, robot: RobotRig) -> Slot | None: ...


def place_config(config: PlaceConfig, memory: WorldMemory | None) -> PlaceConfig:
    """The place as the scene file has it, with the drawer open or closed as memory last
    recorded it (the only state of a place that changes)."""
    if memory is None:
        return config
    record = next((pl for pl in memory.places if pl.name == config.name), None)
    state = record.attrs.get("open") if record is not None else None
    if not isinstance(state, bool) or config.attrs.get("open") == state:
        return config
    return config.model_copy(update={"attrs": {**config.attrs, "open": state}})


def rebuild(
    world: Rebuilder, fleet: FleetConfig, memory: WorldMemory, scene_spots: Mapping[str, Spot]
) -> list[str]:
    """Build the fleet's objects and robots (and objects only memory has) where `memory`
    has them; `scene_spots`: where the scene file puts each of its objects. Returns one
    note per record that could not be honoured (also logged)."""
    records = {o.name: o for o in memory.objects}
    robots = {r.id: r for r in memory.robots}
    scene = {oc.name: oc for oc in fleet.scene.objects}
    fleet_ids = {rc.id for rc in fleet.robots}
    names = [*scene, *sorted(n for n in records if n not in scene)]
    notes: list[str] = []

    def kind(name: str) -> tuple[str, dict[str, AttrValue]]:
        oc, rec = scene.get(name), records.get(name)
        attrs = {**(object_attrs(oc) if oc else {}), **(rec.attrs if rec else {})}
        return (oc.type if oc else rec.type if rec else "cube"), attrs

    def add(name: str, spot: Spot) -> ObjectBody:
        type_, attrs = kind(name)
        return world.add_object(name, type_, attrs, spot)

    def scene_spot(name: str) -> Spot:
        """The scene file's spot, or the free one nearest to it if a restored object
        lies there."""
        x, y, z, yaw = spot = scene_spots[name]
        shape = world.shape_of(kind(name)[0])
        place = world.places.get(scene[name].at)
        if place is None or _free(world, x, y, z, shape.radius):
            return spot
        return _surface_spot(world, place, shape, Pose(x=x, y=y, yaw=yaw)) or spot

    def fall_back(name: str, why: str) -> None:
        rec = records.get(name)
        if name in scene_spots:
            add(name, scene_spot(name))
            notes.append(f"{name}: {why}; built where the scene file puts it")
        elif (
            rec is not None
            and rec.pose is not None
            and (spot := _floor_spot(world, world.shape_of(kind(name)[0]), rec.pose))
        ):
            add(name, spot)
            notes.append(f"{name}: {why}; built on the floor at its last pose")
        else:
            notes.append(f"{name}: {why}; not built")

    # objects resting on places or the floor first, as a fresh build does; then robots;
    # then what rests on or in them (trays, grippers, receptacles)
    later: list[str] = []
    for name in names:
        rec = records.get(name)
        if rec is None or (
            rec.on is None and rec.held_by is None and (rec.unknown_since or rec.pose is None)
        ):
            if name in scene_spots:
                add(name, scene_spot(name))
            else:
                notes.append(f"{name}: memory does not know where it is; not built")
            continue
        if rec.held_by is not None or rec.on in fleet_ids or rec.on in records or rec.on in scene:
            later.append(name)
            continue
        shape = world.shape_of(kind(name)[0])
        if rec.on is None:
            assert rec.pose is not None
            spot = _floor_spot(world, shape, rec.pose)
            why = "its floor spot is inside furniture, off the floor or taken"
        elif rec.on in world.places:
            spot = _surface_spot(world, world.places[rec.on], shape, rec.pose)
            why = f"no free spot on {rec.on}"
        else:
            spot, why = None, f"memory has it on {rec.on}, which does not exist"
        if spot is not None:
            add(name, spot)
        else:
            fall_back(name, why)

    # robots memory knows first: a new robot docks where the restored ones left room
    for rc in sorted(fleet.robots, key=lambda rc: rc.id not in robots):
        rig = world.spawn_robot(rc)
        rec_robot = robots.get(rc.id)
        if rec_robot is not None and rig.base is not None:
            note = _relocate(world, rig, rec_robot)
            if note is not None:
                notes.append(note)

    pending = later
    while pending:
        waiting: list[str] = []
        for name in pending:
            rec = records[name]
            outcome = _build_on(world, name, rec, kind(name), pending)
            if outcome is None:
                waiting.append(name)  # its receptacle is not built yet
            elif outcome:
                fall_back(name, outcome)
        if len(waiting) == len(pending):  # receptacles that never came (a cycle, or unbuilt)
            for name in waiting:
                fall_back(name, f"its receptacle {records[name].on} could not be built")
            break
        pending = waiting
    for note in notes:
        log.warning("rebuilding the world from memory: %s", note)
    return notes


def _build_on(
    world: Rebuilder,
    name: str,
    rec: ObjectState,
    kind: tuple[str, dict[str, AttrValue]],
    pending: Sequence[str],
) -> str | None:
    """Build an object held by, on or in something built: "" when built, a reason when it
    cannot be, None when what it rests in is still to be built."""
    shape = world.shape_of(kind[0])
    if rec.held_by is not None:
        rig = world.robots.get(rec.held_by)
        if rig is None:
            return f"memory has it held by {rec.held_by}, which is not in the world"
        if rig.arm is None:
            return f"memory has it held by {rec.held_by}, which has no gripper"
        if rig.arm.held is not None:
            return f"{rec.held_by}'s gripper already holds {rig.arm.held[0]}"
        ob = world.add_object(name, kind[0], kind[1], (*_ee_position(world, rig), 0.0))
        put_in_gripper(world, rig, ob)
        return ""
    assert rec.on is not None
    spot: Spot | None
    if rec.on in world.robots:
        rig = world.robots[rec.on]
        if rig.tray is None:
            return f"memory has it on {rec.on}, which has no tray"
        spot = _tray_spot(world, rig, shape, rec.pose)
        why = f"no free spot on {rec.on}'s tray"
    elif rec.on in world.objects:
        spot = _receptacle_spot(world, rec.on, shape, rec.pose)
        why = f"{rec.on} is not a receptacle or has no room"
    elif rec.on in pending:
        return None
    else:
        return f"memory has it in {rec.on}, which is not in the world"
    if spot is None:
        return why
    world.add_object(name, kind[0], kind[1], spot)
    return ""


# -- where an object can be built ------------------------------------------------------------


def _free(
    world: Scene, x: float, y: float, z: float, radius: float, exclude: str | None = None
) -> bool:
    """No other resting object this close at about this height (as a place motion checks)."""
    for name, ob in world.objects.items():
        if name == exclude or world.holder_of(name) is not None:
            continue
        q = world.object_pose(name)
        if abs(q.z - z) < 0.3 and math.hypot(x - q.x, y - q.y) < radius + ob.shape.radius + 0.015:
            return False
    return True


def _surface_spot(
    world: Scene, place: PlaceBody, shape: ObjectShape, pose: Pose | None
) -> Spot | None:
    """The recorded pose if it lies on the place's surface and is free, else the free grid
    point of the surface nearest to it (to the centre without a pose)."""
    z = place.surface_z + shape.height / 2 + LIFT
    yaw = pose.yaw if pose is not None else place.frame.yaw
    if (
        pose is not None
        and place.on_surface(pose.x, pose.y)
        and _free(world, pose.x, pose.y, z, shape.radius)
    ):
        return (pose.x, pose.y, z, yaw)
    x0, x1, y0, y1 = place.region
    nx = max(0, int((x1 - x0 - 2 * shape.radius) / SURFACE_STEP)) + 1
    ny = max(0, int((y1 - y0 - 2 * shape.radius) / SURFACE_STEP)) + 1
    points = [
        place.frame.to_world(
            x0 + shape.radius + i * SURFACE_STEP, y0 + shape.radius + j * SURFACE_STEP
        )
        for i in range(nx)
        for j in range(ny)
    ]
    ox, oy = (pose.x, pose.y) if pose is not None else (place.frame.x, place.frame.y)
    points.sort(key=lambda q: math.hypot(q[0] - ox, q[1] - oy))
    for x, y in points:
        if _free(world, x, y, z, shape.radius):
            return (x, y, z, yaw)
    return None


def _floor_spot(world: Rebuilder, shape: ObjectShape, pose: Pose) -> Spot | None:
    """The recorded pose on the floor, unless it is off the floor, inside a place's
    footprint (a body built there would be inside the furniture) or taken."""
    sx, sy = world.floor_size
    r = shape.radius
    if abs(pose.x) > sx / 2 - r or abs(pose.y) > sy / 2 - r:
        return None
    if _inside_place(world, pose.x, pose.y, r) is not None:
        return None
    z = shape.height / 2 + LIFT
    if not _free(world, pose.x, pose.y, z, r):
        return None
    return (pose.x, pose.y, z, pose.yaw)


def _inside_place(world: Scene, x: float, y: float, margin: float) -> str | None:
    """The place whose footprint (grown by `margin`) contains (x, y), if any."""
    for name, place in world.places.items():
        lx, ly = place.frame.to_local(x, y)
        if abs(lx) <= place.depth / 2 + margin and abs(ly) <= place.width / 2 + margin:
            return name
    return None


def _tray_spot(world: Scene, rig: RobotRig, shape: ObjectShape, pose: Pose | None) -> Spot | None:
    """Where it was on the tray (relative to the robot, which is rebuilt where it was) if
    that is on the tray and free, else the first free one of the spots a place uses."""
    tray = rig.tray
    assert tray is not None
    frame = rig.pose(world.client)
    cx, cy = tray.centre
    candidates = [(cx + dx, cy + dy) for dx, dy in TRAY_SPOTS]
    if pose is not None:
        lx, ly = frame.to_local(pose.x, pose.y)
        if (
            abs(lx - cx) <= tray.length / 2 - shape.radius
            and abs(ly - cy) <= tray.width / 2 - shape.radius
        ):
            candidates.insert(0, (lx, ly))
    z = tray.top_z + shape.height / 2 + LIFT
    yaw = pose.yaw if pose is not None else frame.yaw
    for lx, ly in candidates:
        x, y = frame.to_world(lx, ly)
        if _free(world, x, y, z, shape.radius):
            return (x, y, z, yaw)
    return None


def _receptacle_spot(
    world: Scene, receptacle: str, shape: ObjectShape, pose: Pose | None
) -> Spot | None:
    """On the receptacle's bottom, centred (as a place into it puts it), if it is one and
    nothing else is in it."""
    rb = world.objects[receptacle]
    if not rb.receptacle:
        return None
    rp = world.object_pose(receptacle)
    z = rp.z - rb.shape.height / 2 + rb.shape.rest_height() + shape.height / 2 + LIFT
    if not _free(world, rp.x, rp.y, z, shape.radius, exclude=receptacle):
        return None
    return (rp.x, rp.y, z, pose.yaw if pose is not None else rp.yaw)


# -- robots ------------------------------------------------------------------------------


def _relocate(world: Rebuilder, rig: RobotRig, rec: RobotState) -> str | None:
    """Move a just-spawned mobile robot to where memory has it: docked at its place and
    slot (another free slot there if that one is gone or taken), or standing at its pose.
    Returns a note when memory's answer could not be honoured."""
    assert rig.base is not None
    spawned = rig.slot
    if rec.place is not None:
        place = world.places.get(rec.place)
        if place is None:
            return (
                f"{rig.id}: memory has it at {rec.place}, which does not exist; left at {rig.place}"
            )
        if rig.place == rec.place and rig.slot is not None and rec.slot in (None, rig.slot.index):
            return None  # where the fleet file docks it already
        if spawned is not None:
            spawned.occupant = None
        slot = next(
            (s for s in place.slots if s.index == rec.slot and s.occupant in (None, rig.id)), None
        ) or world.claim_slot(rec.place, rig)
        if slot is None:
            if spawned is not None:
                spawned.occupant = rig.id
            return f"{rig.id}: no free slot at {rec.place}; left at {rig.place}"
        slot.occupant = rig.id
        rig.place, rig.slot = rec.place, slot
        frame = slot.dock_pose(rig.base.half_length)
        note = (
            None
            if rec.slot in (None, slot.index)
            else f"{rig.id}: slot {rec.slot} of {rec.place} is gone or taken; docked at {slot.index}"
        )
    elif rec.pose is not None:
        inside = _inside_place(world, rec.pose.x, rec.pose.y, 0.05)
        if inside is not None:
            return f"{rig.id}: memory has it standing inside {inside}; left at {rig.place}"
        if spawned is not None:
            spawned.occupant = None
        rig.place, rig.slot = None, None
        frame, note = Frame2(rec.pose.x, rec.pose.y, rec.pose.yaw), None
    else:
        return None
    move_base(world.client, rig, frame)
    return note


def move_base(client: int, rig: RobotRig, frame: Frame2) -> None:
    """Put a mobile robot's bodies at `frame` at once (only while building: nothing steps)
    and hold them there."""
    assert rig.base is not None
    for body, _cid, (ox, oy, oz) in rig.base.bodies:
        x, y = frame.to_world(ox, oy)
        # pybullet places a base by its centre of mass: from the body's own frame
        info = p.getDynamicsInfo(body, -1, physicsClientId=client)
        com, orn = p.multiplyTransforms((x, y, oz), yaw_quat(frame.yaw), info[3], info[4])
        p.resetBasePositionAndOrientation(body, com, orn, physicsClientId=client)
    rig.base.command(client, frame)


# -- in the gripper ----------------------------------------------------------------------


def _ee_position(world: Scene, rig: RobotRig) -> tuple[float, float, float]:
    assert rig.arm is not None
    state = p.getLinkState(
        rig.arm.body,
        rig.arm.model.ee_link,
        computeForwardKinematics=True,
        physicsClientId=world.client,
    )
    return (state[4][0], state[4][1], state[4][2])


def put_in_gripper(world: Scene, rig: RobotRig, ob: ObjectBody) -> None:
    """Attach an object to the arm as a top-down pick followed by the stow leaves it: the
    object where a grasp of its shape holds it, relative to the end effector as it is
    now, a fixed constraint from the hand to it, and the fingers closing on it."""
    arm = rig.arm
    assert arm is not None and arm.held is None
    c = world.client
    ee = p.getLinkState(
        arm.body, arm.model.ee_link, computeForwardKinematics=True, physicsClientId=c
    )
    # the gripper's yaw: its orientation with the top-down grasp taken out
    _, undown = p.invertTransform((0, 0, 0), arm.model.down)
    grip_yaw = quat_yaw(p.multiplyTransforms((0, 0, 0), ee[5], (0, 0, 0), undown)[1])
    shape = ob.shape
    obj_yaw = grip_yaw - shape.grasp_yaw
    # at the grasp: the object upright, the end effector at its grasp point
    grasp_z = max(shape.height * shape.grasp_height, 0.015)
    d = (
        -shape.grasp_offset * math.cos(obj_yaw),
        -shape.grasp_offset * math.sin(obj_yaw),
        shape.height / 2 - grasp_z,
    )
    at_grasp = p.multiplyTransforms((0, 0, 0), yaw_quat(grip_yaw), (0, 0, 0), arm.model.down)[1]
    inv_pos, inv_orn = p.invertTransform((0, 0, 0), at_grasp)
    rel_pos, rel_orn = p.multiplyTransforms(inv_pos, inv_orn, d, yaw_quat(obj_yaw))
    pos, orn = p.multiplyTransforms(ee[4], ee[5], rel_pos, rel_orn)
    p.resetBasePositionAndOrientation(ob.body, pos, orn, physicsClientId=c)
    hand = p.getLinkState(
        arm.body, arm.model.hand_link, computeForwardKinematics=True, physicsClientId=c
    )
    h_pos, h_orn = p.invertTransform(hand[4], hand[5])
    to_pos, to_orn = p.multiplyTransforms(h_pos, h_orn, pos, orn)
    cid = p.createConstraint(
        arm.body,
        arm.model.hand_link,
        ob.body,
        -1,
        p.JOINT_FIXED,
        (0, 0, 0),
        to_pos,
        (0, 0, 0),
        parentFrameOrientation=to_orn,
        physicsClientId=c,
    )
    p.changeConstraint(cid, maxForce=300.0, physicsClientId=c)
    for j in arm.model.finger_joints:  # open around it, then closing as after a grasp
        p.resetJointState(arm.body, j, arm.model.finger_open, physicsClientId=c)
    arm.fingers = 0.0
    arm.held = (ob.name, cid)
    arm.grip_yaw = grip_yaw
    cy, sy = math.cos(grip_yaw), math.sin(grip_yaw)
    arm.grip_offset = (cy * d[0] + sy * d[1], -sy * d[0] + cy * d[1], d[2])
