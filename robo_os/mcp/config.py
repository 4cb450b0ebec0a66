"""How a robot's MCP server is described in the fleet file.

A robot whose skills come from an MCP server (as RoboOS 2.0 and ros-mcp-server robots
provide them) names it under `options.mcp`, either one server or a list:

    robots:
      - id: arm1
        embodiment: fixed_arm
        at: counter
        options:
          mcp:
            command: [python, -m, my_robot.mcp_server]   # stdio; or `url: http://host:port/mcp`
            capabilities: [manipulate]                     # what every tool needs, besides `mcp`
            include: [open_gripper, move_joint]            # offer only these tools
            tools:
              move_joint: {timeout_s: 10}
              pick:
                preconditions: ["hand_empty(robot)"]
                effects: ["holding(robot, object)", "not hand_empty(robot)"]
                entities: {object: [object]}
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, SkillDefinitionError
from ..symbolic.conditions import parse_conditions

__all__ = ["DEFAULT_MCP_CAPABILITY", "McpServerConfig", "McpToolConfig", "mcp_servers_from_options"]

DEFAULT_MCP_CAPABILITY = "mcp"
"""The capability every MCP skill needs by default: the robot's agent offers it when the
robot has an MCP server, so the brain never plans an MCP tool on a robot without one."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_conditions(value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(c.text for c in parse_conditions(value))
    except SkillDefinitionError as e:
        raise ValueError(str(e)) from e


class McpToolConfig(_Config):
    """What the fleet file adds to one tool; MCP itself has no words for these."""

    skill: str | None = None
    """The skill name the brain sees (default: the server's `prefix` + the tool name)."""
    description: str | None = None
    """Replaces the tool's own description."""
    capabilities: tuple[str, ...] | None = None
    """Replaces the server's `capabilities` for this tool."""
    timeout_s: float | None = Field(default=None, gt=0)
    preconditions: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    concurrent: bool | None = None
    entities: dict[str, list[str]] = Field(default_factory=dict)
    """Argument name -> entity kinds it names (`object`, `place`, `robot`): added to the
    argument's schema as `x-robo-os-entity`, so the planner checks the names."""

    @field_validator("preconditions", "effects")
    @classmethod
    def _parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_conditions(value)


class McpServerConfig(_Config):
    """One MCP server whose tools a robot offers as skills."""

    name: str
    """Names the server in logs and in each skill's `source` (`mcp:<name>`)."""
    command: list[str] | None = None
    """Start the server as a subprocess and talk over its stdin/stdout."""
    url: str | None = None
    """Or reach a running server over streamable HTTP (`http://host:port/mcp`)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for the subprocess (merged over PATH, HOME, ...)."""
    cwd: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers for every request (e.g. Authorization)."""
    capabilities: tuple[str, ...] = (DEFAULT_MCP_CAPABILITY,)
    """Capabilities every tool of this server needs (a tool's own entry may replace them)."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Default deadline of one tool call."""
    connect_timeout_s: float = Field(default=30.0, gt=0)
    """Deadline for starting/reaching the server and the MCP handshake."""
    prefix: str = ""
    """Prepended to every tool name to make the skill name (avoids clashes with local skills)."""
    include: list[str] | None = None
    """Offer only these tools (None: all)."""
    exclude: list[str] = Field(default_factory=list)
    tools: dict[str, McpToolConfig] = Field(default_factory=dict)
    reconnect: bool = True
    """After the connection is lost, the next call starts/reaches the server again (a call
    in flight when it was lost still fails: it may or may not have run)."""

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        # a YAML string is friendlier to write; it is split like a shell would
        return shlex.split(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r}: give exactly one of `command` or `url`")
        if self.command is not None and not self.command:
            raise ValueError(f"MCP server {self.name!r}: `command` is empty")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "streamable-http"

    def offers(self, tool: str) -> bool:
        """Whether a tool of this name becomes a skill (include/exclude)."""
        if tool in self.exclude:
            return False
        return self.include is None or tool in self.include


def mcp_servers_from_options(robot_id: str, options: Mapping[str, Any]) -> list[McpServerConfig]:
    """The MCP servers a robot's fleet-file `options` name under `mcp` (none: []).

    `options["mcp"]` is one server (a mapping) or a list of them. An unnamed server is
    named after the robot (`<robot>`, or `<robot>-<i>` in a list). Raises ConfigError
    naming the robot on any invalid entry."""
    raw = options.get("mcp")
    if raw is None:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    servers: list[McpServerConfig] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"robot {robot_id!r}: options.mcp entries must be mappings, got {entry!r}"
            )
        default_name = robot_id if len(entries) == 1 else f"{robot_id}-{i}"
        try:
            servers.append(McpServerConfig.model_validate({"name": default_name, **entry}))
        except ValidationError as e:
            raise ConfigError(f"robot {robot_id!r}: invalid options.mcp entry:\n{e}") from e
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise ConfigError(f"robot {robot_id!r}: MCP server names must be unique, got {names}")
    return servers
