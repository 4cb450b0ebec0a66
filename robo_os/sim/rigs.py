"""The parts of a simulated robot as the world drives them: its mobile base (bodies on
driven constraints), arm, tray and camera mount. Built by an embodiment's `spawn`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pybullet as p

from ..fleet import RobotConfig
from .geometry import Frame2, quat_yaw, yaw_quat
from .kinematics import ArmModel
from .planning import Obstacle
from .scene import Slot

__all__ = ["ArmRig", "BaseRig", "CameraMount", "RobotRig", "TrayRig"]


@dataclass
class BaseRig:
    """A mobile base driven through physics: each body hangs on a fixed constraint whose
    pivot the motion controller moves every step (it pushes, it is not teleported)."""

    bodies: list[tuple[int, int, tuple[float, float, float]]]
    """(body, constraint, mount offset (x, y, z) in the base frame)."""
    half_length: float
    radius: float
    """Circumscribed radius (what the planner inflates obstacles by)."""
    commanded: Frame2
    max_force: float = 1500.0

    def command(self, client: int, frame: Frame2) -> None:
        self.commanded = frame
        for _body, cid, (ox, oy, oz) in self.bodies:
            x, y = frame.to_world(ox, oy)
            p.changeConstraint(
                cid,
                jointChildPivot=(x, y, oz),
                jointChildFrameOrientation=yaw_quat(frame.yaw),
                maxForce=self.max_force,
                physicsClientId=client,
            )


@dataclass
class ArmRig:
    body: int
    model: ArmModel
    mount: tuple[float, float, float, float]
    """Arm base in the robot frame (x, y, z, yaw); for a fixed arm the robot frame is the world."""
    commanded: list[float]
    fingers: float
    held: tuple[str, int] | None = None
    """(object name, grasp constraint)."""
    grip_yaw: float = 0.0
    """World yaw of the gripper when it grasped what it holds."""
    grip_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The held object's centre from the end effector, in the grip-yaw frame."""
    stow: tuple[float, ...] = ()
    """This arm's stowed joints (its model's unless the embodiment chose others)."""

    def __post_init__(self) -> None:
        if not self.stow:
            self.stow = self.model.stow

    def base_frame(self, robot: Frame2) -> tuple[Frame2, float]:
        x, y, z, yaw = self.mount
        return robot.compose(x, y, yaw), z

    def drive(self, client: int) -> None:
        m = self.model
        p.setJointMotorControlArray(
            self.body,
            list(m.arm_joints),
            p.POSITION_CONTROL,
            targetPositions=self.commanded,
            forces=list(m.max_force),
            positionGains=[0.08] * len(m.arm_joints),
            physicsClientId=client,
        )
        p.setJointMotorControlArray(
            self.body,
            list(m.finger_joints),
            p.POSITION_CONTROL,
            targetPositions=[self.fingers] * len(m.finger_joints),
            forces=[40.0] * len(m.finger_joints),
            physicsClientId=client,
        )


@dataclass
class TrayRig:
    body: int
    tray_link: int
    pusher_joint: int
    length: float
    width: float
    top_z: float
    pusher_travel: float
    centre: tuple[float, float] = (0.0, 0.0)
    """Tray centre in the robot frame."""


@dataclass
class CameraMount:
    eye: tuple[float, float, float]
    """Camera position in the robot frame."""
    look: tuple[float, float, float]
    """Default point looked at, in the robot frame."""


@dataclass
class RobotRig:
    config: RobotConfig
    capabilities: frozenset[str]
    camera: CameraMount
    frame: Frame2
    """Pose of a fixed robot; mobile ones read theirs from the base body."""
    base: BaseRig | None = None
    arm: ArmRig | None = None
    tray: TrayRig | None = None
    place: str | None = None
    slot: Slot | None = None
    reach: tuple[str, ...] = ()
    bodies: set[int] = field(default_factory=set)
    footprint: Obstacle | None = None
    """What a fixed robot takes of the floor (a pedestal): bases plan around it."""

    @property
    def id(self) -> str:
        return self.config.id

    def pose(self, client: int) -> Frame2:
        if self.base is None:
            return self.frame
        if not self.base.bodies:  # still being spawned
            return self.base.commanded
        pos, orn = p.getBasePositionAndOrientation(self.base.bodies[0][0], physicsClientId=client)
        return Frame2(pos[0], pos[1], quat_yaw(orn))
