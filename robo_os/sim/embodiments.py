"""Robot embodiments: how each kind of robot is built in pybullet and what it offers.

An embodiment spawns a `RobotRig` (the bodies, constraints and parts of one robot);
the world looks embodiments up by name in a mapping (`builtin_embodiments()` by default),
so a new kind of robot is a new entry, not a new branch.
"""

from __future__ import annotations

from typing import Protocol

import pybullet as p
import pybullet_data

from ..fleet import RobotConfig
from .geometry import Frame2, yaw_quat
from .kinematics import PANDA, ArmModel
from .planning import Obstacle
from .rigs import ArmRig, BaseRig, CameraMount, RobotRig, TrayRig
from .scene import PlaceBody, Slot

__all__ = [
    "Carrier",
    "Embodiment",
    "FixedArm",
    "MobileManipulator",
    "Spawner",
    "builtin_embodiments",
]


class Spawner(Protocol):
    """What an embodiment needs from the world while it builds a robot."""

    client: int

    def place_body(self, name: str) -> PlaceBody: ...

    def claim_slot(self, place: str, robot: RobotRig) -> Slot | None: ...


class Embodiment(Protocol):
    capabilities: frozenset[str]

    def spawn(self, world: Spawner, config: RobotConfig) -> RobotRig: ...


# -- builders -------------------------------------------------------------------------------


def _load_arm(
    client: int,
    model: ArmModel,
    fixed: bool,
    pos: tuple[float, float, float],
    yaw: float,
    stow: tuple[float, ...],
) -> int:
    p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
    body = p.loadURDF(model.urdf, pos, yaw_quat(yaw), useFixedBase=fixed, physicsClientId=client)
    for j, q in zip(model.arm_joints, stow, strict=True):
        p.resetJointState(body, j, q, physicsClientId=client)
    for j in model.finger_joints:
        p.resetJointState(body, j, model.finger_open, physicsClientId=client)
        p.changeDynamics(
            body, j, lateralFriction=1.5, spinningFriction=0.01, physicsClientId=client
        )
    return int(body)


def _box_link(
    client: int,
    half: tuple[float, float, float],
    pos: tuple[float, float, float],
    rgba: tuple[float, float, float, float],
) -> tuple[int, int]:
    col = p.createCollisionShape(
        p.GEOM_BOX, halfExtents=half, collisionFramePosition=pos, physicsClientId=client
    )
    vis = p.createVisualShape(
        p.GEOM_BOX,
        halfExtents=half,
        visualFramePosition=pos,
        rgbaColor=rgba,
        physicsClientId=client,
    )
    return col, vis


def _drive_constraint(client: int, body: int, frame: Frame2, z: float) -> int:
    # a constraint's parent frame is relative to the centre of mass: pin the body's own
    # origin instead, so that the pivot is where the body stands
    info = p.getDynamicsInfo(body, -1, physicsClientId=client)
    pos, orn = p.invertTransform(info[3], info[4])
    return int(
        p.createConstraint(
            body,
            -1,
            -1,
            -1,
            p.JOINT_FIXED,
            (0, 0, 0),
            pos,
            (frame.x, frame.y, z),
            parentFrameOrientation=orn,
            childFrameOrientation=yaw_quat(frame.yaw),
            physicsClientId=client,
        )
    )


def _spawn_pose(world: Spawner, rig: RobotRig, config: RobotConfig) -> Frame2:
    slot = world.claim_slot(config.at, rig)
    if slot is None:
        place = world.place_body(config.at)
        return place.frame.compose(place.depth / 2 + 0.9, 0.0, 3.14159)
    rig.slot, rig.place = slot, config.at
    assert rig.base is not None
    return slot.dock_pose(rig.base.half_length)


