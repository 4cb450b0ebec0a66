"""What the world can tell about itself without changing it: poses, who holds what,
what rests on what, contacts, and the snapshots the world's clients receive."""

from __future__ import annotations

import pybullet as p
from robo_os_memory.models import Pose

from ..skill.observation import Observation, ObservedObject
from .geometry import quat_yaw
from .models import ObjectInfo, PlaceInfo, RobotInfo, WorldInfo
from .motions import Motion
from .objects import ObjectBody
from .rigs import RobotRig
from .scene import PlaceBody

__all__ = ["NEAR_M", "WorldView"]

NEAR_M = 1.5
"""How far (m) a simulated robot 'sees' the objects around it."""


class WorldView:
    """Read-only queries of a `SimWorld` (its base class; never used alone): the
    implementation of `view.Scene` and of the snapshots in `models`."""

    client: int
    floor: int
    sim_time: float
    places: dict[str, PlaceBody]
    objects: dict[str, ObjectBody]
    robots: dict[str, RobotRig]
    _names: dict[int, tuple[str, str]]
    _active: dict[str, Motion]

    def object_body(self, name: str) -> int:
        return self.objects[name].body

    def object_pose(self, name: str) -> Pose:
        """The middle of the object (for a URDF object, of its bounding box upright)."""
        ob = self.objects[name]
        pos, orn = p.getBasePositionAndOrientation(ob.body, physicsClientId=self.client)
        return Pose(x=pos[0], y=pos[1], z=pos[2] + ob.shape.centre_z, yaw=quat_yaw(orn))

    def robot_pose(self, robot_id: str) -> Pose:
        rig = self.robots[robot_id]
        f = rig.pose(self.client)
        z = rig.arm.mount[2] if rig.base is None and rig.arm is not None else 0.0
        return Pose(x=f.x, y=f.y, z=z, yaw=f.yaw)

    def holder_of(self, obj: str) -> str | None:
        for rig in self.robots.values():
            if rig.arm is not None and rig.arm.held is not None and rig.arm.held[0] == obj:
                return rig.id
        return None

    def support_of(self, obj: str) -> str | None:
        """What the object rests on: a receptacle object, a robot's tray or a place (in that
        order of preference), or None (held, falling, or on the floor)."""
        if self.holder_of(obj) is not None:
            return None
        best: tuple[int, str] | None = None
        rank = {"object": 0, "robot": 1, "place": 2}
        for cp in p.getContactPoints(bodyA=self.objects[obj].body, physicsClientId=self.client):
            if cp[7][2] < 0.5:  # normal on the other body must point up: it carries the object
                continue
            kind_name = self._names.get(cp[2])
            if kind_name is None:
                continue
            kind, name = kind_name
            if kind == "robot" and self.robots[name].tray is None:
                continue
            if best is None or rank[kind] < best[0]:
                best = (rank[kind], name)
        return best[1] if best else None

    def unexpected_contact(self, rig: RobotRig) -> str | None:
        """The name of something a moving robot touches that it should not (furniture,
        another robot, a loose object), or None."""
        held = self.objects[rig.arm.held[0]].body if rig.arm and rig.arm.held else None
        for body in rig.bodies:
            for cp in p.getContactPoints(bodyA=body, physicsClientId=self.client):
                other = cp[2]
                if other in rig.bodies or other == self.floor or other == held:
                    continue
                kind_name = self._names.get(other)
                if (
                    rig.tray is not None
                    and body == rig.tray.body
                    and cp[3] in (rig.tray.tray_link, rig.tray.pusher_joint)
                    and (kind_name is None or kind_name[0] == "object")
                ):
                    continue  # the load on its own tray (another robot's tray is a contact)
                return kind_name[1] if kind_name else f"body {other}"
        return None

    def tray_contents(self, robot_id: str) -> list[str]:
        return sorted(o for o in self.objects if self.support_of(o) == robot_id)

    def drawer_open(self, place: str) -> bool | None:
        pb = self.places[place]
        if pb.drawer is None:
            return None
        q = p.getJointState(pb.body, pb.drawer.joint, physicsClientId=self.client)[0]
        return bool(q > 0.5 * pb.drawer.travel)

    def robot_info(self, robot_id: str) -> RobotInfo:
        rig = self.robots[robot_id]
        emb = rig.config.embodiment
        return RobotInfo(
            id=rig.id,
            embodiment=emb,
            capabilities=tuple(sorted(rig.capabilities)),
            pose=self.robot_pose(robot_id),
            place=rig.place,
            slot=rig.slot.index if rig.base is not None and rig.slot is not None else None,
            reach=rig.reach if rig.base is None else (),
            holding=rig.arm.held[0] if rig.arm and rig.arm.held else None,
            tray=tuple(self.tray_contents(robot_id)) if rig.tray else (),
            busy=tuple(sorted(m.part for m in self._active.values() if m.robot == robot_id)),
        )

    def object_info(self, name: str) -> ObjectInfo:
        ob = self.objects[name]
        return ObjectInfo(
            name=name,
            type=ob.type,
            pose=self.object_pose(name),
            on=self.support_of(name),
            held_by=self.holder_of(name),
            attrs=ob.attrs,
        )

    def place_info(self, name: str) -> PlaceInfo:
        pb = self.places[name]
        cfg = pb.config
        attrs = dict(cfg.attrs)
        is_open = self.drawer_open(name)
        if is_open is not None:
            attrs["open"] = is_open
        return PlaceInfo(
            name=name,
            kind=cfg.kind,
            pose=cfg.pose,
            size=cfg.size,
            attrs=attrs,
            articulated=pb.drawer is not None,
        )

    def describe(self) -> WorldInfo:
        return WorldInfo(
            places=tuple(self.place_info(n) for n in self.places),
            objects=tuple(self.object_info(n) for n in self.objects),
            robots=tuple(self.robot_info(r) for r in self.robots),
            sim_time=self.sim_time,
        )

    # -- what a robot observes (ground truth) --------------------------------------------------
    def lies_on(self, obj: str) -> str | None:
        """Where an object rests, for memory: its support, else the place whose surface
        region it lies within (tilted against an edge), else None (the floor or held)."""
        support = self.support_of(obj)
        if support is not None or self.holder_of(obj) is not None:
            return support
        pose = self.object_pose(obj)
        for name, pb in self.places.items():
            if pose.z >= pb.surface_z - 0.03 and pb.on_surface(pose.x, pose.y, margin=0.05):
                return name
        return None

    def observed_object(self, obj: str) -> ObservedObject:
        return ObservedObject(
            name=obj, pose=self.object_pose(obj), on=self.lies_on(obj), held_by=self.holder_of(obj)
        )

    def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]:
        """The objects named (every object by default) as an all-seeing observer finds
        them: what memory is corrected from when the world was rebuilt from it."""
        return tuple(
            self.observed_object(o) for o in (names or tuple(self.objects)) if o in self.objects
        )

    def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        """The robot's body, gripper and tray as they are, and the objects within
        `NEAR_M` of it or named in `expect` (the simulator knows where each really is:
        nothing it is asked about goes missing)."""
        rig = self.robots[robot_id]
        info = self.robot_info(robot_id)
        near = {
            o
            for o in self.objects
            if self.object_pose(o).distance_to(info.pose) <= NEAR_M or self.holder_of(o) == robot_id
        }
        names = sorted(near | {o for o in expect if o in self.objects})
        return Observation(
            robot=robot_id,
            pose=info.pose,
            place=info.place,
            slot=info.slot,
            has_slots=rig.base is not None,
            holding=info.holding,
            has_gripper=rig.arm is not None,
            tray=info.tray if rig.tray is not None else None,
            objects=tuple(self.observed_object(o) for o in names),
            missing=tuple(sorted(o for o in expect if o not in self.objects)),
        )
