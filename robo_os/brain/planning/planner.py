"""`BrainPlanner`: the brain's `Planner` (robo_os.brain.planning.interface).

plan:     live catalogue + symbolic state from memory; with a model configured, one
          planning call (forced `submit_plan` tool, or JSON text), checked, with up to
          `repair_attempts` repair turns; without one (or when no endpoint answers), the
          embedded search planner. Either way the plan passes the same checker.
check:    the same checks for an app's explicit plan.
prepare:  an app's explicit plan checked, rebalanced unless pinned, and timed.
replan:   the model gets the instruction, what ran (with results), the failure and the
          current world; the embedded planner searches again toward the stored goal.
reassign: another robot that offers the skill and for which its preconditions hold now.

Every plan, the model's and an app's too, leaves with the same timing and allocation:
a model's or an app's plan has its runs moved to equivalent free robots where that
ends it sooner (unless pinned; robo_os.brain.planning.rebalance), re-checked, and each
plan carries its expected duration (robo_os.brain.planning.timing). Robots busy with
other tasks (`busy`, the runtime's `FleetWork`) count as free from when their queued
work is expected to end (`timing.ready_times`), in the allocation and in the timing.

Never raises for bad model output or an unreachable model (those become problems);
a memory failure raises ServiceUnavailableError (the runtime may retry later).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...contracts import Plan, PlanProblem, Subtask, SubtaskState
from ...errors import ServiceUnavailableError, SkillDefinitionError
from ...settings import LLMSettings
from ...symbolic.conditions import Unsatisfied, check_preconditions
from ...symbolic.goal import fact_text
from ...symbolic.search import SearchLimits
from ...symbolic.state import SymbolicState, symbolic_state
from .catalogue import Catalogue, CatalogueSource
from .checker import check_plan
from .embedded import EmbeddedPlanner
from .goal_resolution import keeps_constraints, resolve_goal
from .goals import constraint_problems
from .instructions import Goal, parse_instruction
from .interface import FailedCall, FleetWork, PlanningOutcome
from .live import LiveCatalogue
from .llm import LLMMetrics, LLMPool
from .model_planning import GOAL_MODE, ImageSource, ModelPlanner
from .prompts import planning_messages, replan_text, system_prompt
from .rebalance import rebalance
from .timing import Timing, ready_times, schedule

__all__ = ["BrainPlanner", "ImageSource", "PlannerStats"]

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
ON = "on"
PUT_AWAY_CANDIDATES = 6
"""Places `put_away` tries (preferred first, then the nearest) before it gives up."""
PUT_AWAY_LIMITS = SearchLimits(max_expansions=2000, max_seconds=1.0)
EXPLICIT = "explicit"


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
        self.live = LiveCatalogue(memory)
        self._world_cache: tuple[Catalogue, SymbolicState] | None = None
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
        # fewest actions: the robot that holds the object sets it down itself
        self.put_away_search = EmbeddedPlanner(PUT_AWAY_LIMITS, timing=self.timing, allocate=False)
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
    async def plan(
        self,
        task_id: str,
        instruction: str,
        *,
        busy: FleetWork | None = None,
        mode: str | None = None,
    ) -> PlanningOutcome:
        """`mode` (with a model): `goal` or `plan` for this task (default: the settings')."""
        cat, state = await self._world()
        ready = self._ready(cat, busy)
        parsed = parse_instruction(instruction, cat)
        goal = parsed.goal
        if self.model is not None:
            mode = mode or self.settings.mode
            user = planning_messages(
                cat,
                instruction,
                tool_calling=self.settings.tool_calling,
                world_chars=self.world_chars,
                mode=mode,
            )
            outcome = await self.model.run(
                task_id,
                cat,
                state,
                user,
                goal,
                used=set(),
                mode=mode,
                instruction=instruction,
                plan_goal=lambda g: self._embedded(task_id, cat, state, g, set(), ready_at=ready),
            )
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
                fallback = self._embedded(task_id, cat, state, goal, set(), ready_at=ready)
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
            outcome = self._embedded(
                task_id, cat, state, goal, set(), notes=parsed.notes, ready_at=ready
            )
        outcome = self._timed(task_id, outcome, cat, state, goal, ready)
        outcome = self._over_deadline(task_id, outcome, Goal.from_json(outcome.goal) or goal)
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

    async def prepare(
        self,
        plan: Plan,
        *,
        busy: FleetWork | None = None,
        goal: Mapping[str, Any] | None = None,
    ) -> PlanningOutcome:
        """`goal` (an app's, in the goal language's JSON): the plan must also reach its
        final facts and keep its constraints (each broken one is a problem)."""
        cat, state = await self._world()
        wanted: Goal | None = None
        if goal is not None:
            wanted, problems = resolve_goal(goal, cat)
            if wanted is None:
                return PlanningOutcome(None, problems, planner=EXPLICIT, message="explicit plan")
        report = check_plan(
            plan,
            cat,
            state,
            goal=wanted.final if wanted is not None else (),
            allowed_holding=wanted.held if wanted is not None else (),
        )
        problems = list(report.problems)
        if wanted is not None:
            problems += keeps_constraints(plan, wanted, cat, state, report.final_state)
        if problems:
            return PlanningOutcome(None, problems, planner=EXPLICIT, message="explicit plan")
        outcome = PlanningOutcome(
            plan,
            planner=EXPLICIT,
            message="explicit plan",
            goal=wanted.to_json() if wanted is not None else None,
        )
        outcome = self._timed("(explicit)", outcome, cat, state, wanted, self._ready(cat, busy))
        return self._over_deadline("(explicit)", outcome, wanted)

    async def resolve_goal(
        self, goal: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, list[PlanProblem]]:
        """An app's goal checked against the live world (names, kinds, contradictions;
        robo_os.brain.planning.goal_resolution): its canonical JSON, or the problems."""
        cat, _ = await self._world()
        wanted, problems = resolve_goal(dict(goal), cat)
        return (wanted.to_json() if wanted is not None else None), problems

    async def plan_goal(
        self,
        task_id: str,
        goal: Mapping[str, Any],
        *,
        history: Sequence[SubtaskState] = (),
        avoid: Sequence[FailedCall] = (),
        busy: FleetWork | None = None,
    ) -> PlanningOutcome:
        """Plan (or, with `history`, replan) a goal given in the goal language with the
        embedded planner, honouring its constraints; never asks a model."""
        cat, state = await self._world()
        wanted, problems = resolve_goal(dict(goal), cat)
        kind = "replan" if history else "plan"
        if wanted is None:
            outcome = PlanningOutcome(
                None,
                problems,
                0,
                dict(goal),
                EMBEDDED,
                "the goal does not fit the world: " + "; ".join(p.message for p in problems),
            )
            self.stats.record(kind, outcome)
            return outcome
        ready = self._ready(cat, busy)
        used = {h.id for h in history}
        outcome = self._embedded(task_id, cat, state, wanted, used, ready_at=ready, avoid=avoid)
        outcome = self._timed(task_id, outcome, cat, state, wanted, ready)
        outcome = self._over_deadline(task_id, outcome, wanted)
        self.stats.record(kind, outcome)
        log.info(
            "task %s: goal %s %sned by the embedded planner: %s",
            task_id,
            "; ".join(fact_text(a) for a in wanted.final),
            kind,
            "ok" if outcome.plan else "failed",
        )
        return outcome

    async def unmet(self, goal: Mapping[str, Any]) -> list[str]:
        """The goal's final facts that do not hold in memory now, each in words
        (empty: met, or `goal` is not a goal in the goal language)."""
        wanted = Goal.from_json(dict(goal))
        if wanted is None:
            return []
        _, state = await self._world()
        return wanted.unmet(state)

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
        cat, state = await self._world()
        ready = self._ready(cat, busy)
        used = {h.id for h in history}
        stored = Goal.from_json(goal) if goal is not None else None
        if stored is None and instruction:
            stored = parse_instruction(instruction, cat).goal
        # goal mode: the model's part is done once the goal is known; the embedded
        # planner replans toward it
        if self.model is not None and not (stored is not None and self.settings.mode == GOAL_MODE):
            system = system_prompt(
                cat,
                tool_calling=self.settings.tool_calling,
                instruction=instruction or "",
                world_chars=self.world_chars,
            )
            messages = [
                {"role": "system", "content": system},
                {"role": "user", "content": replan_text(instruction, history, failure, avoid)},
            ]
            outcome = await self.model.run(
                task_id,
                cat,
                state,
                messages,
                stored,
                used=used,
                avoid=avoid,
                instruction=instruction or "",
                keep_goal=stored is not None,
            )
            if (
                outcome.plan is None
                and self._model_down(outcome)
                and self.fallback_to_embedded
                and stored is not None
            ):
                outcome = self._embedded(
                    task_id, cat, state, stored, used, ready_at=ready, avoid=avoid
                )
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
            outcome = self._embedded(task_id, cat, state, stored, used, ready_at=ready, avoid=avoid)
        if stored is not None and outcome.plan is not None and outcome.plan.subtasks:
            outcome = self._constrained(task_id, outcome, stored, cat, state)
        if outcome.plan is None and avoid:
            not_again = "; ".join(f.describe() for f in avoid)
            outcome = dataclasses.replace(
                outcome,
                message=f"{outcome.message or 'no plan'} (not repeating: {not_again})",
            )
        outcome = self._timed(task_id, outcome, cat, state, stored, ready)
        outcome = self._over_deadline(task_id, outcome, stored)
        self.stats.record("replan", outcome)
        log.info(
            "task %s replanned by %s after %r: %s",
            task_id,
            outcome.planner,
            failure,
            "ok" if outcome.plan else "failed",
        )
        return outcome

    async def put_away(
        self, task_id: str, obj: str, prefer: Sequence[str], used: set[str]
    ) -> PlanningOutcome:
        cat, state = await self._world()
        record = cat.objects.get(obj)
        holder = None if record is None else (record.held_by or record.on)
        if record is None or holder is None or holder not in cat.robots:
            why = f"no object named {obj!r}" if record is None else f"no robot holds {obj}"
            return PlanningOutcome(None, [PlanProblem(code="not_found", message=why)])
        robot = cat.robots[holder]
        here = robot.pose
        if here is None and robot.place is not None and robot.place in cat.places:
            here = cat.places[robot.place].pose
        nearest = sorted(
            (p for p in cat.places.values() if p.kind != "floor"),
            key=lambda p: (float(here.distance_to(p.pose)) if here is not None else 0.0, p.name),
        )
        ordered = [n for n in dict.fromkeys(prefer) if n in cat.places]
        ordered += [p.name for p in nearest if p.name not in ordered]
        tried = ordered[:PUT_AWAY_CANDIDATES]
        for place in tried:
            goal = Goal(groups=(((ON, obj, place),),), instruction=f"put {obj} on {place}")
            res = self.put_away_search.plan(cat, state, goal, used_ids=used)
            if res.plan is not None and res.plan.subtasks:
                msg = f"{holder} puts {obj} on {place} ({len(res.plan.subtasks)} subtasks)"
                log.info("task %s: %s", task_id, msg)
                return PlanningOutcome(res.plan, [], 0, None, EMBEDDED, msg)
        why = f"no way for {holder} to set {obj} down on any of: {', '.join(tried) or 'none'}"
        return PlanningOutcome(
            None, [PlanProblem(code="infeasible", message=why)], 0, None, EMBEDDED, why
        )

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
        """The catalogue and symbolic state as memory holds them now, kept current from
        memory's change feed (robo_os.brain.planning.live): unchanged memory costs one
        round trip, a change re-reads only the records it names."""
        try:
            cat = await self.live.get()
        except (ConnectionError, OSError, TimeoutError) as e:
            raise ServiceUnavailableError(
                f"cannot read the fleet and world from memory: {e}"
            ) from e
        cached = self._world_cache
        if cached is not None and cached[0] is cat:
            return cat, cached[1].copy()
        state = symbolic_state(cat, cat.vocabulary)
        self._world_cache = (cat, state.copy())
        return cat, state

    def _timed(
        self,
        task_id: str,
        outcome: PlanningOutcome,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal | None,
        ready: dict[str, float] | None = None,
    ) -> PlanningOutcome:
        """The same timing and allocation for every plan: a model's (or an app's) plan
        is rebalanced over equivalent free robots (kept only if it passes the checks
        again); each plan gets its expected duration, waits for busy robots (`ready`)
        included."""
        plan = outcome.plan
        if plan is None or not plan.subtasks:
            return outcome
        message = outcome.message
        # the goal the plan was checked against (the model's, in plan mode)
        goal = Goal.from_json(outcome.goal) or goal
        # the embedded planner allocates its own plans (goal mode's too: "llm:m+embedded")
        if not outcome.planner.endswith(EMBEDDED) and self.rebalance_model_plans:
            moved = rebalance(plan, cat, state, self.timing, ready_at=ready)
            if moved.moves:
                report = check_plan(
                    moved.plan,
                    cat,
                    state,
                    goal=goal.final if goal is not None else (),
                    allowed_holding=goal.held if goal is not None else (),
                )
                broken = (
                    constraint_problems(
                        [(s.id, s.robot, s.skill, s.args) for s in moved.plan.subtasks],
                        goal,
                        cat,
                        state,
                        report.final_state,
                    )
                    if goal is not None
                    else []
                )
                if report.ok and not broken:
                    plan = moved.plan
                    message = (
                        (f"{message}; " if message else "")
                        + f"moved to free robots ({'; '.join(moved.moves)}): expected {moved.before_s:.0f} s → {moved.after_s:.0f} s"
                    )
                    log.info("task %s: %s", task_id, "; ".join(moved.moves))
                else:
                    log.warning(
                        "task %s: the rebalanced plan failed the checks (%s); keeping the model's",
                        task_id,
                        "; ".join(p.message for p in [*report.problems, *broken]),
                    )
        if plan.expected_duration_s is None:
            plan = plan.model_copy(
                update={
                    "expected_duration_s": round(
                        schedule(plan, cat, self.timing, ready_at=ready).makespan, 3
                    )
                }
            )
        return dataclasses.replace(outcome, plan=plan, message=message)

    @staticmethod
    def _constrained(
        task_id: str, outcome: PlanningOutcome, goal: Goal, cat: Catalogue, state: SymbolicState
    ) -> PlanningOutcome:
        """The outcome, or no plan when its plan breaks the goal's constraints (a robot
        to avoid, a kept object moved), each broken one named."""
        assert outcome.plan is not None
        final = check_plan(outcome.plan, cat, state).final_state
        broken = keeps_constraints(outcome.plan, goal, cat, state, final)
        if not broken:
            return outcome
        why = "; ".join(p.message for p in broken)
        log.warning("task %s: refused a plan that breaks the goal's constraints: %s", task_id, why)
        return dataclasses.replace(
            outcome, plan=None, problems=broken, message=f"the plan breaks the goal: {why}"
        )

    @staticmethod
    def _over_deadline(
        task_id: str, outcome: PlanningOutcome, goal: Goal | None
    ) -> PlanningOutcome:
        """A plan expected to take longer than the goal's `deadline_s` still runs (the
        estimate is an estimate); its message says so."""
        plan = outcome.plan
        if goal is None or goal.deadline_s is None or plan is None:
            return outcome
        expected = plan.expected_duration_s
        if expected is None or expected <= goal.deadline_s:
            return outcome
        note = (
            f"expected to take {expected:.0f} s, longer than the goal's deadline of"
            f" {goal.deadline_s:.0f} s"
        )
        log.warning("task %s: %s", task_id, note)
        message = f"{outcome.message}; {note}" if outcome.message else note
        return dataclasses.replace(outcome, message=message)

    def _ready(self, cat: Catalogue, busy: FleetWork | None) -> dict[str, float]:
        """When each robot busy with other tasks is expected to be free (seconds)."""
        return ready_times(busy, cat, self.timing) if busy is not None and busy.tasks else {}

    @staticmethod
    def _model_down(outcome: PlanningOutcome) -> bool:
        # a server that refuses every request format is as good as down for planning
        return any(
            p.code in ("model_unavailable", "model_request_rejected") for p in outcome.problems
        )

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
        *,
        ready_at: dict[str, float] | None = None,
        avoid: Sequence[FailedCall] = (),
    ) -> PlanningOutcome:
        res = self.embedded.plan(cat, state, goal, used_ids=used, ready_at=ready_at, avoid=avoid)
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
