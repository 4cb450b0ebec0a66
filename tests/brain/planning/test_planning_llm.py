"""Planning with a model: the real `openai` client over HTTP against the scripted
OpenAI-compatible server (tests/fakes/openai_server.py)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from robo_os.brain.planning.llm import LLMPool
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.contracts import ErrorCode, SkillResult, SubtaskState, SubtaskStatus
from robo_os.errors import ModelUnavailableError
from robo_os.settings import LLMEndpointSettings, LLMSettings
from robo_os.testing import Reply, ScriptedModelServer, tiny_png

from .planning_world import StaticWorld

Factory = Callable[..., ScriptedModelServer]


def st(sid: str, robot: str, skill: str, deps: tuple[str, ...] = (), **args: Any) -> dict[str, Any]:
    return {"id": sid, "robot": robot, "skill": skill, "args": args, "depends_on": list(deps)}


GOOD = {
    "subtasks": [
        st("s1", "mm1", "navigate_to", target="kitchen_counter"),
        st("s2", "mm1", "pick", ("s1",), object="apple"),
        st("s3", "mm1", "navigate_to", ("s2",), target="dining_table"),
        st("s4", "mm1", "place", ("s3",), object="apple", target="dining_table"),
    ]
}
INSTRUCTION = "Bring the apple to the dining table."


def settings(*servers: ScriptedModelServer, **kw: Any) -> LLMSettings:
    first, *rest = servers
    kw.setdefault("timeout_s", 10.0)
    return LLMSettings(
        base_url=first.base_url,
        model="fake-model",
        replicas=[LLMEndpointSettings(base_url=s.base_url) for s in rest],
        **kw,
    )


def planner(
    *servers: ScriptedModelServer, world: StaticWorld | None = None, **kw: Any
) -> BrainPlanner:
    images = kw.pop("images", None)
    fallback = kw.pop("fallback_to_embedded", True)
    return BrainPlanner(
        world or StaticWorld.household(),
        settings(*servers, **kw),
        images=images,
        fallback_to_embedded=fallback,
    )


def last_message(request: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = request["messages"][-1]
    return msg


async def test_good_plan_with_a_forced_tool_call(openai_server: ScriptedModelServer) -> None:
    openai_server.script(Reply.tool_call(GOOD))
    p = planner(openai_server)
    try:
        out = await p.plan("t1", INSTRUCTION)
    finally:
        await p.close()
    assert out.plan is not None and [s.id for s in out.plan.subtasks] == ["s1", "s2", "s3", "s4"]
    assert out.problems == [] and out.model_calls == 1 and out.planner == "llm:fake-model"
    assert out.goal is not None and out.goal["groups"] == [[["on", "apple", "dining_table"]]]
    [req] = openai_server.chat_requests
    assert req["model"] == "fake-model"
    assert req["tool_choice"] == {"type": "function", "function": {"name": "submit_plan"}}
    params = req["tools"][0]["function"]["parameters"]
    assert params["$defs"]["object"]["enum"] == ["apple", "book", "bowl", "cup", "mug", "sponge"]
    system, user = req["messages"]
    assert (
        system["role"] == "system"
        and "ROBOTS" in system["content"]
        and "- arm1 (fixed_arm" in system["content"]
    )
    assert (
        "place apple" not in system["content"]
        and "object apple (apple; colour=red): on kitchen_counter" in system["content"]
    )
    assert user == {"role": "user", "content": f"Instruction: {INSTRUCTION}"}
    assert p.stats.snapshot()["model_calls"] == 1
    snap = p.llm_metrics.snapshot() if p.llm_metrics else {}
    assert snap["calls"] == 1 and snap["prompt_tokens"] == 120 and snap["completion_tokens"] == 40


async def test_malformed_json_is_repaired(openai_server: ScriptedModelServer) -> None:
    openai_server.script(
        Reply.tool_call('{"subtasks": [{"id": "s1", "robot": "mm1"', finish_reason="length"),
        Reply.tool_call(GOOD),
    )
    p = planner(openai_server)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and out.model_calls == 2
    second = openai_server.chat_requests[1]
    assistant, tool = second["messages"][-2:]
    assert (
        assistant["role"] == "assistant"
        and assistant["tool_calls"][0]["function"]["name"] == "submit_plan"
    )
    assert tool["role"] == "tool" and tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert "1. [invalid_json]" in tool["content"] and "truncated" in tool["content"]


@pytest.mark.parametrize(
    ("bad", "code", "needle"),
    [
        (
            {"subtasks": [st("s1", "mm1", "grab", object="apple")]},
            "unknown_skill",
            "unknown skill 'grab'",
        ),
        (
            {"subtasks": [st("s1", "carrier1", "pick", object="apple")]},
            "robot_lacks_capability",
            "carrier1 cannot run pick",
        ),
        (
            {
                "subtasks": [
                    st("s1", "mm1", "navigate_to", ("s2",), target="sink"),
                    st("s2", "mm1", "navigate_to", ("s1",), target="shelf"),
                ]
            },
            "dependency_cycle",
            "s1 → s2 → s1",
        ),
        (
            {
                "subtasks": [
                    st("s1", "mm1", "navigate_to", target="kitchen_counter"),
                    st("s2", "mm1", "pick", ("s1",), object="apple"),
                    st("s3", "mm1", "navigate_to", ("s2",), target="sink"),
                    st("s4", "mm1", "place", ("s3",), object="apple", target="sink"),
                ]
            },
            "goal_not_met",
            "apple is on sink",
        ),
    ],
    ids=["unknown_skill", "wrong_robot", "cycle", "wrong_goal"],
)
async def test_defective_plans_go_back_with_their_problems(
    openai_server: ScriptedModelServer, bad: dict[str, Any], code: str, needle: str
) -> None:
    openai_server.script(Reply.tool_call(bad), Reply.tool_call(GOOD))
    p = planner(openai_server)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and out.model_calls == 2
    feedback = last_message(openai_server.chat_requests[1])["content"]
    assert f"[{code}]" in feedback and needle in feedback


async def test_repair_that_runs_out_fails_with_the_problems(
    openai_server: ScriptedModelServer,
) -> None:
    bad = {"subtasks": [st("s1", "mm1", "pick", object="banana")]}
    openai_server.script(*[Reply.tool_call(bad)] * 3)
    p = planner(openai_server, repair_attempts=2)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is None and out.model_calls == 3 and len(openai_server.chat_requests) == 3
    assert [pr.code for pr in out.problems] == ["unknown_object"]
    assert (
        "banana" in out.problems[0].message and "no valid plan after 3 model answers" in out.message
    )
    assert openai_server.pending == 0


async def test_a_declared_infeasible_instruction_is_not_repaired(
    openai_server: ScriptedModelServer,
) -> None:
    openai_server.script(
        Reply.tool_call({"subtasks": [], "error": "there is no banana in the scene"})
    )
    p = planner(openai_server)
    out = await p.plan("t1", "Bring me the banana")
    await p.close()
    assert out.plan is None and out.model_calls == 1
    assert [(pr.code, pr.message) for pr in out.problems] == [
        ("infeasible", "there is no banana in the scene")
    ]
    assert len(openai_server.chat_requests) == 1


async def test_vision_request_carries_the_camera_images(openai_server: ScriptedModelServer) -> None:
    images = {"arm1": tiny_png(), "mm1": tiny_png(3, 1)}
    calls = 0

    async def cameras() -> dict[str, bytes]:
        nonlocal calls
        calls += 1
        return images

    openai_server.script(Reply.tool_call(GOOD))
    p = planner(openai_server, vision=True, images=cameras)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and calls == 1
    content = openai_server.chat_requests[0]["messages"][1]["content"]
    assert content[0] == {"type": "text", "text": f"Instruction: {INSTRUCTION}"}
    urls = [part["image_url"]["url"] for part in content if part["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/png;base64,") for u in urls)
    assert base64.b64decode(urls[0].split(",", 1)[1]) == images["arm1"]
    assert {"type": "text", "text": "Camera image from mm1:"} in content


async def test_no_images_without_vision_and_a_broken_camera_does_not_stop_planning(
    openai_server: ScriptedModelServer,
) -> None:
    async def broken() -> dict[str, bytes]:
        raise RuntimeError("camera unplugged")

    openai_server.script(Reply.tool_call(GOOD), Reply.tool_call(GOOD))
    for vision in (False, True):
        p = planner(openai_server, vision=vision, images=broken)
        out = await p.plan("t1", INSTRUCTION)
        await p.close()
        assert out.plan is not None
    assert all(isinstance(r["messages"][1]["content"], str) for r in openai_server.chat_requests)


async def test_failover_to_a_second_endpoint(openai_server_factory: Factory) -> None:
    down, up = openai_server_factory(), openai_server_factory()
    down.set_down(True)
    up.script(Reply.tool_call(GOOD))
    p = planner(down, up)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and out.model_calls == 1
    assert len(down.chat_requests) == 1 and len(up.chat_requests) == 1
    assert p.llm_metrics is not None
    snap = p.llm_metrics.snapshot()
    assert (
        snap["endpoints"][down.base_url]["failures"] == 1
        and snap["endpoints"][up.base_url]["calls"] == 1
    )
    assert snap["failovers"] >= 1


async def test_failover_when_an_endpoint_is_gone(openai_server_factory: Factory) -> None:
    gone, up = openai_server_factory(), openai_server_factory()
    gone.stop()  # connection refused
    up.script(Reply.tool_call(GOOD))
    p = planner(gone, up)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None
    health = {h.endpoint: h for h in p.pool.health()} if p.pool else {}
    assert health[gone.base_url].consecutive_failures == 1 and "connection" in (
        health[gone.base_url].last_error or ""
    )


async def test_failover_after_a_timeout(openai_server_factory: Factory) -> None:
    slow, up = openai_server_factory(), openai_server_factory()
    slow.script(Reply.stall())
    up.script(Reply.tool_call(GOOD))
    p = planner(slow, up, timeout_s=1.0)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None
    assert p.llm_metrics is not None and "timed out" in str(p.llm_metrics.recent[0].error)


async def test_all_endpoints_down_falls_back_to_the_embedded_planner(
    openai_server_factory: Factory,
) -> None:
    a, b = openai_server_factory(), openai_server_factory()
    a.set_down(True)
    b.set_down(True)
    p = planner(a, b, max_retries=1)
    out = await p.plan("t1", INSTRUCTION)
    assert out.plan is not None and out.planner == "embedded" and out.model_calls == 0
    assert "model was unavailable" in out.message
    strict = planner(a, b, max_retries=0, fallback_to_embedded=False)
    out = await strict.plan("t2", INSTRUCTION)
    assert out.plan is None and [pr.code for pr in out.problems] == ["model_unavailable"]
    assert a.base_url in out.problems[0].message and "503" in out.problems[0].message
    await p.close()
    await strict.close()


@pytest.mark.parametrize(
    "answer",
    [
        "Here is the plan:\n" + json.dumps(GOOD) + "\nDone.",
        "```json\n" + json.dumps(GOOD, indent=2) + "\n```",
    ],
    ids=["prose", "fenced"],
)
async def test_text_json_path_for_models_without_tool_calling(
    openai_server: ScriptedModelServer, answer: str
) -> None:
    openai_server.script(Reply.text(answer))
    p = planner(openai_server, tool_calling=False)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and out.model_calls == 1
    req = openai_server.chat_requests[0]
    assert "tools" not in req and "tool_choice" not in req
    assert "Reply with ONLY one JSON object" in req["messages"][0]["content"]


async def test_text_repair_turn_is_a_user_message(openai_server: ScriptedModelServer) -> None:
    openai_server.script(Reply.text("I would move the apple."), Reply.text(json.dumps(GOOD)))
    p = planner(openai_server, tool_calling=False)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and out.model_calls == 2
    assistant, user = openai_server.chat_requests[1]["messages"][-2:]
    assert assistant == {"role": "assistant", "content": "I would move the apple."}
    assert user["role"] == "user" and "[invalid_json]" in user["content"]


async def test_a_text_answer_to_a_tool_request_is_still_read(
    openai_server: ScriptedModelServer,
) -> None:
    openai_server.script(Reply.text(json.dumps(GOOD)))
    p = planner(openai_server)
    out = await p.plan("t1", INSTRUCTION)
    await p.close()
    assert out.plan is not None and "instead of calling submit_plan" in out.message


async def test_replan_from_history_and_failure(openai_server: ScriptedModelServer) -> None:
    world = StaticWorld.household()
    world.update_robot("mm1", place="kitchen_counter")
    history = [
        SubtaskState(
            id="s1",
            robot="mm1",
            skill="navigate_to",
            args={"target": "kitchen_counter"},
            status=SubtaskStatus.succeeded,
            result=SkillResult.success("arrived"),
        ),
        SubtaskState(
            id="s2",
            robot="mm1",
            skill="pick",
            args={"object": "apple"},
            depends_on=["s1"],
            status=SubtaskStatus.failed,
            result=SkillResult.failure(ErrorCode.collision, "gripper hit the cup"),
        ),
    ]
    again = {
        "subtasks": [
            st("s2", "mm1", "pick", ("s1",), object="apple"),
            st("s3", "mm1", "navigate_to", ("s2",), target="dining_table"),
            st("s4", "mm1", "place", ("s3",), object="apple", target="dining_table"),
        ]
    }
    openai_server.script(Reply.tool_call(again))
    p = planner(openai_server, world=world)
    out = await p.replan("t1", INSTRUCTION, None, history, "s2 failed: collision")
    await p.close()
    assert out.plan is not None and out.model_calls == 1
    ids = [s.id for s in out.plan.subtasks]
    assert not set(ids) & {"s1", "s2"}
    assert out.plan.subtasks[0].depends_on == [] and out.plan.subtasks[1].depends_on == [ids[0]]
    user = openai_server.chat_requests[0]["messages"][1]["content"]
    assert (
        "s2: mm1 pick" in user
        and "failed (collision): gripper hit the cup" in user
        and "s2 failed: collision" in user
    )
    assert "mm1 (mobile_manipulator" in openai_server.chat_requests[0]["messages"][0]["content"]
    assert "at kitchen_counter" in openai_server.chat_requests[0]["messages"][0]["content"]


async def test_concurrency_limit(openai_server: ScriptedModelServer) -> None:
    openai_server.script(Reply.tool_call(GOOD, delay_s=0.3), Reply.tool_call(GOOD, delay_s=0.3))
    pool = LLMPool(settings(openai_server, max_concurrency=1))
    try:
        await asyncio.gather(
            *(pool.complete([{"role": "user", "content": "hi"}]) for _ in range(2))
        )
    finally:
        await pool.close()
    first, second = openai_server.requests
    # the second request can only leave after the first answer arrived
    assert second.ts - first.ts >= 0.3


async def test_a_rejected_request_is_not_retried_and_does_not_mark_the_endpoint_down(
    openai_server: ScriptedModelServer,
) -> None:
    openai_server.script(Reply.error(400, "tools are not supported"))
    pool = LLMPool(settings(openai_server, max_retries=3))
    with pytest.raises(ModelUnavailableError, match="HTTP 400"):
        await pool.complete([{"role": "user", "content": "hi"}])
    await pool.close()
    assert len(openai_server.chat_requests) == 1
    assert pool.health()[0].healthy


async def test_retry_with_backoff_then_success(openai_server: ScriptedModelServer) -> None:
    openai_server.script(Reply.error(503), Reply.tool_call(GOOD))
    pool = LLMPool(settings(openai_server, max_retries=2), backoff_s=0.01)
    reply = await pool.complete([{"role": "user", "content": "hi"}])
    await pool.close()
    assert reply.tool_name == "submit_plan" and pool.metrics.retries == 1


async def test_an_endpoint_marked_down_is_probed_back(openai_server_factory: Factory) -> None:
    a, b = openai_server_factory(), openai_server_factory()
    now = [0.0]
    a.set_down(True)
    b.default = Reply.text("ok")
    pool = LLMPool(settings(a, b), failure_threshold=1, cooldown_s=30.0, clock=lambda: now[0])
    msg = [{"role": "user", "content": "hi"}]
    await pool.complete(msg)
    assert [h.healthy for h in pool.health()] == [False, True]
    await pool.complete(msg)
    assert len(a.chat_requests) == 1, "a down endpoint in cool-down gets no calls"
    a.set_down(False)
    a.default = Reply.text("back")
    now[0] += 31.0
    replies = [await pool.complete(msg) for _ in range(2)]
    await pool.close()
    assert any(r.endpoint == a.base_url for r in replies)
    assert any(r.path.endswith("/models") for r in a.requests), "it was probed before use"
    assert all(h.healthy for h in pool.health())
