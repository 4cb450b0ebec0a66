"""How a simulated robot reaches the world: the `WorldClient` protocol, with an
in-process twin (`LocalWorldClient`, for tests and single-process runs) and the Ray one
(`RayWorldClient`, around a `WorldActor` handle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..skill.observation import Observation, ObservedObject
from ..skill.parts import CameraImage, DockSlot, MotionResult
from .models import MotionRequest, ObjectInfo, RobotInfo, WorldInfo

if TYPE_CHECKING:
    from .world import SimWorld

__all__ = ["LocalWorldClient", "RayWorldClient", "WorldClient"]


@runtime_checkable
class WorldClient(Protocol):
    """The world as a robot driver sees it. Every call is short: motions are started,
    then waited on in slices (`wait` with a timeout) so that a caller can report
    progress and react to cancellation in between."""

    async def start(self, robot_id: str, request: MotionRequest) -> str:
        """Start a motion; returns its id (the motion may already be finished)."""
        ...

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        """The motion's result, or None if still running after `timeout_s`."""
        ...

    async def cancel(self, motion_id: str) -> bool:
        """Stop a motion; it finishes `cancelled` on the world's next step."""
        ...

    async def robot_info(self, robot_id: str) -> RobotInfo: ...

    async def object_info(self, name: str) -> ObjectInfo: ...

    async def reaches(self, robot_id: str, target: str) -> bool: ...

    async def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        """The slots of `place` the robot can dock at, best first."""
        ...

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage: ...

    async def describe(self) -> WorldInfo: ...

    async def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        """What the robot would sense: ground truth of its body, gripper, tray and the
        objects near it or in `expect`."""
        ...

    async def halt(self, robot_id: str) -> int:
        """Stop the robot's motions and refuse new ones (its agent died)."""
        ...

    async def resume(self, robot_id: str) -> bool:
        """Let a halted robot move again (a new agent connected)."""
        ...


class LocalWorldClient:
    """The world in this process: calls go straight to it, and its stepping runs as a
    task on the caller's event loop."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world

    async def start(self, robot_id: str, request: MotionRequest) -> str:
        self.world.ensure_running()
        return self.world.start(robot_id, request)

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        return await self.world.wait(motion_id, timeout_s)

    async def cancel(self, motion_id: str) -> bool:
        return self.world.cancel(motion_id)

    async def robot_info(self, robot_id: str) -> RobotInfo:
        return self.world.robot_info(robot_id)

    async def object_info(self, name: str) -> ObjectInfo:
        return self.world.object_info(name)

    async def reaches(self, robot_id: str, target: str) -> bool:
        return self.world.reaches(robot_id, target)

    async def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        return self.world.slots(robot_id, place)

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        return self.world.capture(robot_id, target)

    async def describe(self) -> WorldInfo:
        return self.world.describe()

    async def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        return self.world.observe(robot_id, expect)

    async def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]:
        """Every object (or those named) as it really is (not part of `WorldClient`)."""
        return self.world.observe_objects(names)

    async def halt(self, robot_id: str) -> int:
        return self.world.halt(robot_id)

    async def resume(self, robot_id: str) -> bool:
        return self.world.resume(robot_id)


class RayWorldClient:
    """The world in a `WorldActor`: each call is one awaited actor call."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def start(self, robot_id: str, request: MotionRequest) -> str:
        out: str = await self.handle.start.remote(robot_id, request)
        return out

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        out: MotionResult | None = await self.handle.wait.remote(motion_id, timeout_s)
        return out

    async def cancel(self, motion_id: str) -> bool:
        out: bool = await self.handle.cancel.remote(motion_id)
        return out

    async def robot_info(self, robot_id: str) -> RobotInfo:
        out: RobotInfo = await self.handle.robot_info.remote(robot_id)
        return out

    async def object_info(self, name: str) -> ObjectInfo:
        out: ObjectInfo = await self.handle.object_info.remote(name)
        return out

    async def reaches(self, robot_id: str, target: str) -> bool:
        out: bool = await self.handle.reaches.remote(robot_id, target)
        return out

    async def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        out: list[DockSlot] = await self.handle.slots.remote(robot_id, place)
        return out

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        out: CameraImage = await self.handle.capture.remote(robot_id, target)
        return out

    async def describe(self) -> WorldInfo:
        out: WorldInfo = await self.handle.describe.remote()
        return out

    async def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        out: Observation = await self.handle.observe.remote(robot_id, expect)
        return out

    async def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]:
        """Every object (or those named) as it really is (not part of `WorldClient`)."""
        out: tuple[ObservedObject, ...] = await self.handle.observe_objects.remote(names)
        return out

    async def halt(self, robot_id: str) -> int:
        out: int = await self.handle.halt.remote(robot_id)
        return out

    async def resume(self, robot_id: str) -> bool:
        out: bool = await self.handle.resume.remote(robot_id)
        return out
