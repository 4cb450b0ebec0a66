"""Helpers of the console tests: a brain app with one in-test robot, and what the tests
read out of the console's own files (kept out of conftest.py: test modules import them)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import httpx
from robo_os_memory import Memory

from robo_os.brain.planning.interface import PlanningOutcome
from robo_os.contracts import (
    ErrorCode,
    Plan,
    PlanProblem,
    SkillCall,
    SkillResult,
    Subtask,
    SubtaskState,
)

TOKEN = "console-test-token-0123456789"
WAIT_S = 20.0
"""Generous deadline for anything a test waits on (the machine is shared)."""

TWO_STEPS = "pick the apple then place it"
"""An instruction the planner below turns into s1 (pick) -> s2 (place) on robot r1."""


@dataclass
class Brain:
    """The brain app with its lifespan running and an in-process client on it."""

    app: Any
    client: httpx.AsyncClient
    """Sends no token by default: each test says what it sends."""
    agent: GatedAgent
    memory: Memory


def console_text(name: str) -> str:
    return resources.files("robo_os.brain.api.console").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class JsRoute:
    name: str
    method: str
    path: str
    query: tuple[str, ...]


_ROUTE = re.compile(
    r'(\w+):\s*\{\s*method:\s*"(\w+)",\s*path:\s*"([^"]+)"'
    r"(?:,\s*query:\s*\[([^\]]*)\])?\s*\}"
)


def js_routes(js: str) -> list[JsRoute]:
    """The console's API table (`export const API = {...}` in console.js)."""
    table = js[js.index("export const API") : js.index("});", js.index("export const API"))]
    return [
        JsRoute(m[1], m[2], m[3], tuple(re.findall(r'"([^"]+)"', m[4] or "")))
        for m in _ROUTE.finditer(table)
    ]


def js_string_constant(js: str, name: str) -> str:
    m = re.search(rf'const {name} = "([^"]*)";', js)
    assert m is not None, f"console.js has no string constant {name}"
    return m[1]


class GatedAgent:
    """An AgentHandle whose calls end when the test says (`finish`) or when cancelled;
    `started` tells the test which call began."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[SkillCall] = asyncio.Queue()
        self.cancelled: list[str] = []
        self._gates: dict[str, asyncio.Future[SkillResult]] = {}

    async def run(self, call: SkillCall) -> SkillResult:
        gate = self._gates.get(call.call_id)
        if gate is None:
            gate = asyncio.get_running_loop().create_future()
            self._gates[call.call_id] = gate
            self.started.put_nowait(call)
        return await asyncio.shield(gate)

    def finish(self, call_id: str) -> None:
        gate = self._gates[call_id]
        if not gate.done():
            gate.set_result(SkillResult.success(f"{call_id} done", data={"note": "<b>ok</b>"}))

    def finish_all(self) -> None:
        for call_id in list(self._gates):
            self.finish(call_id)

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        self.cancelled.append(call_id)
        gate = self._gates.get(call_id)
        if gate is None or gate.done():
            return False
        gate.set_result(SkillResult.failure(ErrorCode.cancelled, reason))
        return True


@dataclass
class OnePlanPlanner:
    """Plans TWO_STEPS (any other instruction is infeasible); checks nothing."""

    plans: dict[str, Plan] = field(
        default_factory=lambda: {
            TWO_STEPS: Plan(
                subtasks=[
                    Subtask(id="s1", robot="r1", skill="pick", args={"obj": "apple"}),
                    Subtask(
                        id="s2",
                        robot="r1",
                        skill="place",
                        args={"obj": "apple", "on": "table"},
                        depends_on=["s1"],
                    ),
                ]
            )
        }
    )

    async def plan(self, task_id: str, instruction: str) -> PlanningOutcome:
        plan = self.plans.get(instruction)
        if plan is None:
            problem = PlanProblem(code="infeasible", message=f"no plan for {instruction!r}")
            return PlanningOutcome(plan=None, problems=[problem], planner="scripted")
        return PlanningOutcome(plan=plan, model_calls=1, planner="scripted")

    async def check(self, plan: Plan) -> list[PlanProblem]:
        return []

    async def replan(
        self,
        task_id: str,
        instruction: str | None,
        goal: dict[str, Any] | None,
        history: Sequence[SubtaskState],
        failure: str,
    ) -> PlanningOutcome:
        problem = PlanProblem(code="infeasible", message="no replanning in these tests")
        return PlanningOutcome(plan=None, problems=[problem])

    async def reassign(self, subtask: Subtask, exclude: set[str]) -> Subtask | None:
        return None


__all__ = [
    "TOKEN",
    "TWO_STEPS",
    "WAIT_S",
    "Brain",
    "GatedAgent",
    "JsRoute",
    "OnePlanPlanner",
    "console_text",
    "js_routes",
    "js_string_constant",
]
