"""`SimRobot`: the robot driver for a robot in the simulated world. It implements
`robo_os.skill.robot.Robot` and, per capability, the parts of
`robo_os.skill.parts`, talking to the world only through a `WorldClient`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError
from robo_os_memory.models import Pose, RobotState

from ..errors import ConfigError, RobotUnavailableError, UnknownNameError
from ..fleet import RobotConfig
from ..skill.context import CancelToken
from ..skill.observation import Observation
from ..skill.parts import (
    CameraImage,
    DockSlot,
    MotionOutcome,
    MotionResult,
    PoseCallback,
    ToolPose,
)
from .client import WorldClient
from .embodiments import builtin_embodiments
from .models import MotionRequest, MoveTool, Navigate, Operate, Pick, Place, Unload

if TYPE_CHECKING:
    from ..cerebellum.drivers import DriverResources

__all__ = ["SimArm", "SimBase", "SimCamera", "SimGripper", "SimRobot", "SimTray", "sim_driver"]

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 5.0
"""How long a cancelled motion may take to report back (it stops on the next step)."""


class _Driver:
    def __init__(self, robot_id: str, world: WorldClient) -> None:
        self.robot_id = robot_id
        self.world = world

    async def run(
        self,
        request: MotionRequest,
        *,
        cancel: CancelToken | None,
        deadline: float | None,
        on_tick: Callable[[], Awaitable[None]] | None = None,
        tick_s: float = 0.15,
    ) -> MotionResult:
        """Start a motion and wait for it, racing cancellation and the deadline; with
        `on_tick`, wake every `tick_s` while it runs (e.g. to publish the pose)."""
        if cancel is not None and cancel.cancelled:
            return MotionResult(
                outcome=MotionOutcome.cancelled, message=cancel.reason or "cancelled"
            )
        motion = await self.world.start(self.robot_id, request)
        cancelled = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        waiting: asyncio.Future[MotionResult | None] | None = None
        try:
            while True:
                slice_s = tick_s if on_tick is not None else None
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return await self._stop(motion, MotionOutcome.timeout, "deadline passed")
                    slice_s = left if slice_s is None else min(slice_s, left)
                waiting = asyncio.ensure_future(self.world.wait(motion, slice_s))
                pending = {waiting} if cancelled is None else {waiting, cancelled}
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if waiting in done:
                    result = waiting.result()
                    if result is not None:
                        return result
                    if on_tick is not None:
                        await on_tick()
                    continue
                reason = cancel.reason if cancel is not None else "cancelled"
                return await self._stop(motion, MotionOutcome.cancelled, reason or "cancelled")
        except BaseException:
            # the caller is going away (a hard cancel) or a callback failed: leave nothing moving
            with contextlib.suppress(Exception):
                await self.world.cancel(motion)
            raise
        finally:
            for future in (cancelled, waiting):
                if future is not None:
                    future.cancel()

    async def _stop(self, motion: str, outcome: MotionOutcome, message: str) -> MotionResult:
        await self.world.cancel(motion)
        result = await self.world.wait(motion, CANCEL_GRACE_S)
        if result is not None and result.outcome == MotionOutcome.done:
            return result  # it finished in the same step: nothing to undo
        if result is None:
            return MotionResult(outcome=outcome, message=message)
        # what the motion saw at its end (where it stopped, how far it got) stays
        return MotionResult(outcome=outcome, message=message, pose=result.pose, data=result.data)


class SimBase:
    def __init__(self, driver: _Driver) -> None:
        self._d = driver

    async def pose(self) -> Pose:
        return (await self._d.world.robot_info(self._d.robot_id)).pose

    async def place(self) -> str | None:
        return (await self._d.world.robot_info(self._d.robot_id)).place

    async def slot(self) -> int | None:
        return (await self._d.world.robot_info(self._d.robot_id)).slot

    async def slots(self, place: str) -> list[DockSlot]:
        return await self._d.world.slots(self._d.robot_id, place)

    async def move_to(
        self,
        goal: str | Pose,
        *,
        slot: int | None = None,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        on_pose: PoseCallback | None = None,
        progress_interval_s: float = 0.15,
    ) -> MotionResult:
        """Drive (see `DockingBase.move_to`). A contact on the way is answered in the
        world by a short back-off, so the result leaves room to plan a path around."""
        request = Navigate(target=goal, slot=slot) if isinstance(goal, str) else Navigate(pose=goal)
        tick = None
        if on_pose is not None:
            callback = on_pose

            async def tick() -> None:
                await callback(await self.pose())

        result = await self._d.run(
            request, cancel=cancel, deadline=deadline, on_tick=tick, tick_s=progress_interval_s
        )
        if on_pose is not None:
            # the last report is the pose it stopped at, however fast the world ran
            await on_pose(result.pose if result.pose is not None else await self.pose())
        return result


class SimGripper:
    def __init__(self, driver: _Driver) -> None:
        self._d = driver

    async def holding(self) -> str | None:
        return (await self._d.world.robot_info(self._d.robot_id)).holding


class SimArm:
    def __init__(self, driver: _Driver) -> None:
        self._d = driver

    async def reaches(self, target: str) -> bool:
        return await self._d.world.reaches(self._d.robot_id, target)

    async def pick(
        self, obj: str, *, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> MotionResult:
        return await self._d.run(Pick(object=obj), cancel=cancel, deadline=deadline)

    async def place(
        self,
        obj: str,
        target: str,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        return await self._d.run(Place(object=obj, target=target), cancel=cancel, deadline=deadline)

    async def operate(
        self,
        target: str,
        open: bool,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        return await self._d.run(
            Operate(target=target, open=open), cancel=cancel, deadline=deadline
        )

    async def move_tool(
        self,
        pose: ToolPose,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        return await self._d.run(MoveTool(path=(pose,)), cancel=cancel, deadline=deadline)

    async def follow(
        self,
        path: Sequence[ToolPose],
        *,
        speed: float = 0.15,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        """Follow a Cartesian path (see `Arm.follow`); an empty path or a speed outside
        (0, 1] m/s is a bad call: ValueError."""
        try:
            request = MoveTool(path=tuple(path), speed=speed)
        except ValidationError as e:
            raise ValueError(f"bad path for {self._d.robot_id}'s arm: {e}") from e
        return await self._d.run(request, cancel=cancel, deadline=deadline)


class SimCamera:
    def __init__(self, driver: _Driver) -> None:
        self._d = driver

    async def capture(self, target: str | None = None) -> CameraImage:
        return await self._d.world.capture(self._d.robot_id, target)


class SimTray:
    def __init__(self, driver: _Driver) -> None:
        self._d = driver

    async def contents(self) -> list[str]:
        return list((await self._d.world.robot_info(self._d.robot_id)).tray)

    async def unload(
        self, obj: str, *, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> MotionResult:
        return await self._d.run(Unload(object=obj), cancel=cancel, deadline=deadline)


class SimRobot:
    """A robot of the simulated world. Parts exist per capability (`base` for
    navigate, `arm` and `gripper` for manipulate, `camera`, `tray` for carry); the
    others are None.

    `capabilities` defaults to what the embodiment offers in the simulator."""

    def __init__(
        self, config: RobotConfig, world: WorldClient, *, capabilities: frozenset[str] | None = None
    ) -> None:
        if capabilities is None:
            embodiments = builtin_embodiments()
            if config.embodiment not in embodiments:
                raise ConfigError(
                    str(UnknownNameError("embodiment", config.embodiment, list(embodiments)))
                )
            capabilities = embodiments[config.embodiment].capabilities
        self._config = config
        self._caps = frozenset(capabilities)
        self._driver = _Driver(config.id, world)
        self.world = world
        self.base = SimBase(self._driver) if "navigate" in self._caps else None
        self.arm = SimArm(self._driver) if "manipulate" in self._caps else None
        self.gripper = SimGripper(self._driver) if "manipulate" in self._caps else None
        self.camera = SimCamera(self._driver) if "camera" in self._caps else None
        self.tray = SimTray(self._driver) if "carry" in self._caps else None

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def embodiment(self) -> str:
        return self._config.embodiment

    @property
    def capabilities(self) -> frozenset[str]:
        return self._caps

    @property
    def config(self) -> RobotConfig:
        return self._config

    @property
    def place(self) -> str | None:
        """Where a robot without a base is mounted; None for a mobile one (its
        `base.place()` says where it is docked now)."""
        return self._config.at if self.base is None else None

    @property
    def reach(self) -> tuple[str, ...]:
        """Places a robot without a base reaches (its own and the configured `reach`);
        a mobile robot reaches where it is docked, so none fixed."""
        return (self._config.at, *self._config.reach) if self.base is None else ()

    async def connect(self) -> None:
        """Check that the world has this robot."""
        try:
            await self.world.robot_info(self.id)
            # a robot halted when its previous agent died moves again for this one
            await self.world.resume(self.id)
        except KeyError as e:
            raise ConfigError(f"the simulated world has no robot {self.id!r}") from e
        except Exception as e:  # the world actor is gone or unreachable
            raise RobotUnavailableError(
                f"cannot reach the simulated world for {self.id}: {e}"
            ) from e
        log.info(
            "sim robot %s connected (%s: %s)",
            self.id,
            self.embodiment,
            ",".join(sorted(self._caps)),
        )

    async def close(self) -> None:
        log.info("sim robot %s closed", self.id)

    async def pose(self) -> Pose:
        return (await self.world.robot_info(self.id)).pose

    async def observe(self, expect: tuple[str, ...] = ()) -> Observation:
        """Ground truth of this robot's body, gripper and tray, and of the objects near it
        or in `expect` (`robo_os.skill.observation.Observer`)."""
        return await self.world.observe(self.id, tuple(expect))

    async def state(self) -> RobotState:
        """The robot as the memory should record it now (position, place, reach, holding)."""
        info = await self.world.robot_info(self.id)
        return RobotState(
            id=self.id,
            embodiment=self.embodiment,
            capabilities=tuple(sorted(self._caps)),
            pose=info.pose,
            place=info.place,
            slot=info.slot,
            reach=info.reach,
            holding=info.holding,
        )


def sim_driver(config: RobotConfig, resources: DriverResources) -> SimRobot:
    """The `sim` driver factory (the `robo_os.drivers` entry point): a `SimRobot` on the
    world client the deployment passes in `resources.world`."""
    if not isinstance(resources.world, WorldClient):
        raise ConfigError(
            f"robot {config.id!r} uses the sim driver, but no simulated world was given"
        )
    return SimRobot(config, resources.world)