class FixedArm:
    """A Franka Panda mounted on its place's surface near the front edge, facing in: it
    reaches that place (and `reach` places in range) and a carrier docked in front. A
    fleet file's `mount:` puts it elsewhere: on another place's surface, or on a pedestal
    on the floor (which bases then plan around)."""

    capabilities = frozenset({"manipulate", "camera"})
    inset = 0.2
    """Mount distance from the front edge: the base and elbow stay over the counter."""
    stow = (0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785)
    """Leaning over its own place: the hand (and its load) inside the place's footprint,
    clear of robots docked in front."""

    pedestal_half = 0.12
    """Half the side of a pedestal's square top (m)."""

    def __init__(self, model: ArmModel = PANDA) -> None:
        self.model = model

    def spawn(self, world: Spawner, config: RobotConfig) -> RobotRig:
        place = world.place_body(config.at)
        pedestal: int | None = None
        footprint: Obstacle | None = None
        if config.mount is None:
            mount = place.frame.compose(place.depth / 2 - self.inset, 0.0, 3.14159265)
            z = place.height
        else:
            m = config.mount
            mount = Frame2(m.x, m.y, m.yaw)
            if m.on is not None:
                z = world.place_body(m.on).height
            else:
                z = m.height
                half = (self.pedestal_half, self.pedestal_half, z / 2)
                col, vis = _box_link(world.client, half, (0.0, 0.0, 0.0), (0.3, 0.3, 0.32, 1.0))
                pedestal = p.createMultiBody(
                    0.0, col, vis, (m.x, m.y, z / 2), yaw_quat(m.yaw), physicsClientId=world.client
                )
                footprint = Obstacle(mount, self.pedestal_half, self.pedestal_half)
        body = _load_arm(
            world.client, self.model, True, (mount.x, mount.y, z), mount.yaw, self.stow
        )
        arm = ArmRig(
            body,
            self.model,
            (0.0, 0.0, z, 0.0),
            list(self.stow),
            self.model.finger_open,
            stow=self.stow,
        )
        # overhead, off to one side of the arm so that the arm does not hide the surface
        camera = CameraMount(
            eye=(0.55, 0.55, z + 0.95),
            look=(*mount.to_local(place.frame.x, place.frame.y), place.surface_z),
        )
        rig = RobotRig(
            config,
            self.capabilities,
            camera,
            mount,
            arm=arm,
            place=config.at,
            reach=(config.at, *config.reach),
            bodies={body} if pedestal is None else {body, pedestal},
            footprint=footprint,
        )
        return rig


class Carrier:
    """A mobile base with a tray at counter height and no arm. A pusher plate sweeps the
    tray from back to front, sliding the load off the open front edge onto the place it
    is docked at (its unload mechanism)."""

    capabilities = frozenset({"navigate", "carry"})
    half_length, half_width, tray_top, overhang = 0.25, 0.22, 0.78, 0.07

    def spawn(self, world: Spawner, config: RobotConfig) -> RobotRig:
        c = world.client
        hl, hw, top = self.half_length, self.half_width, self.tray_top
        base = BaseRig([], hl, (hl**2 + hw**2) ** 0.5, Frame2(0, 0, 0))
        rig = RobotRig(
            config,
            self.capabilities,
            CameraMount((0.0, 0.0, 1.2), (1.0, 0.0, 0.7)),
            Frame2(0, 0, 0),
            base=base,
        )
        frame = _spawn_pose(world, rig, config)
        chassis = _box_link(
            c,
            (hl, hw, (top - 0.1) / 2 - 0.01),
            (0, 0, 0.05 + (top - 0.1) / 2),
            (0.2, 0.45, 0.75, 1.0),
        )
        # the tray overhangs the chassis front: docked, its edge lies just over the place's
        # surface, so a pushed load slides off onto the place with no gap to fall into
        over = self.overhang
        tl, tc = hl + over / 2, over / 2
        tray_shapes = [
            ((tl, hw, 0.01), (tc, 0.0, top - 0.01)),
            ((tl, 0.01, 0.015), (tc, hw - 0.01, top + 0.015)),
            ((tl, 0.01, 0.015), (tc, -hw + 0.01, top + 0.015)),
        ]
        tray_col = p.createCollisionShapeArray(
            [p.GEOM_BOX] * 3,
            halfExtents=[s[0] for s in tray_shapes],
            collisionFramePositions=[s[1] for s in tray_shapes],
            physicsClientId=c,
        )
        tray_vis = p.createVisualShapeArray(
            [p.GEOM_BOX] * 3,
            halfExtents=[s[0] for s in tray_shapes],
            visualFramePositions=[s[1] for s in tray_shapes],
            rgbaColors=[(0.85, 0.85, 0.85, 1.0)] * 3,
            physicsClientId=c,
        )
        pusher = _box_link(
            c, (0.01, hw - 0.03, 0.03), (-hl + 0.02, 0.0, top + 0.032), (0.9, 0.4, 0.1, 1.0)
        )
        travel = 2 * hl + over + 0.1
        body = p.createMultiBody(
            baseMass=30.0,
            baseCollisionShapeIndex=chassis[0],
            baseVisualShapeIndex=chassis[1],
            basePosition=(frame.x, frame.y, 0.0),
            baseOrientation=yaw_quat(frame.yaw),
            baseInertialFramePosition=(0, 0, 0.4),
            linkMasses=[2.0, 0.4],
            linkCollisionShapeIndices=[tray_col, pusher[0]],
            linkVisualShapeIndices=[tray_vis, pusher[1]],
            linkPositions=[(0, 0, 0), (0, 0, 0)],
            linkOrientations=[(0, 0, 0, 1)] * 2,
            linkInertialFramePositions=[(tc, 0, top - 0.01), (-hl + 0.02, 0, top + 0.032)],
            linkInertialFrameOrientations=[(0, 0, 0, 1)] * 2,
            linkParentIndices=[0, 0],
            linkJointTypes=[p.JOINT_FIXED, p.JOINT_PRISMATIC],
            linkJointAxis=[(0, 0, 1), (1, 0, 0)],
            physicsClientId=c,
        )
        p.changeDynamics(body, 0, lateralFriction=1.0, physicsClientId=c)
        p.changeDynamics(body, 1, lateralFriction=0.3, physicsClientId=c)
        p.setJointMotorControl2(
            body, 1, p.POSITION_CONTROL, targetPosition=0.0, force=60.0, physicsClientId=c
        )
        base.bodies.append((body, _drive_constraint(c, body, frame, 0.0), (0.0, 0.0, 0.0)))
        base.commanded = frame
        rig.tray = TrayRig(body, 0, 1, 2 * hl + over, 2 * hw, top, travel, centre=(tc, 0.0))
        rig.bodies = {body}
        return rig


