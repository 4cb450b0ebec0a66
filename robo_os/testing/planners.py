"""A scripted `Planner`: given plans, scripted replans and stand-in robots, recording
every call, for testing the task runtime or an app without a model or a world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..brain.planning.interface import FailedCall, FleetWork, PlanningOutcome
from ..contracts import Plan, PlanProblem, Subtask, SubtaskState
from ..symbolic.goal import Goal, GoalFormatError, fact_text

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
    put_aways: list[PlanningOutcome] = field(default_factory=list)
    """Answers of successive put_away() calls."""
    put_away_calls: list[dict[str, Any]] = field(default_factory=list)
    busy_seen: list[FleetWork | None] = field(default_factory=list)
    """The `busy` argument of every plan, replan and prepare call, in order."""
    goal_plans: dict[str, Plan] = field(default_factory=dict)
    """plan_goal: the first fact's text (`on(cup, table)`) -> Plan (others: infeasible)."""
    goal_calls: list[dict[str, Any]] = field(default_factory=list)
    unmet_answers: list[list[str]] = field(default_factory=list)
    """Answers of successive unmet() calls (none left: the goal holds)."""
    unmet_calls: list[dict[str, Any]] = field(default_factory=list)

    async def plan(
        self,
        task_id: str,
        instruction: str,
        *,
        busy: FleetWork | None = None,
        mode: str | None = None,
    ) -> PlanningOutcome:
        self.plan_calls.append(instruction)
        self.busy_seen.append(busy)
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

    async def prepare(
        self,
        plan: Plan,
        *,
        busy: FleetWork | None = None,
        goal: Mapping[str, Any] | None = None,
    ) -> PlanningOutcome:
        """The plan as given (never moved), or its check's problems."""
        self.busy_seen.append(busy)
        problems = await self.check(plan)
        if problems:
            return PlanningOutcome(plan=None, problems=problems, planner="explicit")
        return PlanningOutcome(
            plan=plan, planner="explicit", goal=dict(goal) if goal is not None else None
        )

    async def resolve_goal(
        self, goal: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, list[PlanProblem]]:
        """The goal in its canonical form, or its format problems (names unchecked)."""
        try:
            return Goal.parse(dict(goal), strict=True).to_json(), []
        except GoalFormatError as e:
            return None, [PlanProblem(code="invalid_goal", message=f"goal: {e}")]

    async def plan_goal(
        self,
        task_id: str,
        goal: Mapping[str, Any],
        *,
        history: Sequence[SubtaskState] = (),
        avoid: Sequence[FailedCall] = (),
        busy: FleetWork | None = None,
    ) -> PlanningOutcome:
        """`goal_plans` by the goal's first fact; a replan (history) is the next of `replans`."""
        self.goal_calls.append({"goal": dict(goal), "history": list(history)})
        self.busy_seen.append(busy)
        if history and self.replans:
            return self.replans.pop(0)
        parsed = Goal.from_json(dict(goal))
        key = fact_text(parsed.final[0]) if parsed is not None and parsed.final else ""
        plan = self.goal_plans.get(key)
        if plan is None:
            return PlanningOutcome(
                plan=None,
                problems=[PlanProblem(code="infeasible", message=f"no plan for {key or goal}")],
                planner="scripted",
            )
        return PlanningOutcome(plan=plan, goal=dict(goal), planner="scripted")

    async def unmet(self, goal: Mapping[str, Any]) -> list[str]:
        self.unmet_calls.append(dict(goal))
        return self.unmet_answers.pop(0) if self.unmet_answers else []

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
        avoid: Sequence[FailedCall] = (),
        *,
        busy: FleetWork | None = None,
    ) -> PlanningOutcome:
        self.replan_calls.append(
            {"goal": goal, "history": list(history), "failure": failure, "avoid": list(avoid)}
        )
        self.busy_seen.append(busy)
        if not self.replans:
            return PlanningOutcome(
                plan=None,
                problems=[PlanProblem(code="infeasible", message="no more plans")],
                model_calls=1,
            )
        return self.replans.pop(0)

    async def put_away(
        self, task_id: str, obj: str, prefer: Sequence[str], used: set[str]
    ) -> PlanningOutcome:
        """The next of `put_aways` (none left: no plan), recording the call."""
        self.put_away_calls.append({"object": obj, "prefer": list(prefer), "used": set(used)})
        if not self.put_aways:
            return PlanningOutcome(
                plan=None, problems=[PlanProblem(code="infeasible", message="no put-away scripted")]
            )
        return self.put_aways.pop(0)

    async def reassign(self, subtask: Subtask, exclude: set[str]) -> Subtask | None:
        self.reassign_calls.append((subtask.id, set(exclude)))
        for robot in self.equivalents.get(subtask.robot, []):
            if robot not in exclude:
                return subtask.model_copy(update={"robot": robot})
        return None
