"""`BrainPlanner`: the brain's `Planner` (robo_os.brain.planning.interface).

plan:     live catalogue + symbolic state from memory; with a model configured, one
          planning call (forced `submit_plan` tool, or JSON text), checked, with up to
          `repair_attempts` repair turns; without one (or when no endpoint answers), the
          embedded search planner. Either way the plan passes the same checker.
check:    the same checks for an app's explicit plan.
replan:   the model gets the instruction, what ran (with results), the failure and the
          current world; the embedded planner searches again toward the stored goal.
reassign: another robot that offers the skill and for which its preconditions hold now.

Every plan, the model's too, leaves with the same timing and allocation: a model's plan
has its runs moved to equivalent idle robots where that ends it sooner (unless
pinned; robo_os.brain.planning.rebalance), re-checked, and each plan carries its
expected duration (robo_os.brain.planning.timing).

Never raises for bad model output or an unreachable model (those become problems);
a memory failure raises ServiceUnavailableError (the runtime may retry later).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...contracts import Plan, PlanProblem, Subtask, SubtaskState
from ...errors import ServiceUnavailableError, SkillDefinitionError
from ...settings import LLMSettings
from ...symbolic.conditions import Unsatisfied, check_preconditions
from ...symbolic.search import SearchLimits
from ...symbolic.state import SymbolicState, symbolic_state
from .catalogue import Catalogue, CatalogueSource
from .checker import check_plan
from .embedded import EmbeddedPlanner
from .instructions import Goal, parse_instruction
from .interface import PlanningOutcome
from .llm import LLMMetrics, LLMPool
from .model_planning import ImageSource, ModelPlanner
from .prompts import planning_messages, replan_text, system_prompt
from .rebalance import rebalance
from .timing import Timing, schedule

__all__ = ["BrainPlanner", "ImageSource", "PlannerStats"]

log = logging.getLogger(__name__)

EMBEDDED = "embedded"


@dataclass
class PlannerStats:
    """Planning outcomes and model calls, for the REST layer and the benchmarks."""

    outcomes: Counter[str] = field(default_factory=Counter)
    model_calls: int = 0
    calls_by_outcome: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, outcome: PlanningOutcome) -> None:
        result = (
            "planned"
            if outcome.plan is not None
            else (
                "infeasible" if any(p.code == "infeasible" for p in outcome.problems) else "failed"
            )
        )
        key = f"{kind}:{outcome.planner or 'none'}:{result}"
        self.outcomes[key] += 1
        self.model_calls += outcome.model_calls
        self.calls_by_outcome[key] += outcome.model_calls

    def snapshot(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "model_calls": self.model_calls,
            "model_calls_by_outcome": dict(self.calls_by_outcome),
        }


class BrainPlanner:
    """The brain's planner.

    memory: where the catalogue is read (a connected `robo_os_memory.Memory`).
    llm: the model settings; None or not `enabled`: embedded planner only.
    images: called for vision models (`llm.vision`): {robot id: PNG bytes}.
    pool: an `LLMPool` to use instead of building one from `llm` (the caller owns it).
    """

    def __init__(
        self,
        memory: CatalogueSource,
        llm: LLMSettings | None = None,
        *,
        images: ImageSource | None = None,
        pool: LLMPool | None = None,
        limits: SearchLimits | None = None,
        world_chars: int = 4000,
        verify_goals: bool = True,
        fallback_to_embedded: bool = True,
        images_timeout_s: float = 10.0,
        timing: Timing | None = None,
        rebalance_model_plans: bool = True,
    ) -> None:
        self.memory = memory
        self.timing = timing or Timing()
        self.rebalance_model_plans = rebalance_model_plans
        self.settings = llm or (pool.settings if pool is not None else LLMSettings())
        self._owns_pool = pool is None and self.settings.enabled
        self.pool = (
            pool
            if pool is not None
            else (LLMPool(self.settings) if self.settings.enabled else None)
        )
        self.embedded = EmbeddedPlanner(limits, timing=self.timing)
        self.world_chars = world_chars
        self.fallback_to_embedded = fallback_to_embedded
        self.model = (
            ModelPlanner(
                self.pool,
                self.settings,
                images=images,
                verify_goals=verify_goals,
                images_timeout_s=images_timeout_s,
            )
            if self.pool is not None
            else None
        )
        self.stats = PlannerStats()

    @property
    def llm_metrics(self) -> LLMMetrics | None:
        return self.pool.metrics if self.pool is not None else None

    @property
    def name(self) -> str:
        return f"llm:{self.pool.model}" if self.pool is not None else EMBEDDED

    async def close(self) -> None:
        if self.pool is not None and self._owns_pool:
            await self.pool.close()

    # -- the Planner protocol ------------------------------------------------------------
    async def plan(self, task_id: str, instruction: str) -> PlanningOutcome:
        cat, state = await self._world()
        parsed = parse_instruction(instruction, cat)
        goal = parsed.goal
        if self.model is not None:
            user = planning_messages(
                cat,
                instruction,
                tool_calling=self.settings.tool_calling,
                world_chars=self.world_chars,
            )
            outcome = await self.model.run(task_id, cat, state, user, goal, used=set())
            if (
                outcome.plan is None
                and self._model_down(outcome)
                and self.fallback_to_embedded
                and goal is not None
            ):
                log.warning(
                    "task %s: no model endpoint answered; planning with the embedded planner",
                    task_id,
                )
                fallback = self._embedded(task_id, cat, state, goal, set())
                outcome = PlanningOutcome(
                    fallback.plan,
                    fallback.problems or outcome.problems,
                    outcome.model_calls,
                    fallback.goal,
                    fallback.planner,
                    f"the model was unavailable ({outcome.problems[0].message}); {fallback.message}",
                )
        elif goal is None:
            outcome = PlanningOutcome(
                None,
                parsed.problems,
                0,
                None,
                EMBEDDED,
                "the embedded planner cannot plan this instruction: "
                + "; ".join(p.message for p in parsed.problems),
            )
        else:
            outcome = self._embedded(task_id, cat, state, goal, set(), notes=parsed.notes)
        outcome = self._timed(task_id, outcome, cat, state, goal)
        self.stats.record("plan", outcome)
        log.info(
            "task %s planned by %s: %s (%d model calls)",
            task_id,
            outcome.planner,
            "ok" if outcome.plan else "failed",
            outcome.model_calls,
        )
        return outcome

    async def check(self, plan: Plan) -> list[PlanProblem]:
        cat, state = await self._world()
        return check_plan(plan, cat, state).problems

    async def replan(
        self,
        task_id: str,
        instruction: str | None,
        goal: dict[str, Any] | None,
        history: Sequence[SubtaskState],
        failure: str,
    ) -> PlanningOutcome:
        cat, state = await self._world()
        used = {h.id for h in history}
        stored = Goal.from_json(goal) if goal is not None else None
        if stored is None and instruction:
            stored = parse_instruction(instruction, cat).goal
        if self.model is not None:
            system = system_prompt(
                cat,
                tool_calling=self.settings.tool_calling,
                instruction=instruction or "",
                world_chars=self.world_chars,
            )
            messages = [
                {"role": "system", "content": system},
                {"role": "user", "content": replan_text(instruction, history, failure)},
            ]
            outcome = await self.model.run(task_id, cat, state, messages, stored, used=used)
            if (
                outcome.plan is None
                and self._model_down(outcome)
                and self.fallback_to_embedded
                and stored is not None
            ):
                outcome = self._embedded(task_id, cat, state, stored, used)
        elif stored is None:
            outcome = PlanningOutcome(
                None,
                [
                    PlanProblem(
                        code="infeasible",
                        message=(
                            f"no goal to replan towards: the embedded planner cannot read one"
                            f" from {instruction[:80]!r} (configure a model to replan it)"
                            if instruction
                            else "no goal to replan towards: the task is an explicit plan"
                            " without an instruction (submit an instruction, or a new plan)"
                        ),
                    )
                ],
                0,
                None,
                EMBEDDED,
            )
        else:
            outcome = self._embedded(task_id, cat, state, stored, used)
        outcome = self._timed(task_id, outcome, cat, state, stored)
        self.stats.record("replan", outcome)
        log.info(
            "task %s replanned by %s after %r: %s",
            task_id,
            outcome.planner,
            failure,
            "ok" if outcome.plan else "failed",
        )
        return outcome

    async def reassign(self, subtask: Subtask, exclude: set[str]) -> Subtask | None:
        cat, state = await self._world()
        model = cat.skills.get(subtask.skill)
        if model is None:
            return None
        candidates = []
        for robot in cat.robots_for(subtask.skill):
            if robot == subtask.robot or robot in exclude:
                continue
            spec = cat.skill_for(robot, subtask.skill)
            assert spec is not None
            env = {
                k: str(v) for k, v in subtask.args.items() if isinstance(v, (str, int, float, bool))
            }
            env["robot"] = robot
            try:
                ok = not isinstance(
                    check_preconditions(state, spec.preconditions, env), Unsatisfied
                )
            except SkillDefinitionError:
                ok = False
            if ok:
                candidates.append(robot)
        if not candidates:
            return None
        best = min(
            candidates,
            key=lambda r: (self._distance(cat, r, subtask), cat.robots[r].status != "idle", r),
        )
        return subtask.model_copy(update={"robot": best})

    # -- internals ---------------------------------------------------------------------------
    async def _world(self) -> tuple[Catalogue, SymbolicState]:
        try:
            cat = await Catalogue.from_memory(self.memory)
        except (ConnectionError, OSError, TimeoutError) as e:
            raise ServiceUnavailableError(
                f"cannot read the fleet and world from memory: {e}"
            ) from e
        return cat, symbolic_state(cat)

    def _timed(
        self,
        task_id: str,
        outcome: PlanningOutcome,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal | None,
    ) -> PlanningOutcome:
        """The same timing and allocation for every plan: a model's plan is rebalanced
        over equivalent idle robots (kept only if it passes the checks again); each
        plan gets its expected duration."""
        plan = outcome.plan
        if plan is None or not plan.subtasks:
            return outcome
        message = outcome.message
        if outcome.planner != EMBEDDED and self.rebalance_model_plans:
            moved = rebalance(plan, cat, state, self.timing)
            if moved.moves:
                report = check_plan(
                    moved.plan,
                    cat,
                    state,
                    goal=goal.final if goal is not None else (),
                    allowed_holding=goal.held if goal is not None else (),
                )
                if report.ok:
                    plan = moved.plan
                    message = (
                        (f"{message}; " if message else "")
                        + f"moved to idle robots ({'; '.join(moved.moves)}): expected {moved.before_s:.0f} s → {moved.after_s:.0f} s"
                    )
                    log.info("task %s: %s", task_id, "; ".join(moved.moves))
                else:
                    log.warning(
                        "task %s: the rebalanced plan failed the checks (%s); keeping the model's",
                        task_id,
                        "; ".join(p.message for p in report.problems),
                    )
        if plan.expected_duration_s is None:
            plan = plan.model_copy(
                update={"expected_duration_s": round(schedule(plan, cat, self.timing).makespan, 3)}
            )
        return dataclasses.replace(outcome, plan=plan, message=message)

    @staticmethod
    def _model_down(outcome: PlanningOutcome) -> bool:
        return any(p.code == "model_unavailable" for p in outcome.problems)

    @staticmethod
    def _distance(cat: Catalogue, robot: str, subtask: Subtask) -> float:
        r = cat.robots[robot]
        here = r.pose
        if here is None and r.place is not None and r.place in cat.places:
            here = cat.places[r.place].pose
        if here is None:
            return float("inf")
        for v in subtask.args.values():
            if not isinstance(v, str):
                continue
            target = v if v in cat.places else (cat.objects[v].on if v in cat.objects else None)
            if target is not None and target in cat.places:
                return float(here.distance_to(cat.places[target].pose))
        return float("inf")

    def _embedded(
        self,
        task_id: str,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal,
        used: set[str],
        notes: Sequence[str] = (),
    ) -> PlanningOutcome:
        res = self.embedded.plan(cat, state, goal, used_ids=used)
        # each note once: groundings repeat theirs per robot and per allocation candidate
        note = "; ".join(dict.fromkeys([*notes, *res.notes]))
        if res.plan is None:
            return PlanningOutcome(
                None,
                res.problems,
                0,
                goal.to_json(),
                EMBEDDED,
                "; ".join(p.message for p in res.problems),
            )
        if res.plan.subtasks:
            report = check_plan(res.plan, cat, state, goal=goal.final, allowed_holding=goal.held)
            if not report.ok:
                # the search and the checker share the symbolic model; this is a bug if it happens
                log.error(
                    "task %s: the embedded plan failed its own check: %s", task_id, report.problems
                )
                return PlanningOutcome(
                    None,
                    report.problems,
                    0,
                    goal.to_json(),
                    EMBEDDED,
                    "the embedded plan failed the checks",
                )
        msg = f"{len(res.plan.subtasks)} subtasks found in {res.expansions} search steps" + (
            f" ({note})" if note else ""
        )
        return PlanningOutcome(res.plan, [], 0, goal.to_json(), EMBEDDED, msg)
