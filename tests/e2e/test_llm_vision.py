"""The model path end to end: a vision model (scripted OpenAI-compatible server, real
`openai` client over HTTP) gets the robots' real camera images, answers a defective plan,
repairs it from the checker's problems, and the two-robot relay it plans runs in physics."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from robo_os.testing import Reply, ScriptedModelServer

pytestmark = pytest.mark.slow

RELAY = {
    "subtasks": [
        {
            "id": "s1",
            "robot": "carrier1",
            "skill": "navigate_to",
            "args": {"target": "kitchen_counter"},
            "depends_on": [],
        },
        {
            "id": "s2",
            "robot": "arm1",
            "skill": "pick",
            "args": {"object": "apple"},
            "depends_on": [],
        },
        {
            "id": "s3",
            "robot": "arm1",
            "skill": "place",
            "args": {"object": "apple", "target": "carrier1"},
            "depends_on": ["s1", "s2"],
        },
        {
            "id": "s4",
            "robot": "carrier1",
            "skill": "navigate_to",
            "args": {"target": "dining_table"},
            "depends_on": ["s3"],
        },
        {
            "id": "s5",
            "robot": "carrier1",
            "skill": "deliver",
            "args": {"object": "apple", "target": "dining_table"},
            "depends_on": ["s4"],
        },
    ]
}


def _images(request: dict[str, Any]) -> list[str]:
    urls = []
    for message in request["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            urls += [
                part["image_url"]["url"] for part in content if part.get("type") == "image_url"
            ]
    return urls


async def test_vision_model_plans_a_relay_with_repair(
    make_stack: Any, openai_server: ScriptedModelServer
) -> None:
    bad = json.loads(json.dumps(RELAY))
    bad["subtasks"][1]["skill"] = (
        "grab"  # not a skill: the checker must say so and the model repair it
    )
    openai_server.script(Reply.tool_call(bad), Reply.tool_call(RELAY))
    _, client = await make_stack(
        llm={"base_url": openai_server.base_url, "model": "scripted-vlm", "vision": True}
    )

    r = await client.post(
        "/v1/tasks", json={"instruction": "Use the carrier to bring the apple to the dining table."}
    )
    assert r.status_code == 202, r.text
    task = (
        await client.get(f"/v1/tasks/{r.json()['id']}/wait", params={"timeout": 240}, timeout=260)
    ).json()
    assert task["status"] == "succeeded", task
    assert task["model_calls"] == 2  # one plan + one repair; the robots asked no model at all
    assert [s["robot"] for s in task["subtasks"]].count("carrier1") == 3

    first, repair = openai_server.chat_requests[:2]
    images = _images(first)
    assert len(images) >= 2  # arm1 and mm1 carry cameras in the household scene
    for url in images:
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "grab" in json.dumps(repair["messages"][len(first["messages"]) :])

    apple = (await client.get("/v1/memory/objects/apple")).json()
    assert apple["on"] == "dining_table", apple

    # the brain recorded both model calls with their tokens (the scripted server reports 120 + 40 each)
    metrics = (await client.get("/v1/metrics")).json()
    llm = metrics["llm"]["metrics"]
    assert llm["calls"] == 2 and llm["failures"] == 0
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (240, 80)
    assert llm["latency_s"]["p50"] is not None
    assert [e["healthy"] for e in metrics["llm"]["endpoints"]] == [True]
    assert metrics["planner"]["name"] == "llm:scripted-vlm"
