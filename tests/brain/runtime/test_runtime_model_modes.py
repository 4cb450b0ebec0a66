"""The per-task model mode over the REST API: POST /v1/tasks {"mode": "goal"} with the
real planner, the real `openai` client and the strict scripted model server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from robo_os_memory import Memory

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import SkillResult
from robo_os.settings import Settings
from robo_os.testing import Reply, ScriptedAgent, ScriptedModelServer

from .runtime_fakes import WAIT_S
from .runtime_support import TOKEN
from .test_runtime_with_planner import household


async def test_a_task_in_goal_mode_is_planned_from_the_models_goal(
    fleet: Any,
    memory: Memory,
    redis_url: str,
    key_prefix: str,
    openai_server_factory: Callable[..., ScriptedModelServer],
) -> None:
    server = openai_server_factory(strict=True)
    server.script(Reply.tool_call({"facts": [["on", "apple", "dining_table"]]}, name="submit_goal"))
    await household(memory)
    f = await fleet("arm1", "mm1")

    async def act(agent: ScriptedAgent) -> None:
        # the robots do what they are asked: a place puts the object where it says
        while True:
            call = await agent.next_call(timeout_s=3600)
            if call.skill in ("place", "deliver"):
                await memory.update_object(str(call.args["object"]), on=str(call.args["target"]))
            agent.finish(call.call_id, SkillResult.success(f"{call.skill} done"))

    robots = [asyncio.create_task(act(a)) for a in f.agents.values()]
    settings = Settings.model_validate(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "api": {"token": TOKEN},
            "scheduler": {"retry_backoff_s": 0.0, "rebalance": False},
            "agent": {"cancel_grace_s": 1.0},
            "llm": {"base_url": server.base_url, "model": "fake-model", "mode": "plan"},
        }
    )
    app = create_app(
        settings, memory=memory, dispatcher=LocalDispatcher(f.agents), watch_liveness=False
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://brain",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as c:
            bad = await c.post("/v1/tasks", json={"instruction": "the apple", "mode": "guess"})
            assert bad.status_code == 422 and "mode" in bad.text
            # not an instruction the embedded parser reads: only the model's goal plans it
            task = (
                await c.post(
                    "/v1/tasks",
                    json={"instruction": "le pomme sur la table à manger", "mode": "goal"},
                )
            ).json()
            done = (await c.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})).json()
    for r in robots:
        r.cancel()
    await asyncio.gather(*robots, return_exceptions=True)
    assert done["status"] == "succeeded", done.get("error")
    assert [s["skill"] for s in done["subtasks"]][-1] in ("place", "deliver")
    # the model's goal is the task's goal, and success was checked against it
    assert done["goal"]["groups"] == [[["on", "apple", "dining_table"]]]
    assert done["goal_source"] == "llm:fake-model+embedded"
    [req] = server.chat_requests
    assert req["tools"][0]["function"]["name"] == "submit_goal"
    assert server.rejected == []