class MobileManipulator:
    """A mobile base with a Franka Panda on its front half and a camera mast."""

    capabilities = frozenset({"navigate", "manipulate", "camera"})
    half_length, half_width, top = 0.25, 0.25, 0.42

    def __init__(self, model: ArmModel = PANDA) -> None:
        self.model = model

    def spawn(self, world: Spawner, config: RobotConfig) -> RobotRig:
        c = world.client
        hl, hw, top = self.half_length, self.half_width, self.top
        base = BaseRig([], hl, (hl**2 + hw**2) ** 0.5, Frame2(0, 0, 0))
        rig = RobotRig(
            config,
            self.capabilities,
            CameraMount((-0.15, 0.22, 1.6), (0.9, 0.0, 0.75)),
            Frame2(0, 0, 0),
            base=base,
        )
        frame = _spawn_pose(world, rig, config)
        shapes = [
            ((hl, hw, (top - 0.05) / 2), (0.0, 0.0, 0.05 + (top - 0.05) / 2)),
            ((0.02, 0.02, 0.42), (-0.2, 0.0, top + 0.42)),
        ]
        col = p.createCollisionShapeArray(
            [p.GEOM_BOX] * 2,
            halfExtents=[s[0] for s in shapes],
            collisionFramePositions=[s[1] for s in shapes],
            physicsClientId=c,
        )
        vis = p.createVisualShapeArray(
            [p.GEOM_BOX] * 2,
            halfExtents=[s[0] for s in shapes],
            visualFramePositions=[s[1] for s in shapes],
            rgbaColors=[(0.3, 0.3, 0.35, 1.0), (0.1, 0.1, 0.1, 1.0)],
            physicsClientId=c,
        )
        cart = p.createMultiBody(
            baseMass=40.0,
            baseCollisionShapeIndex=col,
            baseVisualShapeIndex=vis,
            basePosition=(frame.x, frame.y, 0.0),
            baseOrientation=yaw_quat(frame.yaw),
            baseInertialFramePosition=(0, 0, 0.25),
            physicsClientId=c,
        )
        mount = (0.1, 0.0, top)
        ax, ay = frame.to_world(mount[0], mount[1])
        arm_body = _load_arm(c, self.model, False, (ax, ay, top), frame.yaw, self.model.stow)
        p.changeDynamics(arm_body, -1, mass=4.0, physicsClientId=c)
        for link in range(-1, p.getNumJoints(arm_body, physicsClientId=c)):
            p.setCollisionFilterPair(cart, arm_body, -1, link, 0, physicsClientId=c)
        base.bodies += [
            (cart, _drive_constraint(c, cart, frame, 0.0), (0.0, 0.0, 0.0)),
            (arm_body, _drive_constraint(c, arm_body, Frame2(ax, ay, frame.yaw), top), mount),
        ]
        base.commanded = frame
        rig.arm = ArmRig(
            arm_body, self.model, (*mount, 0.0), list(self.model.stow), self.model.finger_open
        )
        rig.bodies = {cart, arm_body}
        return rig


def builtin_embodiments() -> dict[str, Embodiment]:
    """The embodiments the simulator knows by name (a fleet file's `embodiment:`)."""
    return {
        "fixed_arm": FixedArm(),
        "carrier": Carrier(),
        "mobile_manipulator": MobileManipulator(),
    }
