"""Motion controllers: advanced one physics step at a time by the world, several at once.

A controller returns None while it runs and a `MotionResult` when it is finished; a
cancelled controller holds its robot still where it is and finishes on its next step.
Controllers see the world as a `Scene` and drive it through its pybullet client.
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import pybullet as p

from ..skill.parts import MotionOutcome, MotionResult
from .geometry import Frame2, wrap_angle
from .rigs import ArmRig, RobotRig
from .view import Scene

__all__ = [
    "Attach",
    "Controller",
    "Detach",
    "Fingers",
    "Guard",
    "Leg",
    "Motion",
    "MoveJoints",
    "NavigateController",
    "Phase",
    "PhaseController",
    "PusherTo",
    "Settle",
    "calm",
    "hold_still",
]

LOOSE_SPEED = 1.0
"""Fastest an object let go of (released, pushed off a tray, settling) may move across
the floor plan (m/s). Falling is left to gravity; a squeeze or a contact impulse (a load
wedged between a pusher and something, a robot brushing it) must not throw it across
the room: if it falls, it falls nearby."""


class Controller(ABC):
    part: str = "base"

    def __init__(self, rig: RobotRig) -> None:
        self.rig = rig
        self.cancelled = False
        self.on_finish: Callable[[MotionResult], MotionResult] | None = None
        """Called by the world with the final result (may amend it): bookkeeping such as
        docking at a slot happens here, in the same step the motion ends."""

    def cancel(self) -> None:
        self.cancelled = True

    @abstractmethod
    def step(self, world: Scene, dt: float) -> MotionResult | None: ...


@dataclass
class Motion:
    """One motion as the world tracks it: its controller while it runs, then its result."""

    id: str
    robot: str
    part: str
    controller: Controller | None
    result: MotionResult | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def hold_still(client: int, rig: RobotRig, part: str) -> None:
    """Command a robot's part to stay where it is now (a cancelled or failed motion)."""
    if part == "arm" and rig.arm is not None:
        states = p.getJointStates(
            rig.arm.body, list(rig.arm.model.arm_joints), physicsClientId=client
        )
        rig.arm.commanded = [s[0] for s in states]
    elif part == "tray" and rig.tray is not None:
        q = p.getJointState(rig.tray.body, rig.tray.pusher_joint, physicsClientId=client)[0]
        p.setJointMotorControl2(
            rig.tray.body,
            rig.tray.pusher_joint,
            p.POSITION_CONTROL,
            targetPosition=q,
            force=60.0,
            physicsClientId=client,
        )
    elif rig.base is not None:
        rig.base.command(client, rig.base.commanded)


def calm(client: int, body: int, max_speed: float = LOOSE_SPEED) -> None:
    """Cap a loose object's horizontal speed (and spin) at `max_speed`: what a solver
    impulse would add beyond it is dropped, its direction kept."""
    lin, ang = p.getBaseVelocity(body, physicsClientId=client)
    flat = math.hypot(lin[0], lin[1])
    spin = math.sqrt(sum(a * a for a in ang))
    max_spin = 10.0 * max_speed
    if flat <= max_speed and spin <= max_spin:
        return
    k = min(1.0, max_speed / flat) if flat > 0 else 1.0
    q = min(1.0, max_spin / spin) if spin > 0 else 1.0
    p.resetBaseVelocity(
        body,
        linearVelocity=(lin[0] * k, lin[1] * k, lin[2]),
        angularVelocity=(ang[0] * q, ang[1] * q, ang[2] * q),
        physicsClientId=client,
    )


