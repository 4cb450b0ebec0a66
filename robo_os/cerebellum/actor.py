"""The agent as a Ray actor: a thin wrapper that builds its own robot, memory connection
and skills inside the actor's process from a serialisable `AgentConfig`, then delegates
to `CerebellumAgent`.

    config = AgentConfig(robot=robot_config, redis_url=url, key_prefix=prefix,
                         factory_options={"world": world_client})
    handle = await start_agent(config, namespace="robo-os", on_robot_node=True)
    result = await handle.run.remote(call)         # what RayDispatcher does

`on_robot_node=True` places the actor on the node that offers the custom resource
`robot:<id>` (start an edge machine's Ray with `--resources '{"robot:arm1": 1}'`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from robo_os_memory import Memory
from robo_os_memory.models import RobotState

from ..agent_protocol import WireCall, WireResult, agent_actor_name, call_from_wire
from ..contracts import ErrorCode, SkillCall, SkillResult
from ..errors import ConfigError, RobotUnavailableError
from ..fleet import RobotConfig
from ..settings import AgentSettings, LLMSettings, Settings, TracingSettings
from ..skill.registry import SkillRegistry, discover
from ..skill.spec import SkillSpec
from .agent import CerebellumAgent
from .agent_state import HeartbeatBatch

if TYPE_CHECKING:
    from ..mcp.skillset import McpSkillSet
    from .robot_llm import RobotLLM

__all__ = [
    "AgentActor",
    "AgentConfig",
    "AgentDescription",
    "import_object",
    "robot_resource",
    "spawn_agent",
    "start_agent",
]

log = logging.getLogger(__name__)

DEFAULT_FACTORY = "robo_os.cerebellum.drivers:build_robot"


def robot_resource(robot_id: str) -> str:
    """The custom Ray resource of the node a robot's agent must run on."""
    return f"robot:{robot_id}"


def import_object(path: str) -> Any:
    """`package.module:attr` (or `package.module` for a module)."""
    try:
        return pkgutil.resolve_name(path)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(f"cannot import {path!r}: {e}") from e


@dataclass(frozen=True)
class AgentConfig:
    """What an agent actor needs, sent to it by value (Ray pickles it)."""

    robot: RobotConfig
    redis_url: str
    key_prefix: str = "robo-os"
    agent: AgentSettings = field(default_factory=AgentSettings)
    heartbeat_interval_s: float = 1.0
    robot_factory: str | Callable[..., Any] = DEFAULT_FACTORY
    """`factory(robot_config, **factory_options)` -> Robot (or an awaitable of one): an
    import path, or a callable Ray can ship."""
    factory_options: Mapping[str, Any] = field(default_factory=dict)
    """E.g. `{"world": world_client}` for the sim driver."""
    plugins: bool = True
    """Offer the installed `robo_os.skills` plug-ins."""
    skills: tuple[str | object, ...] = ()
    """More skills: import paths (`pkg.mod:SKILLS`, `pkg.mod:fn`) or skill objects."""
    llm: LLMSettings | None = None
    """The robot's own model (used when `agent.llm_subtasks`)."""
    redis_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra redis-py options (TLS files, ...)."""
    tracing: TracingSettings | None = None
    """Export the agent's skill spans (robo_os/tracing.py) when an endpoint is set."""
    supervised: bool = False
    """A supervisor starts the agent after Ray restarted its process (robo_os/supervisor.py,
    once the robot's recovery ran): until then calls are answered `robot_offline` instead
    of starting it."""

    @classmethod
    def from_settings(cls, settings: Settings, robot: RobotConfig, **overrides: Any) -> AgentConfig:
        """The config of `robot`'s agent under the stack's settings."""
        if settings.redis.url is None:
            raise ConfigError("an agent actor needs ROBO_OS_REDIS__URL (the stack's Redis)")
        values: dict[str, Any] = {
            "robot": robot,
            "redis_url": settings.redis.url,
            "key_prefix": settings.redis.key_prefix,
            "agent": settings.agent,
            "heartbeat_interval_s": settings.memory.heartbeat_interval_s,
            "llm": settings.agent_llm or (settings.llm if settings.llm.enabled else None),
            "tracing": settings.tracing if settings.tracing.otlp_endpoint else None,
            "skills": tuple(robot.skills),
        }
        return cls(**{**values, **overrides})


class AgentDescription(BaseModel):
    """What `AgentActor.describe()` answers."""

    model_config = ConfigDict(frozen=True)

    robot: RobotState | None
    skills: list[SkillSpec] = Field(default_factory=list)
    node: str | None = None
    running: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    """Skill plug-ins and MCP servers that could not be loaded."""


