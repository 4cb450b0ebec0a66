"""The seams inside the brain: what the task runtime needs from planning.

The planner side (catalogue, prompts, LLM client, checker, embedded search planner)
implements `Planner`; the runtime side (task store, scheduler, dispatch, REST) uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...contracts import Plan, PlanProblem, Subtask, SubtaskState

__all__ = ["Planner", "PlanningOutcome"]


@dataclass(frozen=True)
class PlanningOutcome:
    """What one planning (or replanning) round produced.

    plan is None when planning failed; problems then says why (every defect of the
    last attempt, or the model's own refusal as code `infeasible`).
    """

    plan: Plan | None
    problems: list[PlanProblem] = field(default_factory=list)
    model_calls: int = 0
    goal: dict[str, Any] | None = None
    """A JSON-serialisable goal the planner can replan towards later (the embedded
    planner's parsed goal); stored with the task so a restarted brain keeps it."""
    planner: str = ""
    """Which planner produced it: `llm:<model>` or `embedded`."""
    message: str = ""


class Planner(Protocol):
    async def plan(self, task_id: str, instruction: str) -> PlanningOutcome:
        """Plan an instruction against the live fleet and memory; never raises for bad
        model output (that becomes problems)."""
        ...

    async def check(self, plan: Plan) -> list[PlanProblem]:
        """All defects of a plan against the live fleet and memory (explicit plans from
        apps get exactly the checks planned ones get). Empty list: valid."""
        ...

    async def replan(
        self,
        task_id: str,
        instruction: str | None,
        goal: dict[str, Any] | None,
        history: Sequence[SubtaskState],
        failure: str,
    ) -> PlanningOutcome:
        """A plan for the rest of the task from the current world state, given what
        already ran (`history`, with results) and why the old plan cannot go on.
        The new subtasks' ids must not collide with ids in `history`."""
        ...

    async def reassign(self, subtask: Subtask, exclude: set[str]) -> Subtask | None:
        """The same subtask on another robot that can run it from the current state
        (skill offered, capabilities, symbolic preconditions hold), or None."""
        ...
