"""A scripted `Planner`: given plans, scripted replans and stand-in robots, recording
every call, for testing the task runtime or an app without a model or a world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..brain.planning.interface import PlanningOutcome
from ..contracts import Plan, PlanProblem, Subtask, SubtaskState

__all__ = ["ScriptedPlanner"]


@dataclass
class ScriptedPlanner:
    """plans: instruction -> Plan (others are infeasible). replans: answers of successive replan() calls.
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
