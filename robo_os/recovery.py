"""What the stack does when a robot's agent is known dead (its memory record turns
`offline`: the dispatcher saw the actor die, or its heartbeat expired): the robot is
halted in the world (the simulator stops its motions), memory is reconciled with what the
world says the robot holds and where things are, and every lease it held is released,
so other robots can take over at once (a released lease's old token is refused
afterwards: the zombie's writes are fenced off). docs/reliability.md."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from robo_os_memory.models import RobotStatusValue

from .brain.runtime.monitor import RobotMonitor
from .cerebellum.reconcile import Reconciler, Reconciliation
from .skill.observation import Observer

if TYPE_CHECKING:
    from robo_os_memory import Memory

__all__ = ["DeadRobotRecovery", "Recovered", "WorldObservers"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldObservers:
    """The observers `GET /v1/world/diff` asks (the stack puts them in `app.state`).
    `ask_all`: they see everything (the simulator), so ask them about every object."""

    observers: Mapping[str, Observer]
    ask_all: bool = False


@dataclass
class Recovered:
    robot: str
    reason: str
    halted: int | None
    released: list[str]
    reconciliation: Reconciliation | None


@dataclass
class DeadRobotRecovery:
    """Follows robot liveness in memory; each robot that goes offline is recovered once
    per going offline. `world`: anything with `async halt(robot_id)` (a WorldClient), or
    None; `observers`: per robot, what can still observe it with its agent gone."""

    memory: Memory
    world: Any = None
    observers: Mapping[str, Observer] = field(default_factory=dict)
    recovered: list[Recovered] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set after each recovery (tests wait on it)."""
    after: Callable[[str, str], Awaitable[object]] | None = None
    """`after(robot, reason)` once a robot is recovered: the supervisor starts the agent
    Ray restarted (robo_os/supervisor.py)."""
    _monitor: RobotMonitor | None = None
    _tasks: set[asyncio.Task[Recovered | None]] = field(default_factory=set)
    _busy: set[str] = field(default_factory=set)

    def start(self) -> None:
        self._monitor = RobotMonitor(
            self.memory, on_offline=self._offline, on_online=lambda robot, registered: None
        )
        self._monitor.start()

    @property
    def ready(self) -> asyncio.Event:
        assert self._monitor is not None
        return self._monitor.ready

    async def close(self) -> None:
        if self._monitor is not None:
            await self._monitor.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)

    def _offline(self, robot: str, reason: str) -> None:
        if robot in self._busy:
            return
        self._busy.add(robot)
        task = asyncio.create_task(self.recover(robot, reason), name=f"recover:{robot}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self, robot: str, reason: str) -> Recovered | None:
        """Halt, reconcile, release; each step goes on if an earlier one failed."""
        try:
            record = await self.memory.get_robot(robot)
            if record is None or record.status != RobotStatusValue.offline:
                return None  # stopped on purpose (its agent released what it held), or back
            halted: int | None = None
            if self.world is not None:
                try:
                    halted = await self.world.halt(robot)
                except Exception as e:  # no such robot in the world: a real one
                    log.warning("robot=%s could not be halted: %s", robot, e)
            rec: Reconciliation | None = None
            observer = self.observers.get(robot)
            if observer is not None:
                try:
                    rec = await Reconciler(robot, observer, self.memory, by="recovery").run(
                        f"agent dead ({reason})"
                    )
                except Exception as e:  # memory keeps its beliefs; the leases still go
                    log.warning("robot=%s could not be reconciled: %s", robot, e)
            released = await self.memory.release_all(robot, reason=f"agent dead: {reason}")
            out = Recovered(robot, reason, halted, released, rec)
            self.recovered.append(out)
            log.info(
                "robot=%s recovered after its agent died (%s): halted %s motions,"
                " released %s, %d corrections",
                robot,
                reason,
                halted,
                ", ".join(released) or "no leases",
                len(rec.disagreements) if rec else 0,
            )
            if self.after is not None:
                await self.after(robot, reason)
            return out
        except Exception:
            log.exception("robot=%s: recovery failed", robot)
            return None
        finally:
            self._busy.discard(robot)
            self.done.set()
