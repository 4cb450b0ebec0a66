"""Supervised agents: what `robo-os up` does when an agent's process dies, and how an
operator restarts one robot's agent on purpose (`robo-os robots restart R`,
`POST /v1/robots/{name}/restart`). docs/reliability.md, "Supervised agents".

- Ray restarts a dead agent's process (`agent.max_restarts`, the actor's `max_restarts`);
  calls in flight fail (no task retries), so the brain fails the running subtask as an
  infrastructure failure and retries or reassigns it (its dead-agent logic).
- Once the robot's recovery ran (robo_os/recovery.py: halted, reconciled, leases
  released), the supervisor starts the restarted agent: it registers the robot again
  (`idle`, its skills), reconciles it with what it observes, and takes work again.
- An actor killed for good (`ray.kill(..., no_restart=True)`, or its restarts used up)
  stays down until an operator restarts it: the dead actor is killed (its name freed)
  and a new one spawned from the same config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from robo_os_memory.models import RobotState, RobotStatusValue

from .errors import ConflictError, ServiceUnavailableError, UnknownNameError

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from .cerebellum.actor import AgentConfig

__all__ = ["AgentSupervisor"]

log = logging.getLogger(__name__)

START_RETRIES = 20
"""Sends of `start` to an actor that Ray is restarting, before giving up."""
STOP_TIMEOUT_S = 10.0
"""How long a graceful stop before a restart may take (the process is killed after)."""


async def _ray_call(ref: Any, timeout_s: float) -> Any:
    return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout_s)


def _start_ref(handle: Any) -> Any:
    # `start` is idempotent: sent again while Ray is still restarting the process (it
    # answers ActorUnavailableError then), until the new process takes it
    return handle.start.options(max_task_retries=START_RETRIES).remote()


class AgentSupervisor:
    """Owns the stack's agent actors (`handles`, robot -> actor handle, shared with the
    stack) and their configs. `namespace`/`spawn_options`: how a new actor is spawned."""

    def __init__(
        self,
        memory: Memory,
        handles: MutableMapping[str, Any],
        configs: dict[str, AgentConfig],
        *,
        namespace: str | None,
        spawn_options: dict[str, dict[str, Any]] | None = None,
        start_timeout_s: float = 120.0,
        world: Any = None,
    ) -> None:
        self.memory = memory
        self.handles = handles
        self.configs = configs
        self.namespace = namespace
        self.spawn_options = spawn_options or {}
        self.start_timeout_s = start_timeout_s
        self.world = world
        """Anything with `async resume(robot)` (the stack's WorldClient), or None."""
        self.restarts: dict[str, int] = {}
        """Robot -> how many times its agent came back (after a death or on request)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._revived: dict[str, list[asyncio.Future[RobotState | None]]] = {}

    def _lock(self, robot: str) -> asyncio.Lock:
        return self._locks.setdefault(robot, asyncio.Lock())

    def _handle(self, robot: str) -> Any:
        handle = self.handles.get(robot)
        if handle is None:
            raise UnknownNameError("robot", robot, sorted(self.handles))
        return handle

    # -- after a death ----------------------------------------------------------------
    async def revive(self, robot: str, reason: str) -> RobotState | None:
        """Start the agent Ray restarted after its process died (called once the robot's
        recovery ran). None if it is dead for good or did not start (logged)."""
        if robot not in self.handles:
            return None  # not one of ours
        state = await self._revive(robot, reason)
        for waiter in self._revived.pop(robot, []):
            if not waiter.done():
                waiter.set_result(state)
        return state

    async def _revive(self, robot: str, reason: str) -> RobotState | None:
        from ray.exceptions import ActorDiedError

        async with self._lock(robot):
            record = await self.memory.get_robot(robot)
            if record is not None and record.status != RobotStatusValue.offline:
                # already back: an operator's restart, or an agent declared dead that was
                # alive (a heartbeat missed under load) and beat again
                await self._resume(robot)
                return record
            try:
                state: RobotState = await _ray_call(
                    _start_ref(self.handles[robot]), self.start_timeout_s
                )
            except ActorDiedError as e:
                log.warning(
                    "robot=%s: its agent is dead for good (%s; killed, or its restarts"
                    " used up): `robo-os robots restart %s` starts a new one",
                    robot,
                    type(e).__name__,
                    robot,
                )
                return None
            except Exception as e:  # the process is up but its agent cannot start
                log.error("robot=%s: the restarted agent did not start: %s", robot, e)
                return None
            # an agent that was alive answers `start` as it is: its robot moves again
            await self._resume(robot)
            self.restarts[robot] = self.restarts.get(robot, 0) + 1
            log.info(
                "robot=%s: agent restarted after it died (%s): %s", robot, reason, state.status
            )
            return state

    async def _resume(self, robot: str) -> None:
        """The recovery halted the robot in the world; its agent is up: let it move."""
        if self.world is None:
            return
        try:
            await self.world.resume(robot)
        except Exception as e:  # a real robot: nothing to resume
            log.info("robot=%s: not resumed in the world: %s", robot, e)

    # -- on request ---------------------------------------------------------------------
    async def restart(self, robot: str, *, force: bool = False) -> RobotState:
        """Restart one robot's agent in a new process (plug-ins are imported afresh).
        ConflictError while it runs a skill unless `force` (the skill then dies with the
        process and the brain retries or reassigns it); UnknownNameError for a robot the
        stack does not run."""
        handle = self._handle(robot)
        record = await self.memory.get_robot(robot)
        running = record.current_subtask if record is not None else None
        if running and not force:
            raise ConflictError(
                f"robot {robot!r} is running {running}; restart with force to stop it"
                " (the brain retries or reassigns the subtask)"
            )
        from .agent_protocol import HostedAgent

        if isinstance(handle, HostedAgent):
            # one robot of a shared host: its agent restarts in the host's process (a
            # running skill ends cancelled; the host's other robots go on)
            async with self._lock(robot):
                state: RobotState = await _ray_call(handle.restart.remote(), self.start_timeout_s)
                self.restarts[robot] = self.restarts.get(robot, 0) + 1
        elif running:
            state = await self._crash(robot, handle)
        else:
            async with self._lock(robot):
                await self._stop(robot, handle)
                await self._kill(handle, restart=True)
                state = await self._start(robot)
                self.restarts[robot] = self.restarts.get(robot, 0) + 1
        log.info("robot=%s: agent restarted on request%s", robot, " (forced)" if running else "")
        return state

    async def _crash(self, robot: str, handle: Any) -> RobotState:
        """Kill the process mid-skill and let the death path bring it back, in its order:
        the brain sees the call fail (infrastructure) and marks the robot offline, the
        recovery halts, reconciles and releases it, then `revive` starts the agent."""
        revived: asyncio.Future[RobotState | None] = asyncio.get_running_loop().create_future()
        self._revived.setdefault(robot, []).append(revived)
        await self._kill(handle, restart=True)
        try:
            # the brain marks it offline at once; its heartbeat's expiry would, too
            state = await asyncio.wait_for(revived, self.start_timeout_s + 30.0)
        except TimeoutError as e:
            raise ServiceUnavailableError(
                f"the agent of {robot!r} was killed but did not come back within"
                f" {self.start_timeout_s + 30.0:.0f} s"
            ) from e
        if state is not None:
            return state
        async with self._lock(robot):  # dead for good (no restarts left): a new actor
            return await self._start(robot)

    async def _stop(self, robot: str, handle: Any) -> None:
        try:
            await _ray_call(handle.stop.remote(), STOP_TIMEOUT_S)
        except Exception as e:  # dead already, or stuck: it is killed next either way
            log.info("robot=%s: agent did not stop cleanly before its restart: %s", robot, e)

    async def _kill(self, handle: Any, *, restart: bool) -> None:
        import ray

        await asyncio.to_thread(ray.kill, handle, no_restart=not restart)

    async def _start(self, robot: str) -> RobotState:
        """Start the (restarted) actor; one dead for good is replaced by a new one."""
        from ray.exceptions import ActorDiedError

        from .cerebellum.actor import spawn_agent

        try:
            state: RobotState = await _ray_call(
                _start_ref(self.handles[robot]), self.start_timeout_s
            )
            return state
        except ActorDiedError:
            pass  # no restarts left (or killed for good): a new actor under the same name
        old = self.handles[robot]
        await self._kill(old, restart=False)
        # its name is free once Ray knows it dead: a call to it then fails at once
        with contextlib.suppress(Exception):
            await _ray_call(old.node_id.remote(), STOP_TIMEOUT_S)
        handle = await asyncio.to_thread(
            spawn_agent,
            self.configs[robot],
            namespace=self.namespace,
            **self.spawn_options.get(robot, {}),
        )
        self.handles[robot] = handle
        try:
            state = await _ray_call(_start_ref(handle), self.start_timeout_s)
        except Exception as e:
            raise ServiceUnavailableError(f"the new agent of {robot!r} did not start: {e}") from e
        return state
