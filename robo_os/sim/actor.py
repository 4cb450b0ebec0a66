"""`WorldActor`: the simulated world as one Ray actor, a thin wrapper around `SimWorld`.

The actor is async: its world steps in a task on the actor's event loop, and every robot's
calls (start, wait in slices, cancel, observe) interleave with the stepping between
batches. `num_cpus=0` so it never competes with agents for CPU slots.

Supervised (docs/reliability.md, "Supervised world"): started with `max_restarts` and a
`MemorySource`, the actor whose process died is restarted by Ray under the same handle,
and the new process rebuilds the world from what the shared memory says now (not from
the constructor's arguments, which are those of the first start), on its first call: the
path a stack started again on an earlier run's memory takes (robo_os/restart.py:
`remembered_world`, the rebuild, `adopt_world`). Calls in flight when it died fail
(RayActorError, an infrastructure failure the brain retries); a motion started in the
dead process is unknown to the new one, and waiting on it fails the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from robo_os_memory.models import RobotStatusValue

from ..errors import ServiceUnavailableError
from ..fleet import FleetConfig
from ..settings import SimSettings
from ..skill.observation import Observation, ObservedObject
from ..skill.parts import CameraImage, DockSlot, MotionResult
from .client import LocalWorldClient
from .engines import build_world
from .models import MotionRequest, ObjectInfo, RobotInfo, WorldInfo
from .restore import WorldMemory
from .world import SimWorld

if TYPE_CHECKING:
    from robo_os_memory import Memory

__all__ = [
    "WORLD_ACTOR_NAME",
    "MemorySource",
    "WorldActor",
    "WorldIncarnation",
    "start_world_actor",
]

log = logging.getLogger(__name__)

WORLD_ACTOR_NAME = "sim-world"
REBUILT_BY = "sim"
"""Who a restarted world's corrections of memory are recorded as (as at a stack restart)."""


@dataclass(frozen=True)
class MemorySource:
    """Where a restarted world actor reads the shared memory it is rebuilt from, and how:
    `remember` reads the world memory has, `adopt` makes memory agree with the world
    rebuilt from it (the stack passes robo_os.restart's `remembered_world` and
    `adopt_world`, the path a stack restart takes; passed in, so the simulator does not
    import the layer above it)."""

    url: str
    remember: Callable[[Memory], Awaitable[WorldMemory | None]]
    adopt: Callable[..., Awaitable[Any]]
    prefix: str = "robo-os"


class WorldIncarnation(BaseModel):
    """What `WorldActor.incarnation()` answers: which process serves the world, and what
    its rebuild from memory did (after a restart)."""

    model_config = ConfigDict(frozen=True)

    pid: int
    token: str
    """Names this process's world; motion ids carry it."""
    restarted: bool
    """Ray restarted this actor after its process died."""
    rebuilt_in_s: float | None = None
    """Memory read, world rebuilt and memory adopted, in seconds (after a restart)."""
    notes: tuple[str, ...] = ()
    """What memory said that the rebuilt world could not honour."""
    corrected: int = 0
    """Fields of memory corrected to agree with the rebuilt world."""
    halted: tuple[str, ...] = ()
    """Robots halted in the rebuilt world: memory has them offline (agent dead)."""


def _reconstructed() -> bool:
    import ray

    return bool(ray.get_runtime_context().was_current_actor_reconstructed)


