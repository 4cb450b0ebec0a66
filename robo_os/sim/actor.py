"""`WorldActor`: the simulated world as one Ray actor, a thin wrapper around `SimWorld`.

The actor is async: its world steps in a task on the actor's event loop, and every robot's
calls (start, wait in slices, cancel, observe) interleave with the stepping between
batches. `num_cpus=0` so it never competes with agents for CPU slots.
"""

from __future__ import annotations

from typing import Any

from ..fleet import FleetConfig
from ..settings import SimSettings
from ..skill.observation import Observation, ObservedObject
from ..skill.parts import CameraImage, DockSlot, MotionResult
from .models import MotionRequest, ObjectInfo, RobotInfo, WorldInfo
from .restore import WorldMemory
from .world import SimWorld

__all__ = ["WORLD_ACTOR_NAME", "WorldActor", "start_world_actor"]

WORLD_ACTOR_NAME = "sim-world"


class WorldActor:
    """Owns one `SimWorld`; methods mirror `WorldClient`."""

    def __init__(
        self,
        fleet: FleetConfig,
        settings: SimSettings | None = None,
        memory: WorldMemory | None = None,
    ) -> None:
        self._world = SimWorld(fleet, settings, memory=memory)

    async def start(self, robot_id: str, request: MotionRequest) -> str:
        self._world.ensure_running()
        return self._world.start(robot_id, request)

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        return await self._world.wait(motion_id, timeout_s)

    async def cancel(self, motion_id: str) -> bool:
        return self._world.cancel(motion_id)

    async def robot_info(self, robot_id: str) -> RobotInfo:
        return self._world.robot_info(robot_id)

    async def object_info(self, name: str) -> ObjectInfo:
        return self._world.object_info(name)

    async def reaches(self, robot_id: str, target: str) -> bool:
        return self._world.reaches(robot_id, target)

    async def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        return self._world.slots(robot_id, place)

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        return self._world.capture(robot_id, target)

    async def describe(self) -> WorldInfo:
        return self._world.describe()

    async def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        return self._world.observe(robot_id, expect)

    async def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]:
        return self._world.observe_objects(names)

    async def restore_notes(self) -> tuple[str, ...]:
        """What memory said that the world, rebuilt from it, could not honour."""
        return self._world.restore_notes

    async def halt(self, robot_id: str) -> int:
        return self._world.halt(robot_id)

    async def resume(self, robot_id: str) -> bool:
        return self._world.resume(robot_id)

    async def faults(self) -> dict[str, int]:
        """How many faults of each kind were injected so far."""
        return dict(self._world.faults.injected)

    async def stats(self) -> dict[str, float]:
        """Simulated time and steps so far (for dashboards and benchmarks)."""
        return {"sim_time": self._world.sim_time, "steps": float(self._world.steps)}

    async def close(self) -> None:
        await self._world.stop()
        self._world.close()


def start_world_actor(
    fleet: FleetConfig,
    settings: SimSettings | None = None,
    *,
    name: str | None = WORLD_ACTOR_NAME,
    namespace: str | None = None,
    max_concurrency: int = 256,
    memory: WorldMemory | None = None,
    **options: Any,
) -> Any:
    """Create the world actor in the connected Ray cluster and return its handle.
    `memory`: rebuild the world where the shared memory has things (a restart).
    `options` go to `.options()` (e.g. `resources={"sim": 1}` to place it on a node)."""
    import ray

    cls = ray.remote(WorldActor)
    opts: dict[str, Any] = {
        "num_cpus": 0,
        "max_concurrency": max_concurrency,
        "name": name,
        "namespace": namespace,
        **options,
    }
    return cls.options(**{k: v for k, v in opts.items() if v is not None}).remote(
        fleet, settings, memory
    )
