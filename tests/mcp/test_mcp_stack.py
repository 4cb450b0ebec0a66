"""Serving a robot of a running stack over MCP: specs read from the shared memory (real
Redis), calls through the brain's dispatcher (the in-process LocalDispatcher here, Ray in
production); and the `robo-os mcp` commands."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from mcp import Client
from robo_os_memory import Memory
from robo_os_memory.models import RobotState
from typer.testing import CliRunner

from robo_os.agent_protocol import agent_actor_name
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import ErrorCode, SkillCall, SkillResult
from robo_os.errors import ConfigError, UnknownNameError
from robo_os.mcp import McpServerConfig, McpSkillSource, RobotMcpServer
from robo_os.mcp.cli import mcp_app
from robo_os.mcp.stack import DispatcherAgent, MemorySkills, open_stack_server
from robo_os.settings import Settings

from .mcp_helpers import GRIPPER_SERVER, skill_context
from .mcp_robot import ROBOT, SPEC, SPECS, ScriptedAgent

WAIT_S = 60.0
SERVE = (
    "from robo_os.mcp.cli import mcp_app; mcp_app()"  # `robo-os mcp` without the rest of the CLI
)


async def _publish(memory: Memory) -> None:
    await memory.register_robot(RobotState(id=ROBOT, embodiment="mobile_manipulator"))
    await memory.set_robot_skills(ROBOT, {s.name: s.model_dump(mode="json") for s in SPECS})


async def test_a_stack_robot_served_from_memory_and_the_dispatcher(memory: Memory) -> None:
    await _publish(memory)
    agent = ScriptedAgent()
    dispatcher = LocalDispatcher({ROBOT: agent})
    skills = MemorySkills(memory, ROBOT)
    await skills.check_robot()
    server = RobotMcpServer(ROBOT, DispatcherAgent(dispatcher, ROBOT, skills), skills)

    async with Client(server.server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {s.name for s in SPECS}
        assert tools["pick"].input_schema == SPEC["pick"].args_schema

        out = await client.call_tool("pick", {"object": "cup"})
        assert SkillResult.model_validate(out.structured_content).message == "picked cup"

        # cancelling over MCP reaches the agent through the dispatcher
        held = asyncio.create_task(client.call_tool("hold", {}))
        await asyncio.wait_for(agent.started.wait(), WAIT_S)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        await asyncio.wait_for(agent.cancel_seen.wait(), WAIT_S)
        assert [reason for _, reason in agent.cancelled] == ["cancelled by the MCP client"]

        # the agent goes away: a failed result, not a protocol error
        dispatcher.remove(ROBOT, "actor died")
        out = await client.call_tool("wave", {"times": 1})
        assert out.is_error
        assert SkillResult.model_validate(out.structured_content).error == ErrorCode.robot_offline


async def test_open_stack_server_checks_its_configuration(
    redis_url: str, key_prefix: str, memory: Memory
) -> None:
    with pytest.raises(ConfigError, match="redis"):
        async with open_stack_server(Settings(), ROBOT):
            pass
    await _publish(memory)
    settings = Settings.model_validate({"redis": {"url": redis_url, "key_prefix": key_prefix}})
    with pytest.raises(UnknownNameError, match="did you mean 'waiter'"):
        async with open_stack_server(settings, "waiterr"):
            pass


def test_inspect_prints_the_specs_an_mcp_server_would_offer() -> None:
    out = CliRunner().invoke(
        mcp_app, ["inspect", "--command", f"{sys.executable} {GRIPPER_SERVER}", "--name", "gripper"]
    )
    assert out.exit_code == 0, out.output
    specs = {s["name"]: s for s in json.loads(out.stdout)}
    assert specs["move_joint"]["args_schema"]["required"] == ["joint", "angle"]
    assert specs["move_joint"]["source"] == "mcp:gripper"


def waiter_actor_class() -> Any:
    """A small agent actor (defined in a function so Ray ships it by value)."""
    import ray

    @ray.remote(num_cpus=0)
    class WaiterAgent:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, dict[str, Any]]] = []

        async def run(self, wire: dict[str, Any]) -> SkillResult:
            call = SkillCall.model_validate(wire)  # RayDispatcher sends JSON-mode data
            self.calls.append((call.robot, call.skill, dict(call.args)))
            if call.skill == "pick" and call.args.get("object") != "cup":
                return SkillResult.failure(ErrorCode.not_found, "no such object")
            return SkillResult.success(f"{call.skill} done by the actor")

        async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
            return False

        def seen(self) -> list[tuple[str, str, dict[str, Any]]]:
            return self.calls

    return WaiterAgent


async def test_robo_os_mcp_serve_over_stdio_reaches_the_agents_ray_actor(
    ray_runtime: Any, redis_url: str, key_prefix: str, memory: Memory
) -> None:
    """The real command in a subprocess: joins this test's Ray cluster and Redis."""
    import ray

    await _publish(memory)
    namespace = ray.get_runtime_context().namespace
    actor = waiter_actor_class().options(name=agent_actor_name(ROBOT), namespace=namespace).remote()
    try:
        config = McpServerConfig(
            name="stack",
            command=[sys.executable, "-c", SERVE, "serve", "--robot", ROBOT],
            env={
                "ROBO_OS_REDIS__URL": redis_url,
                "ROBO_OS_REDIS__KEY_PREFIX": key_prefix,
                "ROBO_OS_RAY__ADDRESS": ray.get_runtime_context().gcs_address,
                "ROBO_OS_RAY__NAMESPACE": namespace,
                "RAY_AUTH_MODE": "disabled",
                "RAY_USAGE_STATS_ENABLED": "0",
            },
            connect_timeout_s=120,
        )
        async with McpSkillSource(config) as source:
            skills = {s.name: s for s in await source.skills()}
            assert set(skills) == {s.name for s in SPECS}
            assert skills["pick"].spec.preconditions == SPEC["pick"].preconditions
            picked = await skills["pick"].run({"object": "cup"}, skill_context("pick"))
            assert picked.ok and picked.message == "pick done by the actor", picked
            missing = await skills["pick"].run({"object": "plate"}, skill_context("pick"))
            assert missing.error == ErrorCode.not_found
        seen = await actor.seen.remote()
        assert seen == [(ROBOT, "pick", {"object": "cup"}), (ROBOT, "pick", {"object": "plate"})]
    finally:
        ray.kill(actor)
