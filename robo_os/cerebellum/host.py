"""Many robots' agents in one Ray actor process (`agent.hosting: shared`).

A process per robot costs 80-140 MB and a process start each; an agent host runs up to
`agent.robots_per_host` robots' agents side by side on one event loop. Each robot keeps
its own `CerebellumAgent` (one call at a time, cancel and idempotency per robot) and its
own `Memory` client whose `writer` is the robot's id (recorded on every write it makes);
the clients share the host's connection pools (`Memory.as_writer`), and one heartbeat
loop beats for all the host's robots in one round trip (`HeartbeatBatch`).

    host = spawn_host([config_a, config_b], index=0, namespace="robo-os")
    problems = await host.start_all.remote(timeout_s=120)   # robot -> why it did not start
    ref = HostedAgent(host, "a")                             # what the stack and dispatcher use
    result = await ref.run.remote(call)                      # host.run.remote("a", call)

Every method takes the robot id first (what `HostedAgent` sends). A host whose process
dies takes all its robots with it: their heartbeats stop, each is recovered like a dead
agent (robo_os/recovery.py), Ray restarts the process and the supervisor starts each
robot's agent again (robo_os/supervisor.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from robo_os_memory.models import RobotState

from ..agent_protocol import WireCall, WireResult, agent_host_name
from ..contracts import ErrorCode, SkillCall, SkillResult
from ..errors import UnknownNameError
from .actor import AgentActor, AgentConfig, AgentDescription, SharedParts

__all__ = ["AgentHostActor", "spawn_host", "start_host"]

CALLS_PER_ROBOT = 64
"""Ray's concurrency per robot (what a robot's own actor gets); the host's is this times
its robots."""


class AgentHostActor:
    """The Ray actor class (wrap with `ray.remote`, or use `spawn_host`). Each robot's
    agent is an `AgentActor` used as a plain object inside this process, so it behaves
    as it does in its own actor (started on the first call, reconciled after a restart,
    `robot_offline` while a supervised restart waits for the supervisor)."""

    def __init__(self, configs: Sequence[AgentConfig]) -> None:
        # one memory client and one heartbeat loop for all (when they use one memory)
        same = len({(c.redis_url, c.key_prefix, c.heartbeat_interval_s) for c in configs}) == 1
        self._shared = SharedParts(configs[0], len(configs)) if configs and same else None
        self._agents = {c.robot.id: AgentActor(c, self._shared) for c in configs}

    def _agent(self, robot: str) -> AgentActor:
        agent = self._agents.get(robot)
        if agent is None:
            raise UnknownNameError("robot", robot, sorted(self._agents))
        return agent

    async def robots(self) -> list[str]:
        return sorted(self._agents)

    async def start(self, robot: str) -> RobotState:
        return await self._agent(robot).start()

    async def start_all(self, timeout_s: float) -> dict[str, str]:
        """Start every robot's agent at once, each within `timeout_s`; robot -> why it
        did not start, for those that did not (they stay stopped; a later `start` or
        call tries again)."""

        async def one(agent: AgentActor) -> None:
            await asyncio.wait_for(agent.start(), timeout_s)

        robots = list(self._agents)
        outs = await asyncio.gather(*(one(self._agents[r]) for r in robots), return_exceptions=True)
        return {
            r: f"no agent after {timeout_s:.0f} s"
            if isinstance(out, TimeoutError)
            else f"{type(out).__name__}: {out}"
            for r, out in zip(robots, outs, strict=True)
            if isinstance(out, BaseException)
        }

    async def run(self, robot: str, call: SkillCall | WireCall) -> SkillResult | WireResult:
        agent = self._agents.get(robot)
        if agent is None:
            result = SkillResult.failure(
                ErrorCode.robot_offline, f"no agent of robot {robot!r} in this host"
            )
            return result if isinstance(call, SkillCall) else result.model_dump(mode="json")
        return await agent.run(call)

    async def cancel(self, robot: str, call_id: str, reason: str = "cancelled") -> bool:
        agent = self._agents.get(robot)
        return agent is not None and await agent.cancel(call_id, reason)

    async def describe(self, robot: str) -> AgentDescription:
        return await self._agent(robot).describe()

    async def camera_image(self, robot: str, target: str | None = None) -> bytes | None:
        return await self._agent(robot).camera_image(target)

    async def node_id(self, robot: str | None = None) -> str:
        import ray

        return str(ray.get_runtime_context().get_node_id())

    async def heartbeat_robots(self) -> list[str]:
        """The robots the host's one heartbeat loop beats for (its started agents')."""
        return sorted(self._shared.heartbeat_robots) if self._shared is not None else []

    async def process_id(self, robot: str | None = None) -> int:
        """The host's process id (fault tests kill it: every robot of it dies)."""
        return os.getpid()

    async def restart(self, robot: str) -> RobotState:
        """Stop one robot's agent and start it again in this process (the others go on;
        a skill it was running ends cancelled)."""
        agent = self._agent(robot)
        await agent.stop()
        return await agent.start()

    async def stop(self, robot: str | None = None) -> None:
        """Stop one robot's agent, or every one of them (None)."""
        agents = [self._agent(robot)] if robot is not None else list(self._agents.values())
        await asyncio.gather(*(a.stop() for a in agents))
        if robot is None and self._shared is not None:
            await self._shared.close()


def spawn_host(
    configs: Sequence[AgentConfig], *, index: int, namespace: str | None = None, **options: Any
) -> Any:
    """Create agent host `agent_host_name(index)` for `configs` without starting its
    agents; `options` go to Ray (`max_restarts`, `runtime_env`, ...)."""
    import ray

    cls: Any = ray.remote(AgentHostActor)
    return cls.options(
        name=agent_host_name(index),
        namespace=namespace,
        num_cpus=0,
        max_concurrency=CALLS_PER_ROBOT * max(1, len(configs)),
        **options,
    ).remote(list(configs))


async def start_host(
    configs: Sequence[AgentConfig], *, index: int, timeout_s: float = 120.0, **kwargs: Any
) -> tuple[Any, dict[str, str]]:
    """Spawn a host and start its agents (each within `timeout_s`, at once); the handle
    and robot -> why it did not start. A host that does not answer at all is killed and
    the error raised."""
    import ray

    host = spawn_host(configs, index=index, **kwargs)
    try:
        # the process itself may take a while to come up on a busy machine
        problems: dict[str, str] = await asyncio.wait_for(
            host.start_all.remote(timeout_s), 2 * timeout_s
        )
    except BaseException:
        ray.kill(host, no_restart=True)
        raise
    return host, problems