# -- mobile base ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """A straight drive from `start` to `end`. `yaw` None: face along the leg (turning on
    the spot first); a number: keep that heading (docking, undocking)."""

    start: tuple[float, float]
    end: tuple[float, float]
    yaw: float | None = None


class NavigateController(Controller):
    part = "base"
    speed, accel, turn_rate = 1.0, 1.2, 2.5

    def __init__(
        self,
        rig: RobotRig,
        legs: list[Leg],
        *,
        goal: str | None = None,
        contact_ok: range = range(0),
    ) -> None:
        super().__init__(rig)
        assert rig.base is not None
        self.base = rig.base
        self.legs = legs
        self.goal = goal
        self.contact_ok = contact_ok
        """Legs during which contact is no collision (sliding free of a wedge)."""
        self._leg = 0
        self._turning = True
        self._s = 0.0
        self._v = 0.0
        self._steps = 0
        self._settle = 0

    def remaining_route(self) -> list[tuple[float, float]]:
        """The points the base still drives through: where it is, then every leg's end."""
        cmd = self.base.commanded
        return [(cmd.x, cmd.y), *(leg.end for leg in self.legs[self._leg :])]

    def _heading(self, leg: Leg) -> float:
        if leg.yaw is not None:
            return leg.yaw
        if math.dist(leg.start, leg.end) < 1e-6:
            return self.base.commanded.yaw
        return math.atan2(leg.end[1] - leg.start[1], leg.end[0] - leg.start[0])

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        cmd = self.base.commanded
        if self.cancelled:
            self.base.command(world.client, cmd)
            return MotionResult(
                outcome=MotionOutcome.cancelled,
                message="navigation cancelled",
                pose=world.robot_pose(self.rig.id),
            )
        self._steps += 1
        if self._steps % 4 == 0 and self._leg not in self.contact_ok:
            hit = world.unexpected_contact(self.rig)
            if hit is not None:
                return MotionResult(
                    outcome=MotionOutcome.collision,
                    message=f"stopped by contact with {hit}",
                    pose=world.robot_pose(self.rig.id),
                )
        if self._leg >= len(self.legs):
            actual = self.rig.pose(world.client)
            if math.hypot(actual.x - cmd.x, actual.y - cmd.y) < 0.02 or self._settle > 120:
                return MotionResult(outcome=MotionOutcome.done, pose=world.robot_pose(self.rig.id))
            self._settle += 1
            return None
        leg = self.legs[self._leg]
        if self._turning:
            err = wrap_angle(self._heading(leg) - cmd.yaw)
            turn = max(-self.turn_rate * dt, min(self.turn_rate * dt, err))
            self.base.command(world.client, Frame2(cmd.x, cmd.y, wrap_angle(cmd.yaw + turn)))
            if abs(err) <= self.turn_rate * dt:
                self._turning = False
            return None
        length = math.dist(leg.start, leg.end)
        remaining = length - self._s
        self._v = min(
            self._v + self.accel * dt,
            self.speed,
            math.sqrt(2 * self.accel * max(remaining, 0.0)) + self.accel * dt,
        )
        self._s = min(length, self._s + self._v * dt)
        f = self._s / length if length > 1e-9 else 1.0
        x = leg.start[0] + (leg.end[0] - leg.start[0]) * f
        y = leg.start[1] + (leg.end[1] - leg.start[1]) * f
        self.base.command(world.client, Frame2(x, y, cmd.yaw))
        if self._s >= length - 1e-6:
            self._leg += 1
            self._turning, self._s, self._v = True, 0.0, 0.0
        return None


# -- phased motions (arm, tray) ------------------------------------------------------------------


class Phase(ABC):
    """One stage of a phased motion: returns None while running, True when finished,
    or a MotionResult to end the whole motion (a failure, or the final outcome)."""

    label = ""

    def enter(self, world: Scene, rig: RobotRig) -> None:  # noqa: B027 (optional hook)
        """Called on the phase's first step."""

    @abstractmethod
    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None: ...


def _arm(rig: RobotRig) -> ArmRig:
    assert rig.arm is not None
    return rig.arm


Guard = Callable[[Scene, RobotRig], bool]


