"""Serving a robot of a running robo-os stack over MCP (`robo-os mcp serve --robot ID`).

The robot's skill specs are read from the shared memory (where its agent published
them) on every listing, and calls go to its agent through the brain's dispatcher (the
agent's Ray actor), exactly as the brain's own calls do.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ..agent_protocol import Dispatcher
from ..contracts import ErrorCode, SkillCall, SkillResult
from ..errors import ConfigError, DeadlineExceeded, RobotUnavailableError, UnknownNameError
from ..skill.spec import SkillSpec
from .server import RobotMcpServer

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from ..settings import Settings

__all__ = ["DispatcherAgent", "MemorySkills", "open_stack_server"]

log = logging.getLogger(__name__)


class MemorySkills:
    """The skill specs one robot's agent published in memory, read afresh on each call."""

    def __init__(self, memory: Memory, robot: str) -> None:
        self.memory = memory
        self.robot = robot

    async def __call__(self) -> list[SkillSpec]:
        published = (await self.memory.robot_skills()).get(self.robot, {})
        specs: list[SkillSpec] = []
        for name, data in sorted(published.items()):
            try:
                specs.append(SkillSpec.model_validate(data))
            except ValidationError as e:  # one bad record must not hide the others
                log.warning(
                    "robot %s: skipping skill %s, its spec in memory is invalid: %s",
                    self.robot,
                    name,
                    e,
                )
        return specs

    async def check_robot(self) -> None:
        """Raise UnknownNameError (with "did you mean") if no skills are published for the robot."""
        robots = await self.memory.robot_skills()
        if self.robot not in robots:
            raise UnknownNameError("robot", self.robot, list(robots))


class DispatcherAgent:
    """An AgentHandle for one robot over a brain `Dispatcher` (Ray in production)."""

    def __init__(
        self, dispatcher: Dispatcher, robot: str, skills: MemorySkills, *, grace_s: float = 5.0
    ) -> None:
        self.dispatcher = dispatcher
        self.robot = robot
        self.skills = skills
        self.grace_s = grace_s
        """Beyond the skill's own timeout, for the agent to report it timed out."""

    async def run(self, call: SkillCall) -> SkillResult:
        timeout_s = call.timeout_s
        if timeout_s is None:
            spec = next((s for s in await self.skills() if s.name == call.skill), None)
            timeout_s = spec.timeout_s if spec is not None else 60.0
        try:
            return await self.dispatcher.run(call, timeout_s=timeout_s + self.grace_s)
        except RobotUnavailableError as e:
            return SkillResult.failure(ErrorCode.robot_offline, str(e))
        except DeadlineExceeded as e:
            return SkillResult.failure(ErrorCode.timeout, str(e))

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        return await self.dispatcher.cancel(self.robot, call_id, reason)


@asynccontextmanager
async def open_stack_server(
    settings: Settings, robot: str, *, redis_url: str | None = None
) -> AsyncIterator[RobotMcpServer]:
    """An MCP server for `robot` of the running stack: memory from `redis_url` (default
    `settings.redis.url`), calls through Ray (`settings.ray`; no address: the running
    local cluster, `auto`). Raises ConfigError without a Redis URL, UnknownNameError for
    a robot that published no skills, ServiceUnavailableError when Ray cannot be joined."""
    from robo_os_memory import Memory

    from ..brain.runtime.dispatch import RayDispatcher

    url = redis_url or settings.redis.url
    if url is None:
        raise ConfigError(
            "serving a robot over MCP needs the running stack's Redis: "
            "pass --redis-url or set ROBO_OS_REDIS__URL"
        )
    memory = await Memory.connect(url, prefix=settings.redis.key_prefix, writer=f"mcp:{robot}")
    try:
        skills = MemorySkills(memory, robot)
        await skills.check_robot()
        # the agents live in the stack's Ray cluster: join it, never start an empty one
        ray_settings = settings.ray
        if ray_settings.address is None:
            ray_settings = ray_settings.model_copy(update={"address": "auto"})
        dispatcher = RayDispatcher.open(ray_settings)
        try:
            yield RobotMcpServer(robot, DispatcherAgent(dispatcher, robot, skills), skills)
        finally:
            await dispatcher.close()
    finally:
        await memory.close()
