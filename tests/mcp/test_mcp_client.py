"""MCP tools as robo-os skills, against a real third-party MCP server (`gripper_server.py`,
plain `mcp` SDK) started over stdio."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

from robo_os.contracts import ErrorCode
from robo_os.errors import ConfigError, ServiceUnavailableError
from robo_os.mcp import McpSkill, McpSkillSource, mcp_servers_from_options
from robo_os.skill.refs import ENTITY_KEY

from .mcp_helpers import GRIPPER_SERVER, gripper_config, skill_context

WAIT_S = 60.0


@pytest.fixture(scope="module")
async def gripper() -> AsyncIterator[McpSkillSource]:
    """One gripper server for the tests that do not kill it."""
    config = gripper_config(
        capabilities=["mcp", "manipulate"],
        tools={
            "grasp": {
                "preconditions": ["hand_empty(robot)"],
                "effects": ["holding(robot, object)"],
                "entities": {"object": ["object"]},
                "timeout_s": 12,
            },
            "open_gripper": {"capabilities": ["gripper"], "concurrent": True},
        },
    )
    async with McpSkillSource(config) as source:
        yield source


async def _skills(source: McpSkillSource) -> dict[str, McpSkill]:
    return {s.name: s for s in await source.skills()}


async def test_tools_become_specs_with_the_tools_schemas(gripper: McpSkillSource) -> None:
    skills = await _skills(gripper)
    assert {"open_gripper", "move_joint", "grasp", "hold_position"} <= set(skills)

    move = skills["move_joint"].spec
    assert move.args_schema["properties"]["joint"]["type"] == "integer"
    assert move.args_schema["properties"]["angle"]["type"] == "number"
    assert sorted(move.args_schema["required"]) == ["angle", "joint"]
    assert move.description.startswith("Move one joint to an absolute angle.")
    assert move.source == "mcp:gripper"
    assert move.capabilities == ("manipulate", "mcp")
    assert move.timeout_s == 30.0

    grasp = skills["grasp"].spec
    assert grasp.preconditions == ("hand_empty(robot)",)
    assert grasp.effects == ("holding(robot, object)",)
    assert grasp.timeout_s == 12.0
    assert grasp.args_schema["properties"]["object"][ENTITY_KEY] == ["object"]
    assert grasp.args_schema["properties"]["object"]["type"] == "string"

    opener = skills["open_gripper"].spec
    assert opener.capabilities == ("gripper",)
    assert opener.concurrent is True


async def test_calls_return_ok_results_with_text_and_structured_data(
    gripper: McpSkillSource,
) -> None:
    skills = await _skills(gripper)

    opened = await skills["open_gripper"].run({}, skill_context("open_gripper"))
    assert opened.ok, opened
    assert opened.data == {"open": True}

    moved = await skills["move_joint"].run({"joint": 2, "angle": 0.5}, skill_context("move_joint"))
    assert moved.ok, moved
    assert moved.message == "joint 2 at 0.50 rad"
    assert moved.started_at is not None and moved.finished_at is not None
    assert moved.started_at <= moved.finished_at

    held = await skills["grasp"].run({"object": "cube"}, skill_context("grasp"))
    assert held.ok and held.data == {"holding": "cube"}


async def test_tool_errors_come_back_as_failed_results(gripper: McpSkillSource) -> None:
    skills = await _skills(gripper)

    bad_joint = await skills["move_joint"].run(
        {"joint": 9, "angle": 0.5}, skill_context("move_joint")
    )
    assert bad_joint.status == "failed"
    assert bad_joint.error == ErrorCode.internal
    assert "no joint 9" in bad_joint.message

    # the tool names a robo-os error code in its structured content
    missing = await skills["grasp"].run({"object": "apple"}, skill_context("grasp"))
    assert missing.error == ErrorCode.not_found
    assert missing.message == "no apple between the fingers"
    assert missing.data["object"] == "apple"

    wrong_args = await skills["move_joint"].run({"joint": "two"}, skill_context("move_joint"))
    assert wrong_args.status == "failed" and "joint" in wrong_args.message


async def test_deadline_ends_the_call_and_cancels_it_on_the_server(gripper: McpSkillSource) -> None:
    skills = await _skills(gripper)
    before = await gripper.call_tool(
        "wait_count", {"key": "cancelled", "at_least": 0}, timeout_s=WAIT_S
    )
    assert before.ok
    base = int(before.data["result"])  # type: ignore[arg-type]

    result = await skills["hold_position"].run({}, skill_context("hold_position", timeout_s=0.5))
    assert result.error == ErrorCode.timeout, result

    # the server saw the cancellation (waits on the server, no sleep here)
    seen = await gripper.call_tool(
        "wait_count", {"key": "cancelled", "at_least": base + 1}, timeout_s=WAIT_S
    )
    assert seen.ok, seen


async def test_cancel_token_cancels_the_call_on_the_server(gripper: McpSkillSource) -> None:
    skills = await _skills(gripper)
    counts = await gripper.call_tool(
        "wait_count", {"key": "started", "at_least": 0}, timeout_s=WAIT_S
    )
    cancelled = await gripper.call_tool(
        "wait_count", {"key": "cancelled", "at_least": 0}, timeout_s=WAIT_S
    )
    started0, cancelled0 = int(counts.data["result"]), int(cancelled.data["result"])  # type: ignore[arg-type]

    ctx = skill_context("hold_position")
    running = asyncio.create_task(skills["hold_position"].run({}, ctx))
    started = await gripper.call_tool(
        "wait_count", {"key": "started", "at_least": started0 + 1}, timeout_s=WAIT_S
    )
    assert started.ok and not running.done()

    ctx.cancel.cancel("operator pressed stop")
    result = await asyncio.wait_for(running, WAIT_S)
    assert result.error == ErrorCode.cancelled
    assert result.message == "operator pressed stop"
    seen = await gripper.call_tool(
        "wait_count", {"key": "cancelled", "at_least": cancelled0 + 1}, timeout_s=WAIT_S
    )
    assert seen.ok, seen


async def test_include_exclude_and_prefix_shape_the_offered_skills() -> None:
    config = gripper_config(
        name="g2",
        include=["open_gripper", "move_joint", "no_such_tool"],
        exclude=["move_joint"],
        prefix="g2_",
    )
    async with McpSkillSource(config) as source:
        skills = await source.skills()
        assert [s.name for s in skills] == ["g2_open_gripper"]
        assert skills[0].tool == "open_gripper"
        assert skills[0].spec.source == "mcp:g2"
        assert skills[0].spec.capabilities == ("mcp",)
        assert (await skills[0].run({}, skill_context("g2_open_gripper"))).ok


async def test_a_server_that_dies_mid_call_gives_a_failed_result_and_is_restarted() -> None:
    async with McpSkillSource(gripper_config()) as source:
        first = await source.call_tool("pid", {}, timeout_s=WAIT_S)
        assert first.ok

        crashed = await source.call_tool("crash", {}, timeout_s=WAIT_S)
        assert crashed.status == "failed"
        assert crashed.error == ErrorCode.robot_offline
        assert "gripper" in crashed.message
        assert not source.connected

        # the next call starts the server again before sending anything
        second = await source.call_tool("pid", {}, timeout_s=WAIT_S)
        assert second.ok, second
        assert second.data["result"] != first.data["result"]
        assert source.connected


async def test_without_reconnect_a_dead_server_keeps_failing_cleanly() -> None:
    async with McpSkillSource(gripper_config(reconnect=False)) as source:
        skills = {s.name: s for s in await source.skills()}
        crashed = await skills["crash"].run({}, skill_context("crash"))
        assert crashed.error == ErrorCode.robot_offline
        again = await skills["open_gripper"].run({}, skill_context("open_gripper"))
        assert again.error == ErrorCode.robot_offline
        assert "gone" in again.message
        with pytest.raises(ServiceUnavailableError):
            await source.skills()


async def test_unreachable_servers_raise_service_unavailable_on_connect(tmp_path: object) -> None:
    missing = gripper_config(name="nothing", command=["/nonexistent/robot-server"])
    with pytest.raises(ServiceUnavailableError, match="nothing"):
        await McpSkillSource(missing).connect()

    # a process that exits before answering the handshake
    quits = gripper_config(
        name="quitter", command=[sys.executable, "-c", "import sys; sys.exit(0)"]
    )
    with pytest.raises(ServiceUnavailableError, match="quitter"):
        await McpSkillSource(quits).connect()

    # nobody listening on that port
    nobody = gripper_config(
        name="nobody", command=None, url="http://127.0.0.1:9/mcp", connect_timeout_s=20
    )
    with pytest.raises(ServiceUnavailableError, match="nobody"):
        await McpSkillSource(nobody).connect()


async def test_calls_before_connect_and_after_close_fail_without_raising() -> None:
    source = McpSkillSource(gripper_config())
    early = await source.call_tool("pid", {}, timeout_s=5)
    assert early.error == ErrorCode.robot_offline and "connect" in early.message
    await source.close()
    late = await source.call_tool("pid", {}, timeout_s=5)
    assert late.error == ErrorCode.robot_offline


def test_fleet_options_name_mcp_servers() -> None:
    assert mcp_servers_from_options("arm1", {}) == []
    one = mcp_servers_from_options(
        "arm1", {"mcp": {"command": f"{sys.executable} {GRIPPER_SERVER}"}}
    )
    assert one[0].name == "arm1"
    assert one[0].command == [sys.executable, str(GRIPPER_SERVER)]
    assert one[0].transport == "stdio"
    two = mcp_servers_from_options(
        "arm1", {"mcp": [{"url": "http://a:1/mcp"}, {"name": "cam", "url": "http://b:2/mcp"}]}
    )
    assert [s.name for s in two] == ["arm1-0", "cam"]
    assert two[0].transport == "streamable-http"

    with pytest.raises(ConfigError, match="exactly one of"):
        mcp_servers_from_options("arm1", {"mcp": {"command": ["x"], "url": "http://a/mcp"}})
    with pytest.raises(ConfigError, match="arm1"):
        mcp_servers_from_options(
            "arm1", {"mcp": {"url": "http://a/mcp", "tools": {"t": {"effects": ["holding(("]}}}}
        )
    with pytest.raises(ConfigError, match="unique"):
        mcp_servers_from_options(
            "arm1",
            {"mcp": [{"name": "a", "url": "http://a/mcp"}, {"name": "a", "url": "http://b/mcp"}]},
        )
