"""A robot's skills served over MCP by robo-os, called with the real `mcp` client:
in-process and over streamable HTTP (stdio is covered by the round trip)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.mcp import SKILL_META_KEY, RobotMcpServer

from .mcp_robot import ROBOT, SPEC, SPECS, ScriptedAgent

WAIT_S = 60.0


@pytest.fixture
def agent() -> ScriptedAgent:
    return ScriptedAgent()


@asynccontextmanager
async def connected(agent: ScriptedAgent) -> AsyncIterator[Client]:
    # not a fixture: the SDK's task groups must be entered and left in the test's own task
    async with Client(RobotMcpServer(ROBOT, agent, SPECS).server) as c:
        yield c


async def test_each_skill_is_a_tool_with_its_schema_description_and_spec(
    agent: ScriptedAgent,
) -> None:
    async with connected(agent) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {s.name for s in SPECS}
        for spec in SPECS:
            tool = tools[spec.name]
            assert tool.input_schema == spec.args_schema
            assert tool.description == spec.description
            assert tool.output_schema is not None and tool.output_schema["title"] == "SkillResult"
            meta = (tool.meta or {})[SKILL_META_KEY]
            assert meta["capabilities"] == list(spec.capabilities)
            assert meta["preconditions"] == list(spec.preconditions)
            assert meta["effects"] == list(spec.effects)
            assert meta["timeout_s"] == spec.timeout_s
            assert meta["concurrent"] == spec.concurrent


async def test_calling_a_tool_runs_a_skill_call_on_the_agent(agent: ScriptedAgent) -> None:
    async with connected(agent) as client:
        out = await client.call_tool("pick", {"object": "cup"})
        assert out.is_error is False
        result = SkillResult.model_validate(out.structured_content)
        assert result.ok and result.message == "picked cup"
        assert result.data == {"grip_force": 4.5}
        assert [(c.kind, c.name, c.fields) for c in result.changes] == [
            ("object", "cup", {"held_by": ROBOT})
        ]

        [call] = agent.calls
        assert call.robot == ROBOT and call.skill == "pick" and call.args == {"object": "cup"}
        assert call.call_id.startswith(f"mcp-{ROBOT}-")


async def test_a_failed_skill_is_a_tool_error_carrying_the_skill_result(
    agent: ScriptedAgent,
) -> None:
    async with connected(agent) as client:
        out = await client.call_tool("pick", {"object": "plate"})
        assert out.is_error is True
        result = SkillResult.model_validate(out.structured_content)
        assert result.error == ErrorCode.not_found
        assert result.data == {"seen": ["cup"]}
        assert "no plate within reach" in out.content[0].text  # type: ignore[union-attr]


async def test_arguments_are_checked_against_the_schema_before_the_agent(
    agent: ScriptedAgent,
) -> None:
    async with connected(agent) as client:
        out = await client.call_tool("wave", {"times": 9})
        assert out.is_error
        result = SkillResult.model_validate(out.structured_content)
        assert result.error == ErrorCode.invalid_args
        assert "times" in result.message
        out = await client.call_tool("pick", {"object": "cup", "force": 3})
        assert SkillResult.model_validate(out.structured_content).error == ErrorCode.invalid_args
        assert agent.calls == []


async def test_unknown_tool_is_a_protocol_error_with_a_suggestion(agent: ScriptedAgent) -> None:
    async with connected(agent) as client:
        with pytest.raises(MCPError, match="did you mean 'wave'"):
            await client.call_tool("wav", {"times": 1})


async def test_a_client_cancelling_its_call_cancels_the_skill_on_the_agent(
    agent: ScriptedAgent,
) -> None:
    async with connected(agent) as client:
        call = asyncio.create_task(client.call_tool("hold", {}))
        await asyncio.wait_for(agent.started.wait(), WAIT_S)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        [held] = agent.calls
        await asyncio.wait_for(agent.cancel_seen.wait(), WAIT_S)
        assert agent.cancelled == [(held.call_id, "cancelled by the MCP client")]


async def test_skills_can_be_read_afresh_on_every_listing(agent: ScriptedAgent) -> None:
    offered = [SPEC["wave"]]

    async def current() -> list:
        return list(offered)

    async with Client(RobotMcpServer(ROBOT, agent, current).server) as c:
        assert [t.name for t in (await c.list_tools()).tools] == ["wave"]
        offered.append(SPEC["pick"])
        assert [t.name for t in (await c.list_tools(cache_mode="refresh")).tools] == [
            "pick",
            "wave",
        ]

    # a plain function too (e.g. the agent's `specs`)
    async with Client(RobotMcpServer(ROBOT, agent, lambda: offered[:1]).server) as c:
        assert [t.name for t in (await c.list_tools()).tools] == ["wave"]


async def test_streamable_http_transport(agent: ScriptedAgent) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections queue here until uvicorn accepts them: no wait needed
    port = sock.getsockname()[1]
    serving = asyncio.create_task(
        RobotMcpServer(ROBOT, agent, SPECS).serve_http(host="127.0.0.1", port=port, sock=sock)
    )
    try:
        async with Client(f"http://127.0.0.1:{port}/mcp") as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert tools["wave"].input_schema == SPEC["wave"].args_schema
            out = await c.call_tool("wave", {"times": 2})
            assert not out.is_error
            assert SkillResult.model_validate(out.structured_content).data == {"times": 2}
    finally:
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        sock.close()
    assert [c.skill for c in agent.calls] == ["wave"]
