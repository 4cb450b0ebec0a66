"""In-test agents and planner for the brain runtime tests.

`ScriptedAgent` implements AgentHandle; each call waits until the test finishes it
(`finish`), or is answered at once by `auto`, so tests decide the order of everything
without sleeping. `ScriptedPlanner` returns given plans and checks simple things.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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

WAIT_S = 20.0
"""Generous deadline for anything a test waits on (the machine is shared)."""


class ScriptedAgent:
    def __init__(self, robot: str, log: list[tuple[str, str, str]] | None = None) -> None:
        self.robot = robot
        self.log = log if log is not None else []
        """Shared across agents: ("start" | "end", robot, call_id) in the order they happened."""
        self.runs: list[SkillCall] = []
        """Every run() invocation, re-dispatches included."""
        self.auto: Callable[[SkillCall], SkillResult | None] | None = None
        self.cancels: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self.max_running = 0
        self._started: asyncio.Queue[SkillCall] = asyncio.Queue()
        self._gates: dict[str, asyncio.Future[SkillResult]] = {}
        self._results: dict[str, SkillResult] = {}
        self._cancel_seen: asyncio.Queue[str] = asyncio.Queue()
        self._runs_seen: asyncio.Queue[SkillCall] = asyncio.Queue()

    async def run(self, call: SkillCall) -> SkillResult:
        self.runs.append(call)
        self._runs_seen.put_nowait(call)
        if call.call_id in self._results:
            return self._results[call.call_id]
        gate = self._gates.get(call.call_id)
        if gate is None:  # a new call: run it (once)
            gate = asyncio.get_running_loop().create_future()
            self._gates[call.call_id] = gate
            self.running.add(call.call_id)
            self.max_running = max(self.max_running, len(self.running))
            self.log.append(("start", self.robot, call.call_id))
            self._started.put_nowait(call)
            answer = self.auto(call) if self.auto else None
            if answer is not None:
                self._end(call.call_id, answer)
        return await asyncio.shield(gate)

    def _end(self, call_id: str, result: SkillResult) -> None:
        gate = self._gates[call_id]
        if gate.done():
            return
        self.running.discard(call_id)
        self.log.append(("end", self.robot, call_id))
        self._results[call_id] = result
        gate.set_result(result)

    def finish(self, call_id: str, result: SkillResult | None = None) -> None:
        self._end(call_id, result or SkillResult.success(f"{call_id} done"))

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        self.cancels.append((call_id, reason))
        self._cancel_seen.put_nowait(call_id)
        gate = self._gates.get(call_id)
        if gate is None or gate.done():
            return False
        self._end(call_id, SkillResult.failure(ErrorCode.cancelled, reason))
        return True

    async def next_call(self, timeout_s: float = WAIT_S) -> SkillCall:
        """The next call that starts on this agent (waits for it)."""
        return await asyncio.wait_for(self._started.get(), timeout_s)

    async def next_run(self, timeout_s: float = WAIT_S) -> SkillCall:
        """The next run() invocation, a re-dispatch of a known call id included."""
        return await asyncio.wait_for(self._runs_seen.get(), timeout_s)

    async def next_cancel(self, timeout_s: float = WAIT_S) -> str:
        return await asyncio.wait_for(self._cancel_seen.get(), timeout_s)

    def pending_starts(self) -> int:
        return self._started.qsize()

    def call_ids(self) -> list[str]:
        return [c.call_id for c in self.runs]


@dataclass
class ScriptedPlanner:
    """plans: instruction -> Plan. replans: answers of successive replan() calls.
    equivalents: robot -> robots that can stand in for it (reassign).
    robots: when set, check() reports unknown robots."""

    plans: dict[str, Plan] = field(default_factory=dict)
    replans: list[PlanningOutcome] = field(default_factory=list)
    equivalents: dict[str, list[str]] = field(default_factory=dict)
    robots: set[str] | None = None
    fail_on: set[str] = field(default_factory=set)
    plan_calls: list[str] = field(default_factory=list)
    replan_calls: list[dict[str, Any]] = field(default_factory=list)
    reassign_calls: list[tuple[str, set[str]]] = field(default_factory=list)
    checked: list[Plan] = field(default_factory=list)
    reject_moves_to: set[str] = field(default_factory=set)

    async def plan(self, task_id: str, instruction: str) -> PlanningOutcome:
        self.plan_calls.append(instruction)
        if instruction in self.fail_on:
            raise RuntimeError(f"scripted planner crash on {instruction!r}")
        plan = self.plans.get(instruction)
        if plan is None:
            return PlanningOutcome(
                plan=None,
                problems=[PlanProblem(code="infeasible", message=f"no plan for {instruction!r}")],
                model_calls=1,
                planner="scripted",
            )
        return PlanningOutcome(
            plan=plan, model_calls=1, goal={"instruction": instruction}, planner="scripted"
        )

    async def check(self, plan: Plan) -> list[PlanProblem]:
        self.checked.append(plan)
        problems = []
        for s in plan.subtasks:
            if self.robots is not None and s.robot not in self.robots:
                problems.append(
                    PlanProblem(
                        code="unknown_robot", message=f"unknown robot {s.robot!r}", subtask=s.id
                    )
                )
            if s.robot in self.reject_moves_to:
                problems.append(
                    PlanProblem(
                        code="conflict", message=f"{s.robot} cannot take {s.id}", subtask=s.id
                    )
                )
        return problems

    async def replan(
        self,
        task_id: str,
        instruction: str | None,
        goal: dict[str, Any] | None,
        history: Sequence[SubtaskState],
        failure: str,
    ) -> PlanningOutcome:
        self.replan_calls.append({"goal": goal, "history": list(history), "failure": failure})
        if not self.replans:
            return PlanningOutcome(
                plan=None,
                problems=[PlanProblem(code="infeasible", message="no more plans")],
                model_calls=1,
            )
        return self.replans.pop(0)

    async def reassign(self, subtask: Subtask, exclude: set[str]) -> Subtask | None:
        self.reassign_calls.append((subtask.id, set(exclude)))
        for robot in self.equivalents.get(subtask.robot, []):
            if robot not in exclude:
                return subtask.model_copy(update={"robot": robot})
        return None


def plan(*subtasks: tuple[str, str, str] | tuple[str, str, str, list[str]]) -> Plan:
    """plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))"""
    out = []
    for s in subtasks:
        sid, robot, skill = s[0], s[1], s[2]
        deps = list(s[3]) if len(s) > 3 else []  # type: ignore[misc]
        out.append(
            Subtask(id=sid, robot=robot, skill=skill, args={"obj": "apple"}, depends_on=deps)
        )
    return Plan(subtasks=out)
