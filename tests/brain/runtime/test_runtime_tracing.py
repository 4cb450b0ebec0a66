"""OpenTelemetry traces: one task gives task → plan → model_call and task → subtask →
skill spans (the skill's from the agent, joined by the call's traceparent), checked with
the SDK's in-memory exporter; a failing skill marks its spans and the task's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from robo_os_memory import Memory
from robo_os_memory.models import PlaceState, Pose

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.settings import AgentSettings, Settings
from robo_os.skill.registry import discover
from robo_os.testing import FakeRobot, Reply, ScriptedModelServer

from .runtime_fakes import WAIT_S
from .runtime_support import TOKEN

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    # the global provider can be set once per process: this module's, shared by its tests
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    if trace.get_tracer_provider().__class__ is not TracerProvider:
        pytest.skip("another tracer provider is installed in this process")
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def by_name(finished: tuple[ReadableSpan, ...], task_id: str) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in finished:
        if (s.attributes or {}).get("robo_os.task_id") == task_id:
            out.setdefault(s.name, []).append(s)
    return out


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@pytest.mark.parametrize("times", [1, 9])  # 9: the skill refuses (times must be 1-5)
async def test_a_task_is_one_trace_from_plan_to_skill(
    spans: InMemorySpanExporter,
    memory: Memory,
    redis_url: str,
    key_prefix: str,
    openai_server_factory: Callable[..., ScriptedModelServer],
    times: int,
) -> None:
    server = openai_server_factory(strict=True)
    server.script(
        Reply.tool_call(
            {"subtasks": [{"id": "s1", "robot": "r1", "skill": "wave", "args": {"times": times}}]}
        )
    )
    await memory.upsert_place(PlaceState(name="hall", kind="room", pose=Pose(x=0.0, y=0.0)))
    robot = FakeRobot("r1", capabilities=("manipulate",), place="hall", places=["hall"])
    agent = CerebellumAgent(robot, memory, discover(), settings=AgentSettings(cancel_grace_s=1.0))
    await agent.start()
    settings = Settings.model_validate(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "api": {"token": TOKEN},
            "scheduler": {"retry_backoff_s": 0.0, "rebalance": False, "max_replans": 0},
            "llm": {"base_url": server.base_url, "model": "fake-model", "mode": "plan"},
        }
    )
    app = create_app(
        settings, memory=memory, dispatcher=LocalDispatcher({"r1": agent}), watch_liveness=False
    )
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://brain",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as c:
                created = await c.post("/v1/tasks", json={"instruction": "greet the visitors"})
                assert created.status_code == 202, created.text
                task = created.json()
                done = (
                    await c.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})
                ).json()
    finally:
        await agent.stop()
    want = "succeeded" if times == 1 else "failed"
    assert done["status"] == want, done.get("error")

    named = by_name(spans.get_finished_spans(), task["id"])
    assert set(named) >= {"task", "plan", "subtask", "skill"}, sorted(named)
    (root,) = named["task"]
    (plan,) = named["plan"]
    (subtask,) = named["subtask"]
    (skill,) = named["skill"]
    calls = [s for s in spans.get_finished_spans() if s.name == "model_call"]
    assert calls, "the model call has its span"
    # one trace, parent by parent
    trace_ids = {s.context.trace_id for s in (root, plan, subtask, skill, *calls)}
    assert trace_ids == {root.context.trace_id}
    assert parent_of(plan) == root.context.span_id
    assert all(parent_of(c) == plan.context.span_id for c in calls)
    assert parent_of(subtask) == root.context.span_id
    assert parent_of(skill) == subtask.context.span_id
    assert (skill.attributes or {})["robo_os.skill"] == "wave"
    assert (calls[0].attributes or {})["gen_ai.usage.output_tokens"] > 0
    assert (root.attributes or {})["robo_os.status"] == want
    if times == 1:
        assert (skill.attributes or {})["robo_os.result"] == "ok"
        assert root.status.is_ok
    else:
        assert (skill.attributes or {})["robo_os.result"] == "invalid_args"
        assert not root.status.is_ok