class WorldActor:
    """Owns one `SimWorld`; methods mirror `WorldClient`. `source`: the shared memory a
    restarted actor rebuilds its world from (none: a restart builds it from `memory` and
    the scene file again, as the first start did)."""

    def __init__(
        self,
        fleet: FleetConfig,
        settings: SimSettings | None = None,
        memory: WorldMemory | None = None,
        source: MemorySource | None = None,
    ) -> None:
        self._fleet = fleet
        self._settings = settings
        self._source = source
        self._token = uuid.uuid4().hex[:8]
        self._restarted = _reconstructed()
        self._rebuilding = asyncio.Lock()
        self._rebuilt: WorldIncarnation | None = None
        # the first start builds at once (its caller seeds or adopts memory after); a
        # restart waits for its first call, which awaits the rebuild from memory
        rebuild = self._restarted and source is not None
        self._built: SimWorld | None = None if rebuild else build_world(fleet, settings, memory=memory)

    async def _world_now(self) -> SimWorld:
        if self._built is not None:
            return self._built
        async with self._rebuilding:
            if self._built is None:
                self._built = await self._rebuild()
        return self._built

    async def _rebuild(self) -> SimWorld:
        """The world as memory has it now, and memory corrected where the rebuilt world
        could not honour it; ServiceUnavailableError (the next call tries again) when
        memory cannot be read."""
        from robo_os_memory import Memory

        assert self._source is not None
        t0 = time.monotonic()
        try:
            memory = await Memory.connect(
                self._source.url, prefix=self._source.prefix, writer=REBUILT_BY
            )
        except Exception as e:
            raise ServiceUnavailableError(
                f"the world restarted but cannot read the shared memory to rebuild from: {e}"
            ) from e
        try:
            return await self._rebuild_from(memory, t0)
        finally:
            await memory.close()

    async def _rebuild_from(self, memory: Memory, t0: float) -> SimWorld:
        assert self._source is not None
        remembered = await self._source.remember(memory)
        world: SimWorld = build_world(self._fleet, self._settings, memory=remembered)
        try:
            # a robot whose agent is dead holds still until its supervisor resumes it
            halted = tuple(
                r.id
                for r in (remembered.robots if remembered is not None else ())
                if r.status == RobotStatusValue.offline and r.id in world.robots
            )
            for robot in halted:
                world.halt(robot)
            adoption = await self._source.adopt(memory, LocalWorldClient(world), by=REBUILT_BY)
        except BaseException:
            world.close()
            raise
        self._rebuilt = WorldIncarnation(
            pid=os.getpid(),
            token=self._token,
            restarted=True,
            rebuilt_in_s=time.monotonic() - t0,
            notes=world.restore_notes,
            corrected=len(adoption.corrected),
            halted=halted,
        )
        for note in world.restore_notes:
            log.warning("world rebuilt from memory after a restart: %s (corrected in memory)", note)
        log.warning(
            "world restarted: rebuilt from memory in %.2f s, %d fields of memory corrected,"
            " halted %s",
            self._rebuilt.rebuilt_in_s,
            len(adoption.corrected),
            ", ".join(halted) or "no robot",
        )
        return world

    def _motion(self, motion_id: str) -> str | None:
        """This world's own id of a motion; None for one of an earlier process's world."""
        token, _, local = motion_id.partition(":")
        return local if token == self._token and local else None

    async def incarnation(self) -> WorldIncarnation:
        """Which process serves the world, and what its rebuild did (fault tests, ops)."""
        await self._world_now()
        if self._rebuilt is not None:
            return self._rebuilt
        return WorldIncarnation(pid=os.getpid(), token=self._token, restarted=self._restarted)

    async def process_id(self) -> int:
        """The actor's process id (fault tests kill it); does not wait for a rebuild."""
        return os.getpid()

    async def start(self, robot_id: str, request: MotionRequest) -> str:
        world = await self._world_now()
        world.ensure_running()
        return f"{self._token}:{world.start(robot_id, request)}"

    async def wait(self, motion_id: str, timeout_s: float | None = None) -> MotionResult | None:
        world = await self._world_now()
        local = self._motion(motion_id)
        if local is None:
            raise ServiceUnavailableError(
                f"motion {motion_id!r} was lost: the world restarted since it started"
            )
        return await world.wait(local, timeout_s)

    async def cancel(self, motion_id: str) -> bool:
        world = await self._world_now()
        local = self._motion(motion_id)
        return False if local is None else world.cancel(local)  # a lost one runs no more

    async def robot_info(self, robot_id: str) -> RobotInfo:
        return (await self._world_now()).robot_info(robot_id)

    async def object_info(self, name: str) -> ObjectInfo:
        return (await self._world_now()).object_info(name)

    async def reaches(self, robot_id: str, target: str) -> bool:
        return (await self._world_now()).reaches(robot_id, target)

    async def slots(self, robot_id: str, place: str) -> list[DockSlot]:
        return (await self._world_now()).slots(robot_id, place)

    async def capture(self, robot_id: str, target: str | None = None) -> CameraImage:
        return (await self._world_now()).capture(robot_id, target)

    async def describe(self) -> WorldInfo:
        return (await self._world_now()).describe()

    async def observe(self, robot_id: str, expect: tuple[str, ...] = ()) -> Observation:
        return (await self._world_now()).observe(robot_id, expect)

    async def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]:
        return (await self._world_now()).observe_objects(names)

    async def restore_notes(self) -> tuple[str, ...]:
        """What memory said that the world, rebuilt from it, could not honour."""
        return (await self._world_now()).restore_notes

    async def halt(self, robot_id: str) -> int:
        return (await self._world_now()).halt(robot_id)

    async def resume(self, robot_id: str) -> bool:
        return (await self._world_now()).resume(robot_id)

    async def faults(self) -> dict[str, int]:
        """How many faults of each kind were injected so far."""
        return dict((await self._world_now()).faults.injected)

    async def stats(self) -> dict[str, float]:
        """Simulated time and steps so far (for dashboards and benchmarks)."""
        world = await self._world_now()
        return {"sim_time": world.sim_time, "steps": float(world.steps)}

    async def close(self) -> None:
        if self._built is None:  # a restart not rebuilt yet: nothing to close
            return
        await self._built.stop()
        self._built.close()


def start_world_actor(
    fleet: FleetConfig,
    settings: SimSettings | None = None,
    *,
    name: str | None = WORLD_ACTOR_NAME,
    namespace: str | None = None,
    max_concurrency: int = 256,
    memory: WorldMemory | None = None,
    source: MemorySource | None = None,
    max_restarts: int = 0,
    **options: Any,
) -> Any:
    """Create the world actor in the connected Ray cluster and return its handle.
    `memory`: rebuild the world where the shared memory has things (a stack restart).
    `max_restarts`: how many times Ray restarts its process after it died (-1: always);
    with `source`, a restarted world is rebuilt from that memory (the module doc).
    `options` go to `.options()` (e.g. `resources={"sim": 1}` to place it on a node)."""
    import ray

    cls = ray.remote(WorldActor)
    opts: dict[str, Any] = {
        "num_cpus": 0,
        "max_concurrency": max_concurrency,
        "name": name,
        "namespace": namespace,
        "max_restarts": max_restarts,
        **options,
    }
    return cls.options(**{k: v for k, v in opts.items() if v is not None}).remote(
        fleet, settings, memory, source
    )
