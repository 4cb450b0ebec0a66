"""Goal mode, plan mode, constrained output and the chat format, against the scripted
OpenAI-compatible server in strict mode (it refuses what llama.cpp's server refuses),
driven by the real `openai` client over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from robo_os.brain.planning.planner import BrainPlanner
from robo_os.settings import LLMSettings
from robo_os.testing import Reply, ScriptedModelServer
from robo_os.testing.model import validate_chat_request
from robo_os.testing.scenes import generated_scene

from .planning_world import StaticWorld, offered_skills

Factory = Callable[..., ScriptedModelServer]


def st(sid: str, robot: str, skill: str, deps: tuple[str, ...] = (), **args: Any) -> dict[str, Any]:
    return {"id": sid, "robot": robot, "skill": skill, "args": args, "depends_on": list(deps)}


def carry(robot: str, obj: str, src: str, dst: str) -> list[dict[str, Any]]:
    return [
        st("s1", robot, "navigate_to", target=src),
        st("s2", robot, "pick", ("s1",), object=obj),
        st("s3", robot, "navigate_to", ("s2",), target=dst),
        st("s4", robot, "place", ("s3",), object=obj, target=dst),
    ]


def depot() -> StaticWorld:
    """A generated scene of our own: mob0 at p0, car1 and fix2 at p1, mob3 at p4;
    o0 and o1 on p0, o2 and o3 on p3."""
    robots, objects, places, _ = generated_scene(3, robots=4, places=5, objects=4)
    return StaticWorld(robots, objects, places, offered_skills(robots))


def planner(
    server: ScriptedModelServer, world: StaticWorld | None = None, **kw: Any
) -> BrainPlanner:
    kw.setdefault("timeout_s", 10.0)
    kw.setdefault("max_retries", 0)
    settings = LLMSettings(base_url=server.base_url, model="fake-model", **kw)
    return BrainPlanner(world or StaticWorld.household(), settings)


@pytest.fixture
def strict(openai_server_factory: Factory) -> ScriptedModelServer:
    return openai_server_factory(strict=True)


# -- goal mode ------------------------------------------------------------------------------


async def test_goal_mode_the_model_names_the_goal_and_the_embedded_planner_plans_it(
    strict: ScriptedModelServer,
) -> None:
    strict.script(
        Reply.tool_call({"facts": [["on", "o2", "p4"]], "avoid": ["mob0"]}, name="submit_goal")
    )
    p = planner(strict, depot(), mode="goal")
    try:
        out = await p.plan("t1", "Bring the second box to the last table, but not with mob0.")
    finally:
        await p.close()
    assert out.plan is not None, out.message
    assert out.planner == "llm:fake-model+embedded" and out.model_calls == 1
    assert out.goal is not None and out.goal["groups"] == [[["on", "o2", "p4"]]]
    assert out.goal["avoid"] == ["mob0"]
    assert "mob0" not in {s.robot for s in out.plan.subtasks}
    assert strict.rejected == []
    [req] = strict.chat_requests
    [tool] = req["tools"]
    assert tool["function"]["name"] == "submit_goal"
    assert req["tool_choice"] == {"type": "function", "function": {"name": "submit_goal"}}
    params = tool["function"]["parameters"]
    assert params["properties"]["avoid"]["items"]["enum"] == ["car1", "fix2", "mob0", "mob3"]
    on = next(
        v
        for v in params["properties"]["facts"]["items"]["anyOf"]
        if v["prefixItems"][0]["const"] == "on"
    )
    assert on["prefixItems"][1]["enum"] == ["o0", "o1", "o2", "o3"]
    assert set(on["prefixItems"][2]["enum"]) >= {"p0", "p4", "o0", "car1"}
    assert "GOAL LANGUAGE" in req["messages"][0]["content"]
    assert "SKILLS" not in req["messages"][0]["content"]  # goal mode does not ask for a plan


async def test_goal_mode_in_text_mode_sends_the_goal_schema_as_response_format(
    strict: ScriptedModelServer,
) -> None:
    strict.script(Reply.text('{"facts": [["on", "cup", "dining_table"]]}'))
    p = planner(strict, mode="goal", tool_calling=False)
    try:
        out = await p.plan("t1", "Stell die Tasse auf den Esstisch.")  # not for the embedded parser
    finally:
        await p.close()
    assert out.plan is not None and out.goal is not None
    assert out.goal["groups"] == [[["on", "cup", "dining_table"]]]
    [req] = strict.chat_requests
    assert "tools" not in req
    fmt = req["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "submit_goal"
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["keep"]["items"]["enum"] == [
        "apple",
        "book",
        "bowl",
        "cup",
        "mug",
        "sponge",
    ]


async def test_goal_mode_repair_after_a_tool_call_is_accepted_by_the_strict_server(
    strict: ScriptedModelServer,
) -> None:
    strict.script(
        Reply.tool_call({"facts": [["on", "teacup", "dining_table"]]}, name="submit_goal"),
        Reply.tool_call({"facts": [["on", "cup", "dining_table"]]}, name="submit_goal"),
    )
    p = planner(strict, mode="goal")
    try:
        out = await p.plan("t1", "Put the teacup on the dining table.")
    finally:
        await p.close()
    assert out.plan is not None and out.model_calls == 2, out.message
    assert strict.rejected == []
    second = strict.chat_requests[1]["messages"]
    assistant, tool = second[-2:]
    assert assistant["role"] == "assistant" and assistant["content"] == ""
    assert tool == {
        "role": "tool",
        "tool_call_id": assistant["tool_calls"][0]["id"],
        "content": tool["content"],
    }
    assert (
        "unknown object 'teacup'" in tool["content"] and "Your goal was rejected" in tool["content"]
    )


async def test_goal_mode_a_goal_the_planner_cannot_reach_goes_back_with_the_reason(
    strict: ScriptedModelServer,
) -> None:
    # the only robots that could reach o2 on p3 are avoided: unplannable, then refused
    goal = {"facts": [["on", "o2", "p4"]], "use": ["fix2"]}
    strict.script(*[Reply.tool_call(goal, name="submit_goal")] * 2)
    p = planner(strict, depot(), mode="goal", repair_attempts=1)
    try:
        out = await p.plan("t1", "move o2 to p4 using only the fixed arm")
    finally:
        await p.close()
    assert out.plan is None and out.model_calls == 2
    assert out.goal is not None and out.goal["use"] == ["fix2"]
    assert all(p.message.startswith("the planner cannot reach this goal") for p in out.problems)
    assert (
        "the planner cannot reach this goal" in strict.chat_requests[1]["messages"][-1]["content"]
    )
    assert strict.rejected == []


# -- plan mode ------------------------------------------------------------------------------


async def test_plan_mode_a_plan_that_misses_its_goal_is_repaired(
    strict: ScriptedModelServer,
) -> None:
    goal = {"facts": [["on", "o2", "p4"]]}
    strict.script(
        Reply.tool_call({"goal": goal, "subtasks": carry("mob3", "o2", "p3", "p1")}),
        Reply.tool_call({"goal": goal, "subtasks": carry("mob3", "o2", "p3", "p4")}),
    )
    p = planner(strict, depot(), mode="plan")
    try:
        out = await p.plan("t1", "Bring o2 over to p4.")
    finally:
        await p.close()
    assert out.plan is not None and out.model_calls == 2, out.message
    assert out.goal is not None and out.goal["groups"] == [[["on", "o2", "p4"]]]
    feedback = strict.chat_requests[1]["messages"][-1]
    assert feedback["role"] == "tool" and "[goal_not_met]" in feedback["content"]
    assert "on(o2, p4)" in feedback["content"]
    params = strict.chat_requests[0]["tools"][0]["function"]["parameters"]
    assert "goal" in params["required"] and "subtasks" in params["required"]
    assert strict.rejected == []


async def test_plan_mode_refuses_a_plan_that_never_reaches_the_goal_naming_the_fact(
    strict: ScriptedModelServer,
) -> None:
    answer = {"goal": {"facts": [["on", "o2", "p4"]]}, "subtasks": carry("mob3", "o2", "p3", "p1")}
    strict.script(*[Reply.text(json.dumps(answer))] * 2)
    p = planner(strict, depot(), mode="plan", tool_calling=False, repair_attempts=1)
    try:
        out = await p.plan("t1", "Bring o2 over to p4.")
    finally:
        await p.close()
    assert out.plan is None and out.model_calls == 2
    [miss] = [q for q in out.problems if q.code == "goal_not_met"]
    assert "on(o2, p4)" in miss.message and "on(o2, p4)" in out.message
    fmt = strict.chat_requests[0]["response_format"]
    assert fmt["json_schema"]["name"] == "submit_plan"
    assert fmt["json_schema"]["schema"]["properties"]["goal"]["properties"]["facts"]
    # the repair turn in text mode: the answer as assistant text, the problems as user text
    assistant, user = strict.chat_requests[1]["messages"][-2:]
    assert assistant == {"role": "assistant", "content": json.dumps(answer)}
    assert user["role"] == "user" and "[goal_not_met]" in user["content"]
    assert strict.rejected == []


async def test_plan_mode_a_plan_using_a_robot_the_goal_avoids_is_repaired(
    strict: ScriptedModelServer,
) -> None:
    goal = {"facts": [["on", "o2", "p4"]], "avoid": ["mob0"]}
    strict.script(
        Reply.tool_call({"goal": goal, "subtasks": carry("mob0", "o2", "p3", "p4")}),
        Reply.tool_call({"goal": goal, "subtasks": carry("mob3", "o2", "p3", "p4")}),
    )
    p = planner(strict, depot(), mode="plan")
    try:
        out = await p.plan("t1", "Take o2 to p4 without mob0.")
    finally:
        await p.close()
    assert out.plan is not None and {s.robot for s in out.plan.subtasks} == {"mob3"}
    assert out.goal is not None and out.goal["avoid"] == ["mob0"]
    feedback = strict.chat_requests[1]["messages"][-1]["content"]
    assert "[constraint_broken] subtask s1 uses mob0, but the goal says to avoid mob0" in feedback
    assert strict.rejected == []


async def test_plan_mode_moving_an_object_the_goal_keeps_is_refused(
    strict: ScriptedModelServer,
) -> None:
    # "everything on p0 except o1 to p4": o0 goes, o1 stays; the plan moves o1 instead
    goal = {"facts": [["on", "o0", "p4"]], "keep": ["o1"]}
    wrong = [
        *carry("mob0", "o0", "p0", "p4"),
        st("s5", "mob0", "navigate_to", ("s4",), target="p0"),
        st("s6", "mob0", "pick", ("s5",), object="o1"),
        st("s7", "mob0", "navigate_to", ("s6",), target="p4"),
        st("s8", "mob0", "place", ("s7",), object="o1", target="p4"),
    ]
    strict.script(*[Reply.tool_call({"goal": goal, "subtasks": wrong})] * 2)
    p = planner(strict, depot(), mode="plan", repair_attempts=1)
    try:
        out = await p.plan("t1", "Everything on p0 except o1 to p4.")
    finally:
        await p.close()
    assert out.plan is None
    broken = [q.message for q in out.problems if q.code == "constraint_broken"]
    assert broken == ["subtask s6 (pick) moves o1, but the goal says to keep o1 where it is"]


async def test_plan_mode_without_a_goal_is_checked_against_the_instruction(
    strict: ScriptedModelServer,
) -> None:
    plan = carry("mm1", "apple", "kitchen_counter", "sink")
    strict.script(*[Reply.tool_call({"subtasks": plan})] * 2)
    p = planner(strict, mode="plan", repair_attempts=1)
    try:
        out = await p.plan("t1", "Bring the apple to the dining table.")
    finally:
        await p.close()
    assert out.plan is None and any(q.code == "goal_not_met" for q in out.problems)
    assert out.goal is not None and out.goal["groups"] == [[["on", "apple", "dining_table"]]]


async def test_per_task_mode_overrides_the_settings(strict: ScriptedModelServer) -> None:
    strict.script(Reply.tool_call({"facts": [["on", "cup", "sink"]]}, name="submit_goal"))
    p = planner(strict, mode="plan")
    try:
        out = await p.plan("t1", "the cup into the sink", mode="goal")
    finally:
        await p.close()
    assert out.plan is not None and out.planner == "llm:fake-model+embedded"


# -- constrained output and its fallback ---------------------------------------------------


async def test_a_server_refusing_the_json_schema_gets_requests_without_it_remembered(
    openai_server_factory: Factory,
) -> None:
    server = openai_server_factory(strict=True, json_schema=False)
    server.script(
        Reply.text('{"facts": [["on", "book", "dining_table"]]}'),
        Reply.text('{"facts": [["on", "mug", "dining_table"]]}'),
    )
    p = planner(server, mode="goal", tool_calling=False)
    try:
        first = await p.plan("t1", "book to the dining table")
        second = await p.plan("t2", "mug to the dining table")
        health = p.pool.health() if p.pool else []
        snap = p.llm_metrics.snapshot() if p.llm_metrics else {}
    finally:
        await p.close()
    assert first.plan is not None and second.plan is not None
    assert "refused the request" in first.message and "without the JSON schema" in first.message
    requests = server.chat_requests
    # json_schema refused, llama-cpp-python's json_object form refused, then never again
    assert len(requests) == 4
    assert requests[0]["response_format"]["type"] == "json_schema"
    assert requests[1]["response_format"]["type"] == "json_object"
    assert requests[1]["response_format"]["schema"]["required"] == ["facts"]
    assert "response_format" not in requests[2] and "response_format" not in requests[3]
    assert len(server.rejected) == 2 and "json_schema" in server.rejected[0][0]
    [ep] = health
    assert ep.healthy and ep.consecutive_failures == 0 and ep.adaptations == ("no_json_schema",)
    assert snap["request_errors"] == 2 and snap["format_fallbacks"] == 2


async def test_llama_cpp_pythons_json_object_schema_form_is_used_when_json_schema_is_refused(
    strict: ScriptedModelServer,
) -> None:
    # llama-cpp-python 0.3.x knows response_format {"type": "json_object", "schema": ...} only
    strict.script(
        Reply.error(
            500,
            "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
            "  Input should be 'text' or 'json_object'",
        ),
        Reply.text('{"facts": [["on", "mug", "sink"]]}'),
    )
    p = planner(strict, mode="goal", tool_calling=False)
    try:
        out = await p.plan("t1", "mug into the sink")
        health = p.pool.health() if p.pool else []
    finally:
        await p.close()
    assert out.plan is not None and "json_object" in out.message
    fmt = strict.chat_requests[1]["response_format"]
    assert fmt["type"] == "json_object" and "mug" in json.dumps(fmt["schema"])
    assert health[0].healthy and health[0].adaptations == ("json_object_schema",)


async def test_tool_parameters_lose_their_enums_when_the_server_refuses_them(
    openai_server_factory: Factory,
) -> None:
    server = openai_server_factory(strict=True, json_schema=False)
    server.script(Reply.tool_call({"facts": [["on", "book", "sink"]]}, name="submit_goal"))
    p = planner(server, mode="goal")
    try:
        out = await p.plan("t1", "book into the sink")
    finally:
        await p.close()
    assert out.plan is not None, out.message
    first, second = server.chat_requests
    assert "anyOf" in json.dumps(first["tools"][0]["function"]["parameters"])
    plain = json.dumps(second["tools"][0]["function"]["parameters"])
    assert "enum" not in plain and "anyOf" not in plain and '"facts"' in plain


async def test_constrained_output_off_sends_no_schema(strict: ScriptedModelServer) -> None:
    strict.script(Reply.text('{"facts": [["on", "book", "sink"]]}'))
    p = planner(strict, mode="goal", tool_calling=False, constrained_output=False)
    try:
        out = await p.plan("t1", "book into the sink")
    finally:
        await p.close()
    assert out.plan is not None and "response_format" not in strict.chat_requests[0]


# -- request-format errors are not outages --------------------------------------------------


async def test_a_server_refusing_tool_turns_gets_the_repair_as_plain_text(
    openai_server_factory: Factory,
) -> None:
    server = openai_server_factory(strict=True, tool_messages=False)
    server.script(
        Reply.tool_call({"facts": [["on", "teacup", "sink"]]}, name="submit_goal"),
        Reply.tool_call({"facts": [["on", "cup", "sink"]]}, name="submit_goal"),
    )
    p = planner(server, mode="goal")
    try:
        out = await p.plan("t1", "the teacup into the sink")
        health = p.pool.health() if p.pool else []
    finally:
        await p.close()
    assert out.plan is not None and out.model_calls == 2, out.message
    assert "earlier tool-call turns as plain text" in out.message
    [refusal] = server.rejected
    assert any("Input should be 'system', 'user', 'assistant'" in e for e in refusal)
    plain = server.chat_requests[2]["messages"]
    assert [m["role"] for m in plain] == ["system", "user", "assistant", "user"]
    assert "teacup" in plain[2]["content"] and "unknown object 'teacup'" in plain[3]["content"]
    assert health[0].healthy and health[0].consecutive_failures == 0


async def test_a_validation_500_is_a_request_error_not_an_outage(
    openai_server_factory: Factory,
) -> None:
    refusal = "7 validation errors for CreateChatCompletionRequest\nmessages.2.role\n  Input should be 'system'"
    server = openai_server_factory(default=Reply.error(500, refusal))
    p = planner(server, mode="plan", max_retries=2)
    try:
        out = await p.plan("t1", "Bring the apple to the dining table.")
        health = p.pool.health() if p.pool else []
        snap = p.llm_metrics.snapshot() if p.llm_metrics else {}
    finally:
        await p.close()
    # every format was tried once (tools, then text mode): no retries, not marked down
    assert len(server.chat_requests) == 2 and "tools" not in server.chat_requests[1]
    assert health[0].healthy and health[0].consecutive_failures == 0
    assert snap["retries"] == 0 and snap["request_errors"] == 2
    # the embedded planner steps in (the instruction is one it reads), saying why
    assert out.plan is not None and out.planner == "embedded"
    assert "refused the request's format" in out.message


async def test_a_plain_500_still_marks_the_endpoint_down(openai_server_factory: Factory) -> None:
    server = openai_server_factory(default=Reply.error(500, "CUDA out of memory"))
    p = planner(server, mode="plan", max_retries=1)
    try:
        out = await p.plan("t1", "Bring the apple to the dining table.")
        health = p.pool.health() if p.pool else []
    finally:
        await p.close()
    assert not health[0].healthy
    assert out.planner == "embedded" and "model was unavailable" in out.message


async def test_request_refused_everywhere_without_a_fallback_is_reported(
    openai_server_factory: Factory,
) -> None:
    server = openai_server_factory(default=Reply.error(400, "messages: Field required"))
    p = planner(server, mode="goal")
    p.fallback_to_embedded = False
    try:
        out = await p.plan("t1", "Bring the apple to the dining table.")
    finally:
        await p.close()
    assert out.plan is None
    [problem] = out.problems
    assert problem.code == "model_request_rejected" and "Field required" in problem.message


# -- what strict mode refuses ------------------------------------------------------------


def _call(call_id: str = "call_1") -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "submit_plan", "arguments": "{}"},
    }


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        (
            [{"role": "user", "content": "hi"}, {"role": "system", "content": "s"}],
            "only allowed first",
        ),
        ([{"role": "developer", "content": "x"}], "messages.0.role: Input should be"),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": None, "tool_calls": [_call()]},
            ],
            "messages.1.content: Input should be a valid string",
        ),
        (
            [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [_call()]}],
            "messages.1.content: Field required",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": "", "tool_calls": [_call()]},
                {"role": "user", "content": "feedback"},
            ],
            "have no tool result message",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "call_9", "content": "r"},
            ],
            "answers no tool call",
        ),
        ([{"role": "user", "content": [{"type": "audio"}]}], "text or image_url content part"),
    ],
)
def test_strict_mode_refuses_what_llama_cpp_refuses(
    messages: list[dict[str, Any]], needle: str
) -> None:
    errors = validate_chat_request({"model": "m", "messages": messages})
    assert any(needle in e for e in errors), errors


def test_strict_mode_accepts_a_well_formed_repair_conversation() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "", "tool_calls": [_call("a"), _call("b")]},
            {"role": "tool", "tool_call_id": "b", "content": "r"},
            {"role": "tool", "tool_call_id": "a", "content": "r"},
            {"role": "user", "content": "more"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "submit_plan", "parameters": {"type": "object"}},
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "submit_plan"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
    }
    assert validate_chat_request(body) == []
    body["response_format"] = {"type": "json_schema", "json_schema": {"schema": []}}
    body["tool_choice"] = {"type": "function", "function": {"name": "other"}}
    errors = validate_chat_request(body)
    assert len(errors) == 3 and any("name: Field required" in e for e in errors)


async def test_goal_mode_replans_toward_the_stored_goal_without_the_model(
    strict: ScriptedModelServer,
) -> None:
    p = planner(strict, depot(), mode="goal")
    goal = {"kind": "goal", "groups": [[["on", "o2", "p4"]]], "avoid": ["mob3"]}
    try:
        out = await p.replan("t1", "o2 to p4 but not with mob3", goal, [], "mob0 stalled")
    finally:
        await p.close()
    assert out.plan is not None and out.planner == "embedded"
    assert "mob3" not in {s.robot for s in out.plan.subtasks}
    assert strict.chat_requests == []


async def test_plan_mode_replan_keeps_the_stored_goal(strict: ScriptedModelServer) -> None:
    # the model's answer names another goal; the task's stored goal is what it is checked against
    strict.script(
        Reply.tool_call(
            {"goal": {"facts": [["on", "o2", "p1"]]}, "subtasks": carry("mob3", "o2", "p3", "p1")}
        ),
        Reply.tool_call(
            {"goal": {"facts": [["on", "o2", "p1"]]}, "subtasks": carry("mob3", "o2", "p3", "p4")}
        ),
    )
    p = planner(strict, depot(), mode="plan")
    goal = {"kind": "goal", "groups": [[["on", "o2", "p4"]]]}
    try:
        out = await p.replan("t1", "o2 to p4", goal, [], "the first plan failed")
    finally:
        await p.close()
    assert out.plan is not None and out.model_calls == 2
    assert out.goal is not None and out.goal["groups"] == [[["on", "o2", "p4"]]]
