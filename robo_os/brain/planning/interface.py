"""The seams inside the brain: what the task runtime needs from planning.

The planner side (catalogue, prompts, LLM client, checker, embedded search planner)
implements `Planner`; the runtime side (task store, scheduler, dispatch, REST) uses it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...contracts import Plan, PlanProblem, Subtask, SubtaskState, SubtaskStatus

__all__ = ["FailedCall", "FleetWork", "Planner", "PlanningOutcome", "call_key"]


def call_key(skill: str, args: Mapping[str, Any]) -> str:
    """One skill call's arguments, canonical: `pick {"object":"cup"}` (robot left out)."""
    return f"{skill} {json.dumps(dict(args), sort_keys=True, separators=(',', ':'))}"


@dataclass(frozen=True)
class FailedCall:
    """A call that failed in this task: this robot, skill and arguments, for this
    reason. A replan does not plan it again (docs/execution.md, "Recovery")."""

    robot: str
    skill: str
    args: dict[str, Any]
    error: str
    message: str = ""
    count: int = 1
    """How many times it failed so far (the same error each time)."""
    full: str | None = None
    """The place it found no room on: no robot is planned to put anything on it again
    in this task (a relay would only bring the object back to it)."""

    def matches(self, robot: str, skill: str, args: Mapping[str, Any]) -> bool:
        """Whether a planned call is this one (arguments compared as text, as grounded)."""
        if robot != self.robot or skill != self.skill:
            return False
        return {k: str(v) for k, v in args.items()} == {k: str(v) for k, v in self.args.items()}

    def describe(self) -> str:
        why = f"{self.error}: {self.message}" if self.message else self.error
        if self.full:
            why += f"; {self.full} has no room: put nothing on it"
        times = f", {self.count} times" if self.count > 1 else ""
        return f"{self.robot} {call_key(self.skill, self.args)} ({why}{times})"


_ENDED = frozenset(
    {
        SubtaskStatus.succeeded,
        SubtaskStatus.failed,
        SubtaskStatus.cancelled,
        SubtaskStatus.skipped,
    }
)


@dataclass(frozen=True)
class FleetWork:
    """The work the fleet already has when a task is planned: the open subtasks of the
    other active tasks, each task's in the order its robots will serve them (the fleet
    queue's: higher priority first, then arrival). The planner turns it into when each
    robot is expected to be free (robo_os.brain.planning.timing.ready_times), so a new
    task's chains start on a busy robot only once its queued work is done.

    Running subtasks carry `started_at`: the planner counts only what is left of them."""

    tasks: tuple[tuple[SubtaskState, ...], ...] = ()
    at: float = field(default_factory=time.time)
    """When the snapshot was taken (epoch seconds, as `started_at`)."""

    @classmethod
    def of(cls, tasks: Sequence[Sequence[SubtaskState]], at: float | None = None) -> FleetWork:
        """Only the subtasks that still occupy a robot (not ended nor dropped)."""
        kept = tuple(
            subs for subs in (tuple(s for s in t if s.status not in _ENDED) for t in tasks) if subs
        )
        return cls(kept, time.time() if at is None else at)

    @property
    def robots(self) -> set[str]:
        return {s.robot for t in self.tasks for s in t}


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
    async def plan(
        self,
        task_id: str,
        instruction: str,
        *,
        busy: FleetWork | None = None,
        mode: str | None = None,
    ) -> PlanningOutcome:
        """Plan an instruction against the live fleet and memory; never raises for bad
        model output (that becomes problems). `busy`: the other tasks' work; a robot
        with some is planned from when it is expected to be free. `mode`: with a model,
        `goal` or `plan` (robo_os.settings.LLMSettings.mode); None: the planner's own."""
        ...

    async def prepare(
        self,
        plan: Plan,
        *,
        busy: FleetWork | None = None,
        goal: Mapping[str, Any] | None = None,
    ) -> PlanningOutcome:
        """An app's explicit plan as it will run: checked exactly like a planned one
        (problems: plan None), its runs moved to equivalent robots where that ends it
        sooner unless pinned (`Subtask.pinned`, `Plan.pinned`), and timed
        (`expected_duration_s`, waits for busy robots included). With `goal` (the goal
        language's JSON) the plan must also reach it and keep its constraints."""
        ...

    async def resolve_goal(
        self, goal: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, list[PlanProblem]]:
        """An app's goal (the goal language's JSON, robo_os.symbolic.goal) checked
        against the live fleet and memory: its canonical JSON, or (None) every problem:
        malformed, unknown names (with "did you mean"), a destination that cannot hold
        things, a goal that contradicts itself."""
        ...

    async def plan_goal(
        self,
        task_id: str,
        goal: Mapping[str, Any],
        *,
        history: Sequence[SubtaskState] = (),
        avoid: Sequence[FailedCall] = (),
        busy: FleetWork | None = None,
    ) -> PlanningOutcome:
        """Plan a goal given in the goal language (an app's), honouring its constraints:
        only the robots it allows act, no kept object moves. With `history` it is a
        replan of the rest of the task (new ids avoid those in it); `avoid`, `busy`: as
        for `replan`."""
        ...

    async def unmet(self, goal: Mapping[str, Any]) -> list[str]:
        """The goal's final facts that do not hold in memory now, each in words
        ("on(cup, table) does not hold (cup is on counter)"); empty when all hold or
        when `goal` is not in the goal language. How the runtime decides success."""
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
        avoid: Sequence[FailedCall] = (),
        *,
        busy: FleetWork | None = None,
    ) -> PlanningOutcome:
        """A plan for the rest of the task from the current world state, given what
        already ran (`history`, with results) and why the old plan cannot go on.
        The new subtasks' ids must not collide with ids in `history`; the plan must not
        contain any call of `avoid` (same robot, skill and arguments: they failed).
        `busy`: as for `plan`."""
        ...

    async def put_away(
        self, task_id: str, obj: str, prefer: Sequence[str], used: set[str]
    ) -> PlanningOutcome:
        """A short plan that sets down `obj`, which a robot holds (gripper or tray), on
        a place: the first of `prefer` it can reach, else the nearest that works; for a
        task that ended with the object in hand. Subtask ids avoid `used`; no plan
        (problems say why) when no place works. Never asks a model."""
        ...

    async def reassign(self, subtask: Subtask, exclude: set[str]) -> Subtask | None:
        """The same subtask on another robot that can run it from the current state
        (skill offered, capabilities, symbolic preconditions hold), or None."""
        ...
