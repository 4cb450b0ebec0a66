"""The RayDispatcher against real Ray actors named like agents: results, deadlines,
unknown robots, and an actor killed mid-call (-> its subtask is reassigned)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from robo_os_memory import Memory

from robo_os.agent_protocol import agent_actor_name
from robo_os.brain.runtime.dispatch import RayDispatcher
from robo_os.brain.runtime.scheduler import Scheduler
from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import SkillCall, TaskEventKind, TaskStatus
from robo_os.errors import DeadlineExceeded, RobotUnavailableError
from robo_os.settings import SchedulerSettings

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import add_robots


def gate_agent_class() -> Any:
    """A tiny async agent actor (defined in a function so Ray ships it by value)."""
    import ray

    @ray.remote(num_cpus=0)
    class GateAgent:
        def __init__(self, auto_ok: bool) -> None:
            self.auto_ok = auto_ok
            self.gates: dict[str, asyncio.Future[Any]] = {}
            self.results: dict[str, Any] = {}
            self.started: asyncio.Queue[str] | None = None
            self.cancels: list[str] = []
            self.runs: list[str] = []

        def _started(self) -> asyncio.Queue[str]:
            if self.started is None:
                self.started = asyncio.Queue()
            return self.started

        async def run(self, wire: Any) -> Any:
            from robo_os.contracts import SkillCall, SkillResult

            call = SkillCall.model_validate(wire)  # RayDispatcher sends JSON-mode data
            self.runs.append(call.call_id)
            if call.call_id in self.results:
                return self.results[call.call_id]
            if self.auto_ok:
                self.results[call.call_id] = SkillResult.success(f"{call.skill} done")
                return self.results[call.call_id]
            gate = self.gates.get(call.call_id)
            if gate is None:
                gate = asyncio.get_running_loop().create_future()
                self.gates[call.call_id] = gate
                self._started().put_nowait(call.call_id)
            return await asyncio.shield(gate)

        async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
            from robo_os.contracts import ErrorCode, SkillResult

            self.cancels.append(call_id)
            gate = self.gates.get(call_id)
            if gate is None or gate.done():
                return False
            gate.set_result(SkillResult.failure(ErrorCode.cancelled, reason))
            return True

        async def wait_started(self) -> str:
            return await self._started().get()

        async def seen(self) -> dict[str, list[str]]:
            return {"runs": self.runs, "cancels": self.cancels}

    return GateAgent


@pytest.fixture
def ray_agents(ray_runtime: Any, key_prefix: str):
    import ray

    namespace = ray.get_runtime_context().namespace
    cls = gate_agent_class()
    made = []

    def spawn(robot: str, *, auto_ok: bool) -> Any:
        # The robot's name carries the test prefix: actor names are global per namespace.
        handle = cls.options(name=agent_actor_name(robot), namespace=namespace).remote(auto_ok)
        made.append(handle)
        return handle

    yield namespace, spawn
    for handle in made:
        ray.kill(handle, no_restart=True)


async def test_ray_dispatcher_results_deadlines_and_unknown_robots(
    ray_agents, key_prefix: str
) -> None:
    namespace, spawn = ray_agents
    fast, slow = f"{key_prefix}-fast", f"{key_prefix}-slow"
    spawn(fast, auto_ok=True)
    gated = spawn(slow, auto_ok=False)
    d = RayDispatcher(namespace, cancel_timeout_s=WAIT_S)
    try:
        result = await d.run(SkillCall(call_id="c1", robot=fast, skill="look"), timeout_s=WAIT_S)
        assert result.ok and result.message == "look done"
        with pytest.raises(DeadlineExceeded):
            await d.run(SkillCall(call_id="c2", robot=slow, skill="pick"), timeout_s=0.5)
        seen = await asyncio.wait_for(gated.seen.remote(), WAIT_S)
        assert seen["cancels"] == ["c2"]  # the late call was cancelled on the agent
        with pytest.raises(RobotUnavailableError, match="no agent actor"):
            await d.run(
                SkillCall(call_id="c3", robot=f"{key_prefix}-ghost", skill="pick"), timeout_s=WAIT_S
            )
        assert await d.cancel(slow, "c2") is False  # already over
        assert d.health()["ok"]
    finally:
        await d.close()


async def test_actor_killed_mid_call_gets_its_subtask_reassigned(
    ray_agents, memory: Memory, redis_url: str, key_prefix: str
) -> None:
    import ray

    namespace, spawn = ray_agents
    r1, r2 = f"{key_prefix}-r1", f"{key_prefix}-r2"
    victim = spawn(r1, auto_ok=False)
    spawn(r2, auto_ok=True)
    await add_robots(memory, r1, r2)
    planner = ScriptedPlanner(
        plans={"go": plan(("a", r1, "pick"), ("b", r1, "place", ["a"]))}, equivalents={r1: [r2]}
    )
    store = await TaskStore.connect(redis_url, key_prefix)
    dispatcher = RayDispatcher(namespace)
    sched = Scheduler(
        store, memory, dispatcher, planner, SchedulerSettings(retry_backoff_s=0.0, rebalance=False)
    )
    await sched.start()
    try:
        task = await sched.submit(instruction="go")
        started = await asyncio.wait_for(victim.wait_started.remote(), WAIT_S)
        assert started == f"{task.id}/a/1"
        ray.kill(victim, no_restart=True)  # the robot's agent dies mid-skill
        done = await store.wait_terminal(task.id, WAIT_S)
        assert done.status == TaskStatus.succeeded, done.error
        assert [(s.robot, s.status.value) for s in done.subtasks] == [
            (r2, "succeeded"),
            (r2, "succeeded"),
        ]
        moved = [
            e for e in await store.events(task.id) if e.kind == TaskEventKind.subtask_reassigned
        ]
        assert moved[0].data["from"] == r1 and "died" in moved[0].message
    finally:
        await sched.close()
        await dispatcher.close()
        await store.close()
