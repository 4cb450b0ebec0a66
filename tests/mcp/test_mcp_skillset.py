"""A robot's MCP servers from its fleet-file options, as its agent opens them."""

from __future__ import annotations

import sys

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.mcp import McpSkillSet
from robo_os.skill import SkillContext, SkillRegistry, check_registry, skill

from .mcp_helpers import GRIPPER_SERVER, skill_context


@skill(capabilities={"manipulate"})
async def grasp(ctx: SkillContext) -> SkillResult:
    """The robot's own grasp (a local skill the MCP one must not replace)."""
    return SkillResult.success()


async def test_a_robot_with_a_good_and_a_dead_server_gets_the_good_ones_skills() -> None:
    options = {
        "mcp": [
            {
                "name": "gripper",
                "command": [sys.executable, str(GRIPPER_SERVER)],
                "capabilities": ["mcp", "manipulate"],
                "include": ["open_gripper", "move_joint"],
                "connect_timeout_s": 60,
            },
            {"name": "camera", "command": ["/nonexistent/camera-server"]},
            {
                "name": "gripper2",
                "command": [sys.executable, str(GRIPPER_SERVER)],
                "include": ["open_gripper", "grasp"],
                "connect_timeout_s": 60,
            },
        ]
    }
    async with McpSkillSet.from_options("arm1", options) as mcp:
        # gripper2's open_gripper clashes with gripper's: the first server keeps it
        assert sorted((s.name, s.source.name) for s in mcp.skills) == [
            ("grasp", "gripper2"),
            ("move_joint", "gripper"),
            ("open_gripper", "gripper"),
        ]
        assert set(mcp.failures) == {"camera"}
        assert "camera" in mcp.failures["camera"]
        assert mcp.capabilities == {"mcp", "manipulate"}

        # the robot's own registry: the shared skills plus its MCP ones; a clash is
        # reported; the shared registry is left alone (other robots use it)
        shared = SkillRegistry([grasp])
        registry = mcp.registry(shared)
        assert registry.names() == ["grasp", "move_joint", "open_gripper"]
        assert shared.names() == ["grasp"]
        assert "already registered" in mcp.failures["gripper2/grasp"]
        assert check_registry(registry) == []

        move = registry.get("move_joint")
        assert (await move.run({"joint": 0, "angle": 1.0}, skill_context("move_joint"))).ok
        refused = await move.run({"joint": "zero"}, skill_context("move_joint"))
        assert refused.error == ErrorCode.invalid_args
    assert not any(s.connected for s in mcp.sources)


def test_a_robot_without_mcp_options_has_an_empty_set() -> None:
    assert not McpSkillSet.from_options("arm1", {"other": 1})
