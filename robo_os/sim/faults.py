"""Injected faults: grasp slips, drops while carrying, blocked paths, slow and stuck
motions, each drawn per motion at a configured rate (`SimSettings.faults`).

The draw for the n-th motion of one kind by one robot depends only on (seed, robot, kind,
n), so a run is reproducible whatever order robots start their motions in. A fault wraps
the controller the world would have run (or adds phases to a phased one); the world
steps it like any other. docs/reliability.md says what each one does.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Callable

import pybullet as p

from ..settings import FaultSettings
from ..skill.parts import MotionOutcome, MotionResult
from .models import MotionRequest, Navigate, Pick
from .motions import Attach, Controller, MoveJoints, Phase, PhaseController
from .rigs import RobotRig
from .view import Scene

__all__ = ["FaultInjector", "drop_held"]

log = logging.getLogger(__name__)


def drop_held(world: Scene, rig: RobotRig) -> str | None:
    """Let go of what the arm holds (fingers open, constraint gone); its name or None."""
    arm = rig.arm
    if arm is None or arm.held is None:
        return None
    name, cid = arm.held
    p.removeConstraint(cid, physicsClientId=world.client)
    arm.held = None
    arm.fingers = arm.model.finger_open
    return name


class _Slip(Phase):
    def __init__(self, obj: str) -> None:
        self.obj = obj
        self.label = f"losing {obj}"

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        drop_held(world, rig)
        return True


class _Fallen(Phase):
    """Wait for a dropped object to come to rest, then fail saying where it lies."""

    def __init__(self, obj: str) -> None:
        self.obj = obj
        self.label = f"{obj} falling"
        self._t, self._still = 0.0, 0

    def step(self, world: Scene, rig: RobotRig, dt: float) -> bool | MotionResult | None:
        self._t += dt
        lin, ang = p.getBaseVelocity(world.object_body(self.obj), physicsClientId=world.client)
        self._still = self._still + 1 if math.hypot(*lin) < 0.02 and math.hypot(*ang) < 0.5 else 0
        if self._still < 15 and self._t < 3.0:
            return None
        on = world.support_of(self.obj)
        return MotionResult(
            outcome=MotionOutcome.failed,
            message=f"the grasp slipped: {self.obj} fell onto {on or 'the floor'}",
            pose=world.object_pose(self.obj),
            on=on,
        )


class _Wrapper(Controller):
    """A controller around another: same part, same finish hook, cancel passed on."""

    def __init__(self, inner: Controller) -> None:
        self.inner = inner
        self.rig = inner.rig
        self.part = inner.part
        self.cancelled = False

    @property
    def on_finish(self) -> Callable[[MotionResult], MotionResult] | None:
        return self.inner.on_finish

    @on_finish.setter
    def on_finish(self, hook: Callable[[MotionResult], MotionResult] | None) -> None:
        self.inner.on_finish = hook

    def cancel(self) -> None:
        self.cancelled = True
        self.inner.cancel()


class _Slow(_Wrapper):
    def __init__(self, inner: Controller, factor: float) -> None:
        super().__init__(inner)
        self.factor = factor

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        return self.inner.step(world, dt / self.factor)


class _Stuck(_Wrapper):
    """Never progresses; a cancel (or the caller's deadline) ends it."""

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        if self.cancelled:
            return self.inner.step(world, dt)
        return None


class _Blocked(_Wrapper):
    """Runs for `after_s`, then stops where it is: something blocks the way."""

    def __init__(self, inner: Controller, after_s: float) -> None:
        super().__init__(inner)
        self.after_s = after_s
        self._t = 0.0

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        self._t += dt
        if self._t < self.after_s or self.cancelled:
            return self.inner.step(world, dt)
        self.inner.cancel()
        self.inner.step(world, dt)  # holds the robot still where it is
        return MotionResult(
            outcome=MotionOutcome.collision,
            message="the path is blocked (injected fault)",
            pose=world.robot_pose(self.rig.id),
        )


class _DropOnTheWay(_Wrapper):
    """Drives on as asked, but what the arm holds slips out after `after_s`."""

    def __init__(self, inner: Controller, after_s: float) -> None:
        super().__init__(inner)
        self.after_s = after_s
        self._t = 0.0
        self.dropped: str | None = None

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        self._t += dt
        if self.dropped is None and self._t >= self.after_s:
            self.dropped = drop_held(world, self.rig) or ""
            if self.dropped:
                log.info("fault: %s dropped %s while driving", self.rig.id, self.dropped)
        return self.inner.step(world, dt)


class FaultInjector:
    """Draws and applies faults to the motions a world starts."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self.seed = settings.seed if settings.seed is not None else seed
        self._counts: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()
        """How many of each fault were injected (benchmarks, tests)."""

    def _rng(self, robot: str, kind: str) -> random.Random:
        n = self._counts[(robot, kind)]
        self._counts[(robot, kind)] += 1
        return random.Random(f"{self.seed}/{robot}/{kind}/{n}")

    def apply(self, rig: RobotRig, request: MotionRequest, controller: Controller) -> Controller:
        s = self.settings
        if not s.active or (s.robots and rig.id not in s.robots):
            return controller
        rng = self._rng(rig.id, request.kind)
        # one draw per fault kind, always in this order: the stream stays aligned
        slip, drop, block, slow, stuck = (rng.random() for _ in range(5))
        after = rng.uniform(0.3, 1.5)
        late = rng.random() < 0.5
        out = controller
        if isinstance(request, Pick) and slip < s.grasp_slip and isinstance(out, PhaseController):
            out = self._slip(out, request.object, late=late)
        if isinstance(request, Navigate):
            if drop < s.drop_carrying and rig.arm is not None and rig.arm.held is not None:
                out = self._note("drop_carrying", rig, _DropOnTheWay(out, after))
            if block < s.blocked_path:
                out = self._note("blocked_path", rig, _Blocked(out, after))
        if stuck < s.stuck:
            out = self._note("stuck", rig, _Stuck(out))
        elif slow < s.slow:
            out = self._note("slow", rig, _Slow(out, s.slow_factor))
        return out

    def _note(self, kind: str, rig: RobotRig, controller: Controller) -> Controller:
        self.injected[kind] += 1
        log.info("fault: %s on %s's next %s motion", kind, rig.id, controller.part)
        return controller

    def _slip(self, controller: PhaseController, obj: str, *, late: bool) -> PhaseController:
        """Let go after the lift (`late`: after stowing), then fail once the object lies
        still."""
        phases = controller.phases
        at = next((i for i, ph in enumerate(phases) if isinstance(ph, Attach)), None)
        if at is None or at + 1 >= len(phases) or not isinstance(phases[at + 1], MoveJoints):
            return controller
        at_ = at + 3 if late else at + 2
        phases[at_:at_] = [_Slip(obj), _Fallen(obj)]
        self.injected["grasp_slip"] += 1
        log.info("fault: grasp_slip on %s's pick of %s", controller.rig.id, obj)
        return controller
