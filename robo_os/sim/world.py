"""The pybullet world: one DIRECT client, a fixed timestep, built from a fleet file.

`SimWorld` owns the client, the bodies and the running motions, and composes the helpers:
each takes the world as the narrow protocol it declares (`view.Scene`,
`manipulation.Workspace`, `navigation.FloorPlan`, `embodiments.Spawner`), never this class.

Time advances only by `step()`. Motions are controllers the world advances on every
step, any number at once; `run()` steps while any is active and otherwise waits on an
event, so an idle world costs nothing. Everything here runs on one thread (the event
loop's), so no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np
import pybullet as p
from robo_os_memory.models import AttrValue

from ..errors import ConfigError, UnknownNameError
from ..fleet import FleetConfig, ObjectConfig, RobotConfig
from ..settings import SimSettings
from ..skill.parts import CameraImage, DockSlot, MotionOutcome, MotionResult
from . import camera as _camera
from . import manipulation, navigation, restore
from .embodiments import Embodiment, builtin_embodiments
from .faults import FaultInjector
from .geometry import Frame2, yaw_quat
from .kinematics import ArmModel, Kinematics
from .models import (
    MotionRequest,
    MoveTool,
    Navigate,
    Operate,
    Pick,
    Place,
    Unload,
)
from .motions import Controller, Motion
from .objects import (
    ObjectBody,
    ObjectShape,
    builtin_object_shapes,
    object_attrs,
    rgba_of,
    shape_from_config,
)
from .observation import WorldView
from .planning import OccupancyGrid
from .restore import WorldMemory
from .rigs import RobotRig
from .scene import PlaceBody, PlaceKind, Slot, build_place, builtin_place_kinds

__all__ = ["ObjectBody", "SimWorld"]

log = logging.getLogger(__name__)

Handler = Callable[["SimWorld", RobotRig, MotionRequest], "Controller | MotionResult"]


class SimWorld(WorldView):
    """A simulated household with its robots. `close()` releases the pybullet client."""

    batch_steps = 8
    """Steps between two yields to the event loop while motions run."""

    def __init__(
        self,
        fleet: FleetConfig,
        settings: SimSettings | None = None,
        *,
        embodiments: Mapping[str, Embodiment] | None = None,
        object_shapes: Mapping[str, ObjectShape] | None = None,
        place_kinds: Mapping[str, PlaceKind] | None = None,
        memory: WorldMemory | None = None,
    ) -> None:
        """`memory`: rebuild where the shared memory has things (a restart,
        `restore.rebuild`) instead of where the scene file first puts them."""
        self.fleet = fleet
        self._memory = memory if memory is not None and not memory.empty else None
        self.restore_notes: tuple[str, ...] = ()
        """What memory said that this world could not honour (rebuilt from memory only)."""
        self.settings = settings or SimSettings()
        self.dt = self.settings.timestep_s
        self.sim_time = 0.0
        self.steps = 0
        self.client = p.connect(p.DIRECT)
        self._embodiments = dict(embodiments or builtin_embodiments())
        self._shapes = dict(object_shapes or builtin_object_shapes())
        self._kinds = dict(place_kinds or builtin_place_kinds())
        self.places: dict[str, PlaceBody] = {}
        self.objects: dict[str, ObjectBody] = {}
        self.robots: dict[str, RobotRig] = {}
        self._names: dict[int, tuple[str, str]] = {}
        self._kin: dict[ArmModel, Kinematics] = {}
        self.grids: dict[float, OccupancyGrid] = {}
        """Static occupancy grids by robot radius (navigation caches them here)."""
        self._active: dict[str, Motion] = {}
        self._motions: OrderedDict[str, Motion] = OrderedDict()
        self._ids = itertools.count(1)
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.faults = FaultInjector(self.settings.faults, self.settings.seed)
        self._halted: set[str] = set()
        """Robots whose agent died: they hold still and start nothing until resumed."""
        self._handlers: dict[type, Handler] = {
            Navigate: navigation.start_navigate,
            Pick: manipulation.start_pick,
            Place: manipulation.start_place,
            Unload: manipulation.start_unload,
            Operate: manipulation.start_operate,
            MoveTool: manipulation.start_move_tool,
        }
        try:
            for type_name, type_config in fleet.scene.object_types.items():
                self._shapes[type_name] = shape_from_config(self.client, type_name, type_config)
            self._build(np.random.default_rng(self.settings.seed))
        except Exception:
            self.close()
            raise

    # -- building ------------------------------------------------------------------------------
    def _build(self, rng: np.random.Generator) -> None:
        c = self.client
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(self.dt, physicsClientId=c)
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=c)
        plane = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
        sx, sy = self.fleet.scene.size
        vis = p.createVisualShape(
            p.GEOM_BOX,
            halfExtents=(sx / 2, sy / 2, 0.001),
            rgbaColor=(0.85, 0.82, 0.75, 1),
            physicsClientId=c,
        )
        self.floor = p.createMultiBody(0.0, plane, vis, physicsClientId=c)
        for pc in self.fleet.scene.places:
            place = build_place(c, restore.place_config(pc, self._memory), self._kinds)
            self.places[pc.name] = place
            self._names[place.body] = ("place", pc.name)
        # drawn for every scene object in order, rebuilt or not: the same seed, the same yaws
        spots = {oc.name: self._scene_spot(oc, rng) for oc in self.fleet.scene.objects}
        if self._memory is None:
            for oc in self.fleet.scene.objects:
                self.add_object(oc.name, oc.type, object_attrs(oc), spots[oc.name])
            for rc in self.fleet.robots:
                self.spawn_robot(rc)
        else:
            self.restore_notes = tuple(restore.rebuild(self, self.fleet, self._memory, spots))
            self.robots = {rc.id: self.robots[rc.id] for rc in self.fleet.robots}
        for _ in range(int(0.3 / self.dt)):  # let everything come to rest
            self.step()
        log.info(
            "sim world built: %d places, %d objects, %d robots",
            len(self.places),
            len(self.objects),
            len(self.robots),
        )

    def _scene_spot(self, oc: ObjectConfig, rng: np.random.Generator) -> restore.Spot:
        """Where the scene file puts an object: at its offset on its place, resting."""
        shape = self.shape_of(oc.type)
        place = self.places[oc.at]
        x, y = Frame2(place.config.pose.x, place.config.pose.y, place.config.pose.yaw).to_world(
            *oc.offset
        )
        yaw = place.config.pose.yaw + float(rng.uniform(-0.15, 0.15))
        return (x, y, place.surface_z + shape.height / 2 + 0.002, yaw)

    def shape_of(self, type_: str) -> ObjectShape:
        """How an object type is built (unknown types as a cube)."""
        return self._shapes.get(type_, self._shapes["cube"])

    def add_object(
        self, name: str, type_: str, attrs: Mapping[str, AttrValue], spot: restore.Spot
    ) -> ObjectBody:
        """Build one object at rest with its centre at `spot` (x, y, z, yaw)."""
        c = self.client
        shape = self.shape_of(type_)
        x, y, z, yaw = spot
        rgba = rgba_of(attrs.get("colour", attrs.get("color")), shape.colour or "grey")
        if shape.urdf is not None:
            body = p.loadURDF(
                shape.urdf,
                (x, y, z - shape.centre_z),
                yaw_quat(yaw),
                globalScaling=shape.scale,
                physicsClientId=c,
            )
            # the scene's mass, whatever the file says (a URDF with mass 0 would be static)
            p.changeDynamics(body, -1, mass=shape.mass, physicsClientId=c)
            if attrs.get("colour", attrs.get("color", shape.colour)) is not None:
                for link in range(-1, p.getNumJoints(body, physicsClientId=c)):
                    p.changeVisualShape(body, link, rgbaColor=rgba, physicsClientId=c)
        else:
            col, vis = shape.build(c, rgba)
            body = p.createMultiBody(
                shape.mass, col, vis, (x, y, z), yaw_quat(yaw), physicsClientId=c
            )
        # resting objects may sleep (most of a household is still); contact wakes them
        p.changeDynamics(
            body,
            -1,
            lateralFriction=0.9,
            rollingFriction=shape.rolling_friction,
            spinningFriction=0.002,
            activationState=p.ACTIVATION_STATE_ENABLE_SLEEPING,
            physicsClientId=c,
        )
        ob = ObjectBody(name, type_, body, shape, dict(attrs))
        self.objects[name] = ob
        self._names[body] = ("object", name)
        return ob

    def spawn_robot(self, config: RobotConfig) -> RobotRig:
        """Build one robot of the fleet file with its embodiment."""
        embodiment = self._embodiments.get(config.embodiment)
        if embodiment is None:
            raise ConfigError(
                str(UnknownNameError("embodiment", config.embodiment, list(self._embodiments)))
            )
        rig = embodiment.spawn(self, config)
        self.robots[config.id] = rig
        for b in rig.bodies:
            self._names[b] = ("robot", config.id)
        return rig

    @property
    def floor_size(self) -> tuple[float, float]:
        return self.fleet.scene.size

    def place_body(self, name: str) -> PlaceBody:
        return self.places[name]

    def claim_slot(self, place: str, robot: RobotRig) -> Slot | None:
        slot = navigation.choose_slot(self, robot, self.places[place])
        if slot is not None:
            slot.occupant = robot.id
        return slot

    def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        """The slots of `place` the robot can dock at, best first (occupancy ignored)."""
        return navigation.dock_slots(self, self.robots[robot_id], self.places[place])

    def kinematics(self, model: ArmModel) -> Kinematics:
        if model not in self._kin:
            self._kin[model] = Kinematics(model)
        return self._kin[model]

    def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self._runner = None
        for kin in self._kin.values():
            kin.close()
        self._kin.clear()
        if self.client >= 0:
            with contextlib.suppress(p.error):
                p.disconnect(physicsClientId=self.client)
            self.client = -1

    # -- stepping -------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance every active motion and the physics by n fixed steps."""
        for _ in range(n):
            for motion in list(self._active.values()):
                assert motion.controller is not None
                try:
                    result = motion.controller.step(self, self.dt)
                except Exception as e:  # a controller bug must not stall every other robot
                    log.exception("motion %s of %s failed", motion.id, motion.robot)
                    result = MotionResult(
                        outcome=MotionOutcome.failed, message=f"simulator error: {e}"
                    )
                if result is not None:
                    self._finish(motion, result)
            for rig in self.robots.values():
                if rig.arm is not None:
                    rig.arm.drive(self.client)
            p.stepSimulation(physicsClientId=self.client)
            self.sim_time += self.dt
            self.steps += 1

    def _finish(self, motion: Motion, result: MotionResult) -> None:
        hook = getattr(motion.controller, "on_finish", None)
        if hook is not None:
            result = hook(result)
        motion.result = result
        motion.controller = None
        self._active.pop(motion.id, None)
        motion.done.set()
        log.debug("motion %s of %s: %s %s", motion.id, motion.robot, result.outcome, result.message)

    def base_motion(self, robot_id: str) -> Controller | None:
        """The controller of the robot's running base motion, if any (traffic rules)."""
        for motion in self._active.values():
            if motion.robot == robot_id and motion.part == "base":
                return motion.controller
        return None

    @property
    def idle(self) -> bool:
        return not self._active

    async def run(self) -> None:
        """Step while any motion is active; otherwise wait for one to start."""
        loop = asyncio.get_running_loop()
        wall0, sim0 = loop.time(), self.sim_time
        while True:
            if not self._active:
                self._wake.clear()
                await self._wake.wait()
                wall0, sim0 = loop.time(), self.sim_time
                continue
            for _ in range(self.batch_steps):
                self.step()
                if not self._active:
                    break
            ahead = (
                (self.sim_time - sim0) - (loop.time() - wall0) if self.settings.real_time else 0.0
            )
            # pacing, not synchronisation: yield to the loop; in real time, wait out the lead
            await asyncio.sleep(max(0.0, ahead))

    def ensure_running(self) -> None:
        """Start `run()` on the current event loop unless it already runs there."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self.run(), name="sim-world")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    # -- motions --------------------------------------------------------------------------------
    def start(self, robot_id: str, request: MotionRequest) -> str:
        """Start a motion and return its id; it may already be finished (a request the
        world refuses at once, e.g. an unreachable object, finishes immediately)."""
        rig = self.robots.get(robot_id)
        motion_id = f"m{next(self._ids)}"
        if rig is None:
            outcome: Controller | MotionResult = MotionResult(
                outcome=MotionOutcome.not_found, message=f"no robot {robot_id!r} in the world"
            )
        elif robot_id in self._halted:
            outcome = MotionResult(
                outcome=MotionOutcome.precondition_failed,
                message=f"{robot_id} is halted (its agent was declared dead)",
            )
        else:
            outcome = self._handlers[type(request)](self, rig, request)
            if isinstance(outcome, Controller):
                outcome = self.faults.apply(rig, request, outcome)
        part = outcome.part if isinstance(outcome, Controller) else request.kind
        if isinstance(outcome, Controller) and any(
            m.robot == robot_id and m.part == part for m in self._active.values()
        ):
            outcome = MotionResult(
                outcome=MotionOutcome.precondition_failed,
                message=f"{robot_id}'s {part} is busy with another motion",
            )
        motion = Motion(motion_id, robot_id, part, None)
        self._motions[motion_id] = motion
        while len(self._motions) > 512:
            self._motions.popitem(last=False)
        if isinstance(outcome, MotionResult):
            motion.result = outcome
            motion.done.set()
        else:
            motion.controller = outcome
            self._active[motion_id] = motion
            self._wake.set()
        log.debug("motion %s: %s %s", motion_id, robot_id, request)
        return motion_id

    def cancel(self, motion_id: str) -> bool:
        """Ask a motion to stop; it finishes `cancelled` on the next step. False if it is
        not running."""
        motion = self._active.get(motion_id)
        if motion is None or motion.controller is None:
            return False
        motion.controller.cancel()
        self._wake.set()
        return True

    def halt(self, robot_id: str) -> int:
        """Stop every motion of a robot (they finish `cancelled` on the next step, the robot
        holding still) and refuse new ones until `resume`: what the world does when the
        robot's agent is known dead. Returns how many motions it stopped."""
        if robot_id not in self.robots:
            raise KeyError(f"no robot {robot_id!r} in the world")
        self._halted.add(robot_id)
        stopped = [m for m in list(self._active.values()) if m.robot == robot_id]
        for motion in stopped:
            self.cancel(motion.id)
        if stopped:
            # finish them now, in this step, so nothing moves after the halt returns
            self.step()
        log.info("robot %s halted (%d motions stopped)", robot_id, len(stopped))
        return len(stopped)

    def resume(self, robot_id: str) -> bool:
        """Let a halted robot move again (a new agent connected); False if it was not."""
        if robot_id in self._halted:
            self._halted.discard(robot_id)
            log.info("robot %s resumed", robot_id)
            return True
        return False

    def result(self, motion_id: str) -> MotionResult | None:
        motion = self._motions.get(motion_id)
        if motion is None:
            raise KeyError(f"unknown motion {motion_id!r}")
        return motion.result

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        """The motion's result, or None if it is still running after `timeout_s`."""
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
        """Step synchronously until the motion ends (tests and benchmarks without a loop)."""
        limit = self.steps + int(max_sim_s / self.dt)
        while self.result(motion_id) is None:
            if self.steps >= limit:
                self.cancel(motion_id)
                self.step()
                break
            self.step()
        result = self.result(motion_id)
        assert result is not None
        return result

    def reaches(self, robot_id: str, target: str) -> bool:
        return manipulation.reaches(self, self.robots[robot_id], target)

    def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        size = (self.settings.camera_width, self.settings.camera_height)
        return _camera.capture(self, self.robots[robot_id], target, size)