class MoveJoints(Phase):
    """Interpolate the arm's joints to a target, then wait until they are there. With
    `until`, a guarded move: it also ends (successfully, holding still) as soon as the
    guard sees contact, as a real arm lowering a load stops when it feels the surface."""

    def __init__(
        self,
        target: tuple[float, ...],
        label: str,
        speed: float | None = None,
        until: Guard | None = None,
    ) -> None:
        self.target, self.label, self.speed, self.until = target, label, speed, until
        self._t = 0.0

    def enter(self, world: Scene, rig: RobotRig) -> None:
        arm = _arm(rig)
        self._start = tuple(arm.commanded)
        span = max(abs(a - b) for a, b in zip(self.target, self._start, strict=True))
        self._duration = max(0.15, span / (self.speed or arm.model.joint_speed))

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        arm = _arm(rig)
        self._t += dt
        f = min(1.0, self._t / self._duration)
        f = f * f * (3 - 2 * f)  # smoothstep: no jerk at either end
        arm.commanded = [a + (b - a) * f for a, b in zip(self._start, self.target, strict=True)]
        if self.until is not None and self.until(world, rig):
            hold_still(world.client, rig, "arm")
            return True
        if self._t < self._duration:
            return None
        states = p.getJointStates(
            arm.body, list(arm.model.arm_joints), physicsClientId=world.client
        )
        if max(abs(s[0] - q) for s, q in zip(states, self.target, strict=True)) < 0.03:
            return True
        if self._t > self._duration + 1.5:
            return MotionResult(
                outcome=MotionOutcome.collision, message=f"arm blocked while {self.label}"
            )
        return None


class Fingers(Phase):
    def __init__(self, width: float, seconds: float, label: str) -> None:
        self.width, self.seconds, self.label = width, seconds, label
        self._t = 0.0

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        _arm(rig).fingers = self.width
        self._t += dt
        return True if self._t >= self.seconds else None


class Attach(Phase):
    """Hold what the fingers closed on: a fixed constraint from the hand to the object
    (or an articulated link), created only if the fingers touch it."""

    def __init__(self, name: str, body: int, link: int = -1, grip_yaw: float = 0.0) -> None:
        self.name, self.body, self.link, self.grip_yaw = name, body, link, grip_yaw
        self.label = f"grasping {name}"

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        arm = _arm(rig)
        c = world.client
        touching = [
            cp
            for cp in p.getContactPoints(arm.body, self.body, physicsClientId=c)
            if cp[3] in arm.model.finger_joints and (self.link == -2 or cp[4] == self.link)
        ]
        if not touching:
            return MotionResult(
                outcome=MotionOutcome.not_found,
                message=f"the gripper closed on nothing: {self.name} is not where expected",
            )
        hand = p.getLinkState(arm.body, arm.model.hand_link, physicsClientId=c)
        if self.link < 0:
            pos, orn = p.getBasePositionAndOrientation(self.body, physicsClientId=c)
        else:
            st = p.getLinkState(self.body, self.link, physicsClientId=c)
            pos, orn = st[4], st[5]
        inv_pos, inv_orn = p.invertTransform(hand[4], hand[5])
        rel_pos, rel_orn = p.multiplyTransforms(inv_pos, inv_orn, pos, orn)
        cid = p.createConstraint(
            arm.body,
            arm.model.hand_link,
            self.body,
            self.link,
            p.JOINT_FIXED,
            (0, 0, 0),
            rel_pos,
            (0, 0, 0),
            parentFrameOrientation=rel_orn,
            physicsClientId=c,
        )
        p.changeConstraint(cid, maxForce=300.0, physicsClientId=c)
        arm.held = (self.name, cid)
        ee = p.getLinkState(arm.body, arm.model.ee_link, physicsClientId=c)[4]
        dx, dy = pos[0] - ee[0], pos[1] - ee[1]
        cy, sy = math.cos(self.grip_yaw), math.sin(self.grip_yaw)
        arm.grip_yaw = self.grip_yaw
        arm.grip_offset = (cy * dx + sy * dy, -sy * dx + cy * dy, pos[2] - ee[2])
        return True


class Detach(Phase):
    label = "releasing"

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        arm = _arm(rig)
        if arm.held is not None:
            name, cid = arm.held
            p.removeConstraint(cid, physicsClientId=world.client)
            arm.held = None
            if name in world.objects:  # (a drawer handle is no loose object)
                calm(world.client, world.object_body(name))
        return True


BLOCKED_LAG = 0.05
"""How far (m) a tray's pusher may trail its commanded position before it counts as blocked."""


