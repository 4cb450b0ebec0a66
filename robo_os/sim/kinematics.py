"""Inverse kinematics on a private pybullet client, so that solving never disturbs the
simulated arms: the solver's own copy of the arm sits at the origin and targets are
given in the arm's base frame."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pybullet as p
import pybullet_data

from .geometry import Frame2

__all__ = ["PANDA", "ArmModel", "IKSolution", "Kinematics", "OtherArm"]


@dataclass(frozen=True)
class ArmModel:
    """What the simulator needs to know about an arm's URDF."""

    urdf: str
    arm_joints: tuple[int, ...]
    finger_joints: tuple[int, ...]
    ee_link: int
    """The link IK targets: between the finger pads."""
    hand_link: int
    """A link with mass that a grasped object is attached to."""
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    stow: tuple[float, ...]
    """Joint angles that tuck the arm and anything it holds over its base (for driving,
    and out of the camera's view)."""
    rest: tuple[float, ...]
    """The posture IK prefers (its null-space target): elbow up, gripper down."""
    finger_open: float
    max_force: tuple[float, ...]
    joint_speed: float = 1.6
    """rad/s the motion controller interpolates at."""
    down: tuple[float, float, float, float] = field(default=(1.0, 0.0, 0.0, 0.0))
    """Quaternion of a top-down gripper in the base frame (fingers closing along +y)."""
    reach_m: float = 0.82


PANDA = ArmModel(
    urdf="franka_panda/panda.urdf",
    arm_joints=(0, 1, 2, 3, 4, 5, 6),
    finger_joints=(9, 10),
    ee_link=11,
    hand_link=8,
    lower=(-2.9671, -1.8326, -2.9671, -3.0718, -2.9671, -0.0175, -2.9671),
    upper=(2.9671, 1.8326, 2.9671, -0.0698, 2.9671, 3.7525, 2.9671),
    stow=(0.0, -1.4, 0.0, -2.52, 0.0, 1.12, 0.785),
    rest=(0.0, -0.9, 0.0, -2.6, 0.0, 1.75, 0.785),
    finger_open=0.04,
    max_force=(87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0),
)


@dataclass(frozen=True)
class OtherArm:
    """Another robot's arm as it stands, for collision checks."""

    urdf: str
    base: Frame2
    base_z: float
    joints: tuple[tuple[int, float], ...]
    """(joint index, position) of each of its moving joints."""


@dataclass(frozen=True)
class IKSolution:
    joints: tuple[float, ...]
    error_m: float
    """Distance between the target and where these joints put the end effector."""

    @property
    def ok(self) -> bool:
        return self.error_m < 0.012


