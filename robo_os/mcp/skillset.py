"""All the MCP servers of one robot, as the robot's agent uses them.

    mcp = McpSkillSet.from_options(robot.id, robot.options)   # fleet file: options.mcp
    await mcp.open()                   # connect every server, list their tools
    registry = mcp.registry(shared)    # the robot's own: shared skills + its MCP skills
    agent = CerebellumAgent(robot, memory, registry, extra_capabilities=mcp.capabilities)
    await mcp.close()                  # at agent shutdown

A server that cannot be reached is reported (`failures`) and left out; the others and
the robot's local skills work on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ServiceUnavailableError, SkillDefinitionError
from ..skill.invoke import Skill
from ..skill.registry import SkillRegistry
from .client import McpSkill, McpSkillSource
from .config import McpServerConfig, mcp_servers_from_options

__all__ = ["McpSkillSet"]

log = logging.getLogger(__name__)


class McpSkillSet:
    """The MCP servers of one robot and the skills their tools became."""

    def __init__(self, robot: str, configs: Sequence[McpServerConfig]) -> None:
        self.robot = robot
        self.sources = [McpSkillSource(c) for c in configs]
        self.skills: list[McpSkill] = []
        self.failures: dict[str, str] = {}
        """Server name (or `<server>/<tool>`) -> why it offers no skills (unreachable,
        listing failed, refused by the registry)."""

    @classmethod
    def from_options(cls, robot: str, options: Mapping[str, Any]) -> McpSkillSet:
        """From a robot's fleet-file `options` (its `mcp` entry; none: an empty set).
        Raises ConfigError for an invalid entry."""
        return cls(robot, mcp_servers_from_options(robot, options))

    def __bool__(self) -> bool:
        return bool(self.sources)

    @property
    def capabilities(self) -> frozenset[str]:
        """What the offered skills need; the robot offers them, since its MCP server is
        what runs them (an agent adds these to the robot's capabilities)."""
        return frozenset(c for s in self.skills for c in s.spec.capabilities)

    async def open(self) -> list[McpSkill]:
        """Connect every server (in parallel) and list its tools. Never raises for an
        unreachable server: it is logged and named in `failures`. A skill name offered
        by two servers is logged and the later server's dropped (give one a `prefix`)."""
        results = await asyncio.gather(*(self._open_one(s) for s in self.sources))
        seen: dict[str, str] = {}
        skills: list[McpSkill] = []
        for source, offered in zip(self.sources, results, strict=True):
            for skill in offered:
                if skill.name in seen:
                    log.warning(
                        "robot %s: MCP server %s also offers %s (kept the one of %s); set a prefix",
                        self.robot,
                        source.name,
                        skill.name,
                        seen[skill.name],
                    )
                    continue
                seen[skill.name] = source.name
                skills.append(skill)
        self.skills = skills
        return list(skills)

    def registry(self, base: SkillRegistry | None = None) -> SkillRegistry:
        """A new registry for this robot: `base`'s skills plus the MCP ones. `base` is
        left as it is, so a registry shared by several agents never offers one robot's
        MCP tools to another (they would run on this robot's server)."""
        own = SkillRegistry(list(base) if base is not None else ())
        self.register(own)
        return own

    def register(self, registry: SkillRegistry) -> list[Skill]:
        """Register the opened skills into a robot's registry, next to its local skills.
        A skill the registry refuses (its name is taken, its schema is not a JSON
        schema) is logged and named in `failures` as `<server>/<tool>`; the rest go in."""
        added: list[Skill] = []
        for s in self.skills:
            try:
                added.append(registry.register(s))
            except SkillDefinitionError as e:
                self.failures[f"{s.source.name}/{s.tool}"] = str(e)
                log.error("robot %s: MCP skill %s not registered: %s", self.robot, s.name, e)
        return added

    async def _open_one(self, source: McpSkillSource) -> list[McpSkill]:
        try:
            await source.connect()
            skills = await source.skills()
        except ServiceUnavailableError as e:
            self.failures[source.name] = str(e)
            log.error("robot %s: MCP server %s offers no skills: %s", self.robot, source.name, e)
            return []
        self.failures.pop(source.name, None)
        log.info("robot %s: %d skills from MCP server %s", self.robot, len(skills), source.name)
        return skills

    async def close(self) -> None:
        """Close every connection (stdio servers are stopped). Idempotent."""
        await asyncio.gather(*(s.close() for s in self.sources))

    async def __aenter__(self) -> McpSkillSet:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