class PusherTo(Phase):
    """Drive a tray's pusher plate to a position at a steady speed."""

    def __init__(
        self, position: float, label: str, speed: float = 0.3, load: str | None = None
    ) -> None:
        self.position, self.label, self.speed, self.load = position, label, speed, load

    def enter(self, world: Scene, rig: RobotRig) -> None:
        assert rig.tray is not None
        self._cmd = p.getJointState(
            rig.tray.body, rig.tray.pusher_joint, physicsClientId=world.client
        )[0]
        self._t = 0.0
        self._limit = abs(self.position - self._cmd) / self.speed + 3.0

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        tray = rig.tray
        assert tray is not None
        self._t += dt
        err = self.position - self._cmd
        self._cmd += max(-self.speed * dt, min(self.speed * dt, err))
        p.setJointMotorControl2(
            tray.body,
            tray.pusher_joint,
            p.POSITION_CONTROL,
            targetPosition=self._cmd,
            force=60.0,
            physicsClientId=world.client,
        )
        if self.load is not None:
            calm(world.client, world.object_body(self.load))
        actual = p.getJointState(tray.body, tray.pusher_joint, physicsClientId=world.client)[0]
        if abs(self.position - actual) < 0.01:
            return True
        # a plate that falls this far behind its command is pressing on something that
        # does not give: stop now rather than squeeze the load until it shoots out
        if abs(self._cmd - actual) > BLOCKED_LAG or self._t > self._limit:
            return MotionResult(
                outcome=MotionOutcome.collision, message=f"pusher blocked while {self.label}"
            )
        return None


class Settle(Phase):
    """Wait until an object has come to rest, then report where it rests. With
    `expected`, resting anywhere else ends the motion as failed."""

    def __init__(self, obj: str, expected: str | None, *, final: bool = True) -> None:
        self.obj, self.expected, self.final = obj, expected, final
        self.label = f"letting {obj} settle"
        self._t, self._still = 0.0, 0

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        self._t += dt
        body = world.object_body(self.obj)
        calm(world.client, body)
        lin, ang = p.getBaseVelocity(body, physicsClientId=world.client)
        self._still = self._still + 1 if math.hypot(*lin) < 0.02 and math.hypot(*ang) < 0.5 else 0
        if self._still < 15 and self._t < 3.0:
            return None
        on = world.support_of(self.obj)
        pose = world.object_pose(self.obj)
        if self.expected is not None and on != self.expected:
            return MotionResult(
                outcome=MotionOutcome.failed,
                message=f"{self.obj} came to rest on {on or 'the floor'}, not on {self.expected}",
                pose=pose,
                on=on,
            )
        if not self.final:
            return True
        return MotionResult(outcome=MotionOutcome.done, pose=pose, on=on)


class PhaseController(Controller):
    """Runs phases in order; the last phase's result (or `done`) ends the motion."""

    def __init__(
        self, rig: RobotRig, part: str, phases: list[Phase], *, obj: str | None = None
    ) -> None:
        super().__init__(rig)
        self.part = part
        self.phases = phases
        self.obj = obj
        self._i = 0
        self._entered = False

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        if self.cancelled:
            hold_still(world.client, self.rig, self.part)
            return MotionResult(
                outcome=MotionOutcome.cancelled, message=f"{self.part} motion cancelled"
            )
        if self._i >= len(self.phases):
            pose = world.object_pose(self.obj) if self.obj else None
            return MotionResult(outcome=MotionOutcome.done, pose=pose)
        phase = self.phases[self._i]
        if not self._entered:
            phase.enter(world, self.rig)
            self._entered = True
        out = phase.step(world, self.rig, dt)
        arm = self.rig.arm
        if (
            self.obj is not None
            and self.obj in world.objects
            and (arm is None or arm.held is None or arm.held[0] != self.obj)
        ):
            calm(world.client, world.object_body(self.obj))  # the motion's load, let go of
        if isinstance(out, MotionResult):
            if not out.ok:
                hold_still(world.client, self.rig, self.part)
            return out
        if out:
            self._i += 1
            self._entered = False
        return None