class SharedParts:
    """What the agents of one agent host share, opened on first use: one memory client
    (its pools; each agent writes through `as_writer(robot id)`) and one heartbeat loop
    for all their robots (robo_os/cerebellum/host.py)."""

    def __init__(self, config: AgentConfig, robots: int) -> None:
        self.config = config
        self.robots = robots
        self._lock = asyncio.Lock()
        self._parts: tuple[Memory, HeartbeatBatch] | None = None

    async def get(self) -> tuple[Memory, HeartbeatBatch]:
        async with self._lock:
            if self._parts is None:
                cfg = self.config
                options = {
                    # each robot may hold a connection at once (a skill's write, its
                    # status writer, a blocking read): the pools grow with the robots
                    "max_connections": max(64, 2 * self.robots),
                    "max_blocking_connections": max(256, self.robots + 16),
                    **dict(cfg.redis_options),
                }
                memory = await Memory.connect(
                    cfg.redis_url,
                    prefix=cfg.key_prefix,
                    writer="agent-host",
                    heartbeat_interval_s=cfg.heartbeat_interval_s,
                    **options,
                )
                self._parts = (memory, HeartbeatBatch(memory, cfg.heartbeat_interval_s))
            return self._parts

    @property
    def heartbeat_robots(self) -> frozenset[str]:
        """The robots the heartbeat loop beats for (none before the first agent started)."""
        return self._parts[1].robots if self._parts is not None else frozenset()

    async def close(self) -> None:
        async with self._lock:
            if self._parts is not None:
                memory, beats = self._parts
                self._parts = None
                await beats.close()
                await memory.close()