class Kinematics:
    """IK for one arm model. Owns a pybullet client; `close()` releases it."""

    def __init__(self, model: ArmModel) -> None:
        self.model = model
        self._client = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self._client)
        self._body = p.loadURDF(model.urdf, useFixedBase=True, physicsClientId=self._client)
        self._gripper: list[tuple[tuple[float, ...], tuple[float, ...]]] | None = None
        self._others: list[tuple[str, int]] = []
        self._boxes: list[tuple[tuple[float, float, float], int]] = []
        """Box stand-ins for places in collision checks (`touches_boxes`)."""
        """(urdf, body) stand-ins for other arms in collision checks (`touches`)."""
        self._dofs = [
            j
            for j in range(p.getNumJoints(self._body, physicsClientId=self._client))
            if p.getJointInfo(self._body, j, physicsClientId=self._client)[2] != p.JOINT_FIXED
        ]

    def close(self) -> None:
        if self._client >= 0:
            p.disconnect(physicsClientId=self._client)
            self._client = -1

    def _set(self, joints: tuple[float, ...]) -> None:
        for j, v in zip(self.model.arm_joints, joints, strict=True):
            p.resetJointState(self._body, j, v, physicsClientId=self._client)

    def forward(
        self, joints: tuple[float, ...]
    ) -> tuple[tuple[float, float, float], tuple[float, ...]]:
        """End-effector position and orientation in the base frame."""
        self._set(joints)
        state = p.getLinkState(
            self._body,
            self.model.ee_link,
            computeForwardKinematics=True,
            physicsClientId=self._client,
        )
        return (state[4][0], state[4][1], state[4][2]), tuple(state[5])

    def touches(
        self,
        joints: tuple[float, ...],
        base: Frame2,
        base_z: float,
        others: list[OtherArm],
        margin: float,
    ) -> int | None:
        """Which of `others` (index) this arm, at `joints` with its base at world
        `base`/`base_z`, would come within `margin` of; None when clear of all. The
        others are copied into this solver's client as they stand (their convex link
        shapes, not boxes: a forearm reaching out diagonally is no box)."""
        self._set(joints)
        for i, other in enumerate(others):
            body = self._copy(i, other.urdf)
            lx, ly = base.to_local(other.base.x, other.base.y)
            p.resetBasePositionAndOrientation(
                body,
                (lx, ly, other.base_z - base_z),
                p.getQuaternionFromEuler((0.0, 0.0, other.base.yaw - base.yaw)),
                physicsClientId=self._client,
            )
            for j, q in other.joints:
                p.resetJointState(body, j, q, physicsClientId=self._client)
            if p.getClosestPoints(self._body, body, margin, physicsClientId=self._client):
                return i
        return None

    def gripper_boxes(self) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
        """The open gripper (hand and fingers) as boxes (centre, half extents) in the
        gripper's frame: origin at the point between the finger pads, x along the
        gripper's yaw, y the axis the fingers close along, z up. Measured once on this
        solver's copy of the arm, pointing down."""
        if self._gripper is None:
            m = self.model
            sol = self.solve(Frame2(0.0, 0.0, 0.0), 0.0, (0.45, 0.0, 0.25), 0.0)
            self._set(sol.joints)
            for j in m.finger_joints:
                p.resetJointState(self._body, j, m.finger_open, physicsClientId=self._client)
            tcp = p.getLinkState(
                self._body, m.ee_link, computeForwardKinematics=True, physicsClientId=self._client
            )[4]
            boxes: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
            for link in (m.hand_link, *m.finger_joints):
                lo, hi = p.getAABB(self._body, link, physicsClientId=self._client)
                centre = tuple((a + b) / 2 - t for a, b, t in zip(lo, hi, tcp, strict=True))
                half = tuple((b - a) / 2 for a, b in zip(lo, hi, strict=True))
                boxes.append((centre, half))
            self._set(m.stow)
            self._gripper = boxes
        assert self._gripper is not None
        return self._gripper

    def touches_boxes(
        self,
        joints: tuple[float, ...],
        base: Frame2,
        base_z: float,
        boxes: list[tuple[tuple[float, float, float], tuple[float, float, float], float]],
        margin: float,
        links: frozenset[int],
    ) -> int | None:
        """Which of `boxes` (index; world centre, half extents, yaw) the arm's `links`,
        at `joints` with its base at world `base`/`base_z`, come within `margin` of;
        None when clear of all."""
        self._set(joints)
        for i, (centre, half, yaw) in enumerate(boxes):
            body = self._box(i, half)
            lx, ly = base.to_local(centre[0], centre[1])
            p.resetBasePositionAndOrientation(
                body,
                (lx, ly, centre[2] - base_z),
                p.getQuaternionFromEuler((0.0, 0.0, yaw - base.yaw)),
                physicsClientId=self._client,
            )
            near = p.getClosestPoints(self._body, body, margin, physicsClientId=self._client)
            if any(c[3] in links for c in near):
                return i
        return None

    def _box(self, i: int, half: tuple[float, float, float]) -> int:
        """The i-th box stand-in in this client, with these half extents (reused)."""
        while len(self._boxes) <= i or self._boxes[i][0] != half:
            if len(self._boxes) > i:
                p.removeBody(self._boxes[i][1], physicsClientId=self._client)
                self._boxes.pop(i)
            shape = p.createCollisionShape(
                p.GEOM_BOX, halfExtents=list(half), physicsClientId=self._client
            )
            body = p.createMultiBody(
                0.0, shape, basePosition=(0.0, 0.0, -10.0), physicsClientId=self._client
            )
            self._boxes.insert(i, (half, body))
        return self._boxes[i][1]

    def _copy(self, i: int, urdf: str) -> int:
        """The i-th stand-in for another arm in this client (loaded once, reused)."""
        while len(self._others) <= i or self._others[i][0] != urdf:
            if len(self._others) > i:  # another model in that place: replace it
                p.removeBody(self._others[i][1], physicsClientId=self._client)
                self._others.pop(i)
            body = p.loadURDF(
                urdf, (0.0, 0.0, -10.0), useFixedBase=True, physicsClientId=self._client
            )
            self._others.insert(i, (urdf, body))
        return self._others[i][1]

    def solve(
        self,
        base: Frame2,
        base_z: float,
        target: tuple[float, float, float],
        gripper_yaw: float,
        seed: tuple[float, ...] | None = None,
        orientation: tuple[float, float, float, float] | None = None,
    ) -> IKSolution:
        """Joints that put the end effector at world `target`, pointing down with the
        fingers closing along world direction `gripper_yaw` + 90 degrees; with
        `orientation` (a world-frame quaternion), in that orientation instead."""
        m = self.model
        lx, ly = base.to_local(target[0], target[1])
        local = (lx, ly, target[2] - base_z)
        if orientation is not None:
            orn = p.multiplyTransforms(
                (0, 0, 0), p.getQuaternionFromEuler((0, 0, -base.yaw)), (0, 0, 0), orientation
            )[1]
        else:
            yaw = gripper_yaw - base.yaw
            orn = p.multiplyTransforms(
                (0, 0, 0), p.getQuaternionFromEuler((0, 0, yaw)), (0, 0, 0), m.down
            )[1]
        rest = list(seed or m.rest)
        # facing the target from the start is what lets the null-space solver converge
        rest[0] = min(max(math.atan2(ly, lx), m.lower[0]), m.upper[0])
        n_extra = len(self._dofs) - len(m.arm_joints)
        lower = [*m.lower, *[0.0] * n_extra]
        upper = [*m.upper, *[m.finger_open] * n_extra]
        ranges = [u - lo for u, lo in zip(upper, lower, strict=True)]
        rest_full = [*rest, *[m.finger_open] * n_extra]
        best = IKSolution(tuple(rest), math.inf)
        current = tuple(rest)
        for _ in range(6):
            self._set(current)
            sol = p.calculateInverseKinematics(
                self._body,
                m.ee_link,
                local,
                orn,
                lowerLimits=lower,
                upperLimits=upper,
                jointRanges=ranges,
                restPoses=rest_full,
                maxNumIterations=100,
                residualThreshold=1e-5,
                physicsClientId=self._client,
            )
            current = tuple(
                min(max(v, lo), hi)
                for v, lo, hi in zip(sol[: len(m.arm_joints)], m.lower, m.upper, strict=True)
            )
            pos, got = self.forward(current)
            err = math.dist(pos, local) + 0.1 * (
                1.0 - abs(sum(a * b for a, b in zip(got, orn, strict=True)))
            )
            if err < best.error_m:
                best = IKSolution(current, err)
            if err < 1e-3:
                break
        return best
