"""How a simulated robot reaches the world: the `WorldClient` protocol, with an
in-process twin (`LocalWorldClient`, for tests and single-process runs) and the Ray one
(`RayWorldClient`, around a `WorldActor` handle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..skill.parts import CameraImage, MotionResult
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

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage: ...

    async def describe(self) -> WorldInfo: ...


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

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        return self.world.capture(robot_id, target)

    async def describe(self) -> WorldInfo:
        return self.world.describe()


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

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        out: CameraImage = await self.handle.capture.remote(robot_id, target)
        return out

    async def describe(self) -> WorldInfo:
        out: WorldInfo = await self.handle.describe.remote()
        return out