class AgentActor:
    """The Ray actor class (wrap with `ray.remote`, or use `spawn_agent`). Every method
    is async; `start` is idempotent and `run` starts the agent if needed, so an actor
    Ray restarts after a crash serves calls (and its stored results) again."""

    def __init__(self, config: AgentConfig, shared: SharedParts | None = None) -> None:
        self.config = config
        self._shared = shared
        if config.tracing is not None:
            from ..tracing import configure_tracing

            configure_tracing(config.tracing)
        self.agent: CerebellumAgent | None = None
        self._memory: Memory | None = None
        self._mcp: McpSkillSet | None = None
        self._llm: RobotLLM | None = None
        self._problems: list[str] = []
        self._starting = asyncio.Lock()

    async def start(self) -> RobotState:
        async with self._starting:
            if self.agent is not None:
                state = await self.agent.memory.get_robot(self.agent.id)
                assert state is not None
                return state
            try:
                return await self._start()
            except BaseException:
                await self._close_parts()
                raise

    async def _start(self) -> RobotState:
        import ray

        cfg = self.config
        heartbeats = None
        if self._shared is not None:  # in an agent host: its pools and heartbeat loop
            host_memory, heartbeats = await self._shared.get()
            self._memory = host_memory.as_writer(cfg.robot.id)
        else:
            self._memory = await Memory.connect(
                cfg.redis_url,
                prefix=cfg.key_prefix,
                writer=cfg.robot.id,
                heartbeat_interval_s=cfg.heartbeat_interval_s,
                **dict(cfg.redis_options),
            )
        factory = (
            import_object(cfg.robot_factory)
            if isinstance(cfg.robot_factory, str)
            else cfg.robot_factory
        )
        robot = factory(cfg.robot, **dict(cfg.factory_options))
        if inspect.isawaitable(robot):
            robot = await robot
        registry = discover() if cfg.plugins else SkillRegistry()
        for item in cfg.skills:
            obj = import_object(item) if isinstance(item, str) else item
            for s in obj if isinstance(obj, list | tuple) else [obj]:
                registry.register(s)
        self._problems = [str(p) for p in registry.problems]
        extra_caps = await self._open_mcp(registry)
        if cfg.agent.llm_subtasks and cfg.llm is not None:
            from .robot_llm import RobotLLM

            self._llm = RobotLLM(cfg.llm, max_steps=cfg.agent.max_llm_steps)
        self.agent = CerebellumAgent(
            robot,
            self._memory,
            registry,
            cfg.agent,
            heartbeat_interval_s=cfg.heartbeat_interval_s,
            node=ray.get_runtime_context().get_node_id(),
            place=cfg.robot.at,
            reach=(cfg.robot.at, *cfg.robot.reach) if cfg.robot.reach else (),
            extra_capabilities=extra_caps,
            llm=self._llm,
            heartbeats=heartbeats,
        )
        state = await self.agent.start()
        if ray.get_runtime_context().was_current_actor_reconstructed:
            # a new process after a crash: memory may believe what the old one left
            try:
                fixed = await self.agent.reconcile("agent restarted")
            except Exception as e:  # memory keeps its beliefs; the agent still serves
                log.warning("agent of %s: reconciling after the restart failed: %s", cfg.robot.id, e)
            else:
                log.info("agent of %s restarted: %d corrections", cfg.robot.id, fixed)
        return state

    async def _open_mcp(self, registry: SkillRegistry) -> frozenset[str]:
        if not self.config.robot.options.get("mcp"):
            return frozenset()
        from ..mcp.skillset import McpSkillSet

        self._mcp = McpSkillSet.from_options(self.config.robot.id, self.config.robot.options)
        for s in await self._mcp.open():
            registry.register(s, replace=True)
        self._problems += [f"MCP server {name}: {why}" for name, why in self._mcp.failures.items()]
        return self._mcp.capabilities

    async def _agent(self) -> CerebellumAgent:
        if self.agent is None:
            import ray

            if self.config.supervised and ray.get_runtime_context().was_current_actor_reconstructed:
                # the old process's robot is being recovered (halted, reconciled, freed);
                # starting now would race that: the supervisor starts it after
                raise RobotUnavailableError(
                    f"the agent of {self.config.robot.id} is restarting after its process died"
                )
            await self.start()
        assert self.agent is not None
        return self.agent

    async def run(self, call: SkillCall | WireCall) -> SkillResult | WireResult:
        """Run a call. Given wire data (a JSON-mode dict, what RayDispatcher sends) it
        answers wire data; given a SkillCall, a SkillResult."""
        wire = not isinstance(call, SkillCall)
        try:
            parsed = call_from_wire(call)
        except ValueError as e:
            result = SkillResult.failure(ErrorCode.invalid_args, f"malformed skill call: {e}")
        else:
            result = await self._run(parsed)
        return result.model_dump(mode="json") if wire else result

    async def _run(self, call: SkillCall) -> SkillResult:
        try:
            agent = await self._agent()
        except RobotUnavailableError as e:  # restarting: the brain reassigns or waits
            return SkillResult.failure(ErrorCode.robot_offline, str(e))
        except Exception as e:  # the brain gets a result it can act on (reassign)
            log.exception("agent of %s failed to start", self.config.robot.id)
            return SkillResult.failure(
                ErrorCode.robot_offline, f"agent of {self.config.robot.id} cannot start: {e}"
            )
        return await agent.run(call)

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        if self.agent is None:
            return False
        return await self.agent.cancel(call_id, reason)

    async def describe(self) -> AgentDescription:
        agent = await self._agent()
        return AgentDescription(
            robot=await agent.memory.get_robot(agent.id),
            skills=agent.specs(),
            node=agent.node,
            running=agent.running,
            problems=list(self._problems),
        )

    async def camera_image(self, target: str | None = None) -> bytes | None:
        """A PNG from the robot's camera, or None if it has none."""
        return await (await self._agent()).camera_image(target)

    async def node_id(self) -> str:
        import ray

        return str(ray.get_runtime_context().get_node_id())

    async def process_id(self) -> int:
        """The actor's process id (fault tests kill it)."""
        return os.getpid()

    async def stop(self) -> None:
        """Stop the agent (robot marked stopped and closed) and close connections."""
        if self.agent is not None:
            await self.agent.stop()
        await self._close_parts()

    async def _close_parts(self) -> None:
        if self._mcp is not None:
            with contextlib.suppress(Exception):
                await self._mcp.close()
        if self._llm is not None:
            with contextlib.suppress(Exception):
                await self._llm.close()
        if self._memory is not None:
            await self._memory.close()
        self._mcp = self._llm = self._memory = None
        self.agent = None


def spawn_agent(
    config: AgentConfig,
    *,
    namespace: str | None = None,
    on_robot_node: bool = False,
    max_concurrency: int = 64,
    **options: Any,
) -> Any:
    """Create the robot's agent actor (named `agent_actor_name(robot.id)`) without
    starting it. `on_robot_node` requires the custom resource `robot:<id>`; `options`
    go to Ray (`lifetime="detached"`, `max_restarts`, `runtime_env`, ...)."""
    import ray

    if on_robot_node:
        resources = dict(options.pop("resources", None) or {})
        resources[robot_resource(config.robot.id)] = 0.001
        options["resources"] = resources
    cls: Any = ray.remote(AgentActor)
    return cls.options(
        name=agent_actor_name(config.robot.id),
        namespace=namespace,
        num_cpus=0,
        max_concurrency=max_concurrency,
        **options,
    ).remote(config)


async def start_agent(config: AgentConfig, *, timeout_s: float = 120.0, **kwargs: Any) -> Any:
    """Spawn the actor and wait for its agent to start; on failure the actor is killed
    and the error raised."""
    import ray

    handle = spawn_agent(config, **kwargs)
    try:
        await asyncio.wait_for(handle.start.remote(), timeout_s)
    except BaseException:
        ray.kill(handle, no_restart=True)
        raise
    return handle
