"""Round trip: robo-os skills served by robo-os's MCP server (stdio subprocess, or
streamable HTTP) come back through robo-os's MCP client as the same skills with the same
results."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.errors import ServiceUnavailableError
from robo_os.mcp import McpServerConfig, McpSkill, McpSkillSource, RobotMcpServer
from robo_os.services import bind_listener
from robo_os.skill import SkillContext, SkillRegistry, check_registry, skill

from .mcp_helpers import HERE, skill_context
from .mcp_robot import ROBOT, SPECS, ScriptedAgent

WAIT_S = 60.0


@skill(capabilities={"camera"})
async def look_around(ctx: SkillContext) -> SkillResult:
    """Turn the head once around (a local skill next to the MCP ones)."""
    return SkillResult.success("looked around")


def _stdio_config(**overrides: object) -> McpServerConfig:
    data: dict[str, object] = {
        "name": ROBOT,
        "command": [sys.executable, str(HERE / "mcp_robot.py")],
        "connect_timeout_s": 60.0,
    }
    return McpServerConfig.model_validate(data | overrides)


def _assert_same_specs(skills: list[McpSkill], *, source: str) -> None:
    by_name = {s.name: s.spec for s in skills}
    assert set(by_name) == {s.name for s in SPECS}
    for original in SPECS:
        back = by_name[original.name]
        # everything but where it came from survives the trip
        assert back.model_dump(exclude={"source"}) == original.model_dump(exclude={"source"})
        assert back.source == source


async def test_skills_and_results_survive_the_stdio_round_trip() -> None:
    """Far robot served over stdio; its skills registered here next to a local one and
    run through the registry, as the agent runs any skill."""
    registry = SkillRegistry([look_around])
    async with McpSkillSource(_stdio_config()) as source:
        skills = await source.skills()
        _assert_same_specs(skills, source=f"mcp:{ROBOT}")
        for s in skills:
            registry.register(s)
        assert registry.names() == ["hold", "look_around", "pick", "wave"]
        assert check_registry(registry) == []

        picked = await registry.get("pick").run({"object": "cup"}, skill_context("pick"))
        assert picked.ok and picked.message == "picked cup"
        assert picked.data == {"grip_force": 4.5}
        assert [(c.kind, c.name, c.fields) for c in picked.changes] == [
            ("object", "cup", {"held_by": ROBOT})
        ]

        missing = await registry.get("pick").run({"object": "plate"}, skill_context("pick"))
        assert missing.error == ErrorCode.not_found and missing.data == {"seen": ["cup"]}

        # the schema travelled, so bad arguments are refused here, before the wire
        bad = await registry.get("wave").run({"times": 0}, skill_context("wave"))
        assert bad.error == ErrorCode.invalid_args and "times" in bad.message

        local = await registry.get("look_around").run({}, skill_context("look_around"))
        assert local.ok and local.message == "looked around"


async def test_fleet_overrides_apply_on_top_of_a_robo_os_servers_spec() -> None:
    config = _stdio_config(
        prefix="far_", tools={"wave": {"timeout_s": 2.5, "capabilities": ["gesture"]}}
    )
    async with McpSkillSource(config) as source:
        skills = {s.name: s for s in await source.skills()}
        assert set(skills) == {"far_pick", "far_wave", "far_hold"}
        assert skills["far_wave"].spec.timeout_s == 2.5
        assert skills["far_wave"].spec.capabilities == ("gesture",)
        assert skills["far_wave"].spec.concurrent is True  # from the server's spec
        assert skills["far_pick"].spec.preconditions == ("hand_empty(robot)",)
        assert (await skills["far_wave"].run({"times": 3}, skill_context("far_wave"))).data == {
            "times": 3
        }


async def test_round_trip_over_streamable_http() -> None:
    agent = ScriptedAgent()
    sock = bind_listener("127.0.0.1", 0, backlog=16)
    port = sock.getsockname()[1]
    serving = asyncio.create_task(
        RobotMcpServer(ROBOT, agent, agent.skills).serve_http(port=port, sock=sock)
    )
    registry = SkillRegistry()
    try:
        config = McpServerConfig(
            name="far", url=f"http://127.0.0.1:{port}/mcp", connect_timeout_s=WAIT_S
        )
        async with McpSkillSource(config) as source:
            skills = await source.skills()
            _assert_same_specs(skills, source="mcp:far")
            for s in skills:
                registry.register(s)
            result = await registry.get("wave").run({"times": 4}, skill_context("wave"))
            assert result.ok and result.data == {"times": 4}

            # cancelling here cancels the skill on the far robot's agent
            ctx = skill_context("hold")
            held = asyncio.create_task(registry.get("hold").run({}, ctx))
            await asyncio.wait_for(agent.started.wait(), WAIT_S)
            ctx.cancel.cancel("operator stop")
            stopped = await asyncio.wait_for(held, WAIT_S)
            assert stopped.error == ErrorCode.cancelled
            # the server hears of it asynchronously (an HTTP notification): wait for it
            await asyncio.wait_for(agent.cancel_seen.wait(), WAIT_S)
            hold_call = next(c for c in agent.calls if c.skill == "hold")
            assert (hold_call.call_id, "cancelled by the MCP client") in agent.cancelled
    finally:
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        sock.close()
    assert [(c.robot, c.skill, c.args) for c in agent.calls] == [
        (ROBOT, "wave", {"times": 4}),
        (ROBOT, "hold", {}),
    ]


async def test_http_headers_reach_the_server() -> None:
    """A server behind a bearer token: the fleet file's `headers` get through, their
    absence is a clear connect error."""
    import uvicorn

    agent = ScriptedAgent()
    app = RobotMcpServer(ROBOT, agent, agent.skills).http_app()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (b"authorization", b"Bearer t0ken") not in scope["headers"]:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"no token"})
            return
        await app(scope, receive, send)

    sock = bind_listener("127.0.0.1", 0, backlog=16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(guarded, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with pytest.raises(ServiceUnavailableError, match="far"):
            await McpSkillSource(McpServerConfig(name="far", url=url)).connect()
        config = McpServerConfig(name="far", url=url, headers={"Authorization": "Bearer t0ken"})
        async with McpSkillSource(config) as source:
            wave = next(s for s in await source.skills() if s.name == "wave")
            assert (await wave.run({"times": 1}, skill_context("wave"))).ok
    finally:
        server.should_exit = True
        await serving
        sock.close()
