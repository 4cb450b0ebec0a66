"""MCP tools run by the real cerebellum agent like local skills: published in memory (real
Redis), run, cancelled; and the agent's robot served onward over MCP."""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import Any

from mcp import Client
from robo_os_memory import Memory

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.contracts import ErrorCode, SkillCall, SkillResult
from robo_os.mcp import McpSkillSet, RobotMcpServer
from robo_os.skill import SkillContext, SkillRegistry, skill
from robo_os.testing import FakeRobot

from .mcp_helpers import GRIPPER_SERVER

WAIT_S = 60.0


@skill(capabilities={"navigate"})
async def turn(ctx: SkillContext, degrees: float) -> SkillResult:
    """Turn in place (the robot's own, local skill)."""
    return SkillResult.success(f"turned {degrees:.0f} degrees")


_ids = itertools.count()


def _call(skill: str, args: dict[str, Any]) -> SkillCall:
    # a fresh id each time: the agent returns a finished call id's stored result
    return SkillCall(call_id=f"t-{skill}-{next(_ids)}", robot="arm1", skill=skill, args=args)


async def test_the_agent_runs_mcp_tools_like_local_skills(memory: Memory) -> None:
    options = {
        "mcp": {
            "command": [sys.executable, str(GRIPPER_SERVER)],
            "capabilities": ["mcp", "manipulate"],
            "exclude": ["crash", "pid"],
            "connect_timeout_s": 60,
        }
    }
    mcp = McpSkillSet.from_options("arm1", options)
    await mcp.open()
    robot = FakeRobot("arm1", capabilities={"navigate"})
    agent = CerebellumAgent(
        robot, memory, mcp.registry(SkillRegistry([turn])), extra_capabilities=mcp.capabilities
    )
    try:
        state = await agent.start()
        assert {"mcp", "manipulate", "navigate"} <= set(state.capabilities)
        published = (await memory.robot_skills())["arm1"]
        assert {"turn", "move_joint", "open_gripper", "grasp", "hold_position"} <= set(published)
        assert published["move_joint"]["source"] == "mcp:arm1"
        assert published["move_joint"]["args_schema"]["properties"]["joint"]["type"] == "integer"

        moved = await agent.run(_call("move_joint", {"joint": 3, "angle": 0.25}))
        assert moved.ok and moved.message == "joint 3 at 0.25 rad", moved
        assert (await agent.run(_call("turn", {"degrees": 90}))).ok
        missing = await agent.run(_call("grasp", {"object": "apple"}))
        assert missing.error == ErrorCode.not_found
        bad = await agent.run(_call("move_joint", {"joint": "three", "angle": 0}))
        assert bad.error == ErrorCode.invalid_args

        # the brain cancels a running MCP skill through the agent
        hold = _call("hold_position", {})
        held = asyncio.create_task(agent.run(hold))
        started = await mcp.sources[0].call_tool(
            "wait_count", {"key": "started", "at_least": 1}, timeout_s=WAIT_S
        )
        assert started.ok
        assert await agent.cancel(hold.call_id, "brain cancelled")
        stopped = await asyncio.wait_for(held, WAIT_S)
        assert stopped.error == ErrorCode.cancelled
        seen = await mcp.sources[0].call_tool(
            "wait_count", {"key": "cancelled", "at_least": 1}, timeout_s=WAIT_S
        )
        assert seen.ok

        # and the same robot, MCP skills included, served onward over MCP
        async with Client(RobotMcpServer("arm1", agent, agent.specs).server) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"turn", "move_joint"} <= names
            out = await client.call_tool("move_joint", {"joint": 1, "angle": 1.5})
            assert (
                SkillResult.model_validate(out.structured_content).message == "joint 1 at 1.50 rad"
            )
    finally:
        await agent.stop()
        await mcp.close()
