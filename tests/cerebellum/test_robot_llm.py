"""Robot-side LLM mode: the real `openai` client, over HTTP, to a scripted
OpenAI-compatible server; the agent runs the skills the model calls."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from robo_os_example_plugin import wave
from robo_os_memory import Memory

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.cerebellum.robot_llm import RobotLLM
from robo_os.contracts import ErrorCode, SkillCall
from robo_os.settings import AgentSettings, LLMSettings
from robo_os.skill import SkillRegistry
from robo_os.testing import FakeRobot, Reply, ScriptedModelServer

from .agent_skills import AGENT_SKILLS

WAIT_S = 30.0

MakeAgent = Callable[..., Awaitable[CerebellumAgent]]


@pytest.fixture
async def make_agent(memory: Memory, openai_server: ScriptedModelServer) -> AsyncIterator[MakeAgent]:
    made: list[CerebellumAgent] = []

    async def make(*, llm_subtasks: bool = True, max_llm_steps: int = 4) -> CerebellumAgent:
        settings = AgentSettings(
            llm_subtasks=llm_subtasks, max_llm_steps=max_llm_steps, cancel_grace_s=2.0
        )
        llm_settings = LLMSettings(
            base_url=openai_server.base_url, model="fake-model", max_retries=0
        )
        llm = RobotLLM(llm_settings, max_steps=max_llm_steps, timeout_s=60.0)
        robot = FakeRobot(f"r-{uuid.uuid4().hex[:6]}", capabilities={"manipulate"})
        agent = CerebellumAgent(
            robot, memory, SkillRegistry([*AGENT_SKILLS, wave]), settings, llm=llm
        )
        await agent.start()
        made.append(agent)
        return agent

    yield make
    for agent in made:
        await agent.stop()
        if agent.llm is not None:
            await agent.llm.close()


def instruct(agent: CerebellumAgent, text: str, skill: str = "instruct") -> SkillCall:
    return SkillCall(
        call_id=f"i-{uuid.uuid4().hex[:6]}", robot=agent.id, skill=skill, args={"instruction": text}
    )


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


async def test_the_model_calls_skills_then_finishes(
    make_agent: MakeAgent, openai_server: ScriptedModelServer, memory: Memory
) -> None:
    agent = await make_agent()
    robot = await memory.get_robot(agent.id)
    assert robot is not None and "instruct" in robot.skills
    assert (await memory.robot_skills())[agent.id]["instruct"]["args_schema"]["required"] == [
        "instruction"
    ]
    openai_server.script(
        Reply.tool_call({"times": 2}, name="wave"),
        Reply.tool_call({"success": True, "message": "greeted the guest"}, name="finish"),
    )
    result = await asyncio.wait_for(agent.run(instruct(agent, "greet the guest")), WAIT_S)
    assert result.ok and result.message == "greeted the guest"
    assert result.data["model_calls"] == 2
    assert [(s["skill"], s["status"]) for s in result.data["steps"]] == [("wave", "ok")]

    first, second = openai_server.chat_requests
    tools = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert {"wave", "hold", "noop", "finish"} <= set(tools)
    assert tools["wave"]["parameters"]["properties"]["times"]["type"] == "integer"
    assert first["messages"][-1] == {"role": "user", "content": "greet the guest"}
    (tool_reply,) = tool_messages(second)
    assert json.loads(tool_reply["content"])["data"] == {"waves": 2}


async def test_failures_go_back_to_the_model_and_the_loop_is_bounded(
    make_agent: MakeAgent, openai_server: ScriptedModelServer
) -> None:
    agent = await make_agent(max_llm_steps=3)
    openai_server.script(
        Reply.tool_call({"key": "x"}, name="hodl"),
        Reply.tool_call(
            {"success": False, "error": "not_found", "message": "no such skill"}, name="finish"
        ),
    )
    gave_up = await asyncio.wait_for(agent.run(instruct(agent, "hold on")), WAIT_S)
    assert gave_up.error == ErrorCode.not_found and gave_up.message == "no such skill"
    (told,) = tool_messages(openai_server.chat_requests[1])
    assert "did you mean 'hold'" in json.loads(told["content"])["message"]

    openai_server.default = Reply.tool_call({}, name="noop")
    before = len(openai_server.chat_requests)
    endless = await asyncio.wait_for(agent.run(instruct(agent, "keep busy")), WAIT_S)
    assert endless.error == ErrorCode.timeout and "3 model calls" in endless.message
    assert len(openai_server.chat_requests) - before == 3
    assert len(endless.data["steps"]) == 3


async def test_a_skill_name_with_only_an_instruction_is_a_hint(
    make_agent: MakeAgent, openai_server: ScriptedModelServer
) -> None:
    agent = await make_agent()
    openai_server.script(Reply.text("nothing to do"))
    result = await asyncio.wait_for(
        agent.run(instruct(agent, "greet everyone", skill="greet")), WAIT_S
    )
    assert result.ok and result.message == "nothing to do"
    assert "`greet`" in openai_server.chat_requests[0]["messages"][-1]["content"]


async def test_cancel_during_the_model_call(
    make_agent: MakeAgent, openai_server: ScriptedModelServer
) -> None:
    agent = await make_agent()
    openai_server.script(Reply.stall())
    c = instruct(agent, "wait for me")
    job = asyncio.create_task(agent.run(c))
    await openai_server.await_requests(1, WAIT_S)
    assert await agent.cancel(c.call_id, "operator stop")
    result = await asyncio.wait_for(job, WAIT_S)
    assert result.error == ErrorCode.cancelled and result.message == "operator stop"
    openai_server.release()


async def test_model_down_and_mode_off(
    make_agent: MakeAgent, openai_server: ScriptedModelServer
) -> None:
    agent = await make_agent()
    openai_server.set_down()
    down = await asyncio.wait_for(agent.run(instruct(agent, "anything")), WAIT_S)
    assert down.error == ErrorCode.internal and "model failed" in down.message

    off = await make_agent(llm_subtasks=False)
    result = await off.run(instruct(off, "anything"))
    assert result.error == ErrorCode.invalid_args and "unknown skill 'instruct'" in result.message
