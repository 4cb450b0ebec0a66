"""MCP both ways: an MCP server's tools as a robot's skills (`McpSkillSource`), and a
robot's skills as an MCP server (`RobotMcpServer`)."""

from __future__ import annotations

from .client import McpSkill, McpSkillSource
from .config import DEFAULT_MCP_CAPABILITY, McpServerConfig, McpToolConfig, mcp_servers_from_options
from .results import SKILL_META_KEY, skill_result_from_tool, tool_result_from_skill
from .server import RobotMcpServer, SkillSpecs
from .skillset import McpSkillSet

__all__ = [
    "DEFAULT_MCP_CAPABILITY",
    "SKILL_META_KEY",
    "McpServerConfig",
    "McpSkill",
    "McpSkillSet",
    "McpSkillSource",
    "McpToolConfig",
    "RobotMcpServer",
    "SkillSpecs",
    "mcp_servers_from_options",
    "skill_result_from_tool",
    "tool_result_from_skill",
]
