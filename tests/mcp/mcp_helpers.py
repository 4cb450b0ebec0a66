"""Shared pieces of the MCP tests: the third-party gripper server, skill contexts, an
in-test agent."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from robo_os import testing
from robo_os.mcp.config import McpServerConfig
from robo_os.skill.context import SkillContext

HERE = Path(__file__).parent
GRIPPER_SERVER = HERE / "gripper_server.py"


def gripper_config(**overrides: Any) -> McpServerConfig:
    """The gripper server started over stdio with this interpreter."""
    data: dict[str, Any] = {
        "name": "gripper",
        "command": [sys.executable, str(GRIPPER_SERVER)],
        "timeout_s": 30.0,
        "connect_timeout_s": 60.0,  # a cold start imports the SDK on a shared, busy machine
    }
    return McpServerConfig.model_validate(data | overrides)


def skill_context(
    skill: str, args: dict[str, Any] | None = None, *, timeout_s: float = 30.0
) -> SkillContext:
    """A context for an MCP skill, which uses only the deadline and the cancel token
    (the robot and the memory are the MCP server's business)."""
    return testing.skill_context(
        None, skill, args, timeout_s=timeout_s, robot_id="gripper", logger=logging.getLogger("test.mcp")
    )
