"""Symbolic execution of a plan over the world state, before anything moves.

Each subtask's skill preconditions are checked and its effects applied in a
topological order of the plan. A failed precondition is reported in words ("mm1 is at
shelf, not at kitchen_counter") and the subtask's effects are applied anyway, so one
mistake does not hide the next. Then:

- subtasks that the dependency graph leaves unordered but that interfere (one deletes
  what the other needs, e.g. two robots picking the same cup) are reported as `conflict`;
- objects a robot picked up and still holds at the end are `object_left_in_hand`;
- a plan that moves objects only to leave every one where it was is `no_net_effect`;
- with a goal (from the instruction), atoms it leaves false are `goal_not_met`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contracts import PlanProblem
from ..errors import SkillDefinitionError
from .conditions import Atom, Condition, Pattern, Unsatisfied, check_preconditions, ground, matches
from .domain import Domain
from .state import SymbolicState, change_of, describe_location
from .vocabulary import HELD

__all__ = ["SimStep", "SimulationReport", "simulate", "step_label"]


@dataclass(frozen=True)
class SimStep:
    """A subtask as the simulation needs it (already known to name a real robot and skill)."""

    id: str
    robot: str
    skill: str
    args: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()


@dataclass
class _Trace:
    needs: set[Atom] = field(default_factory=set)
    forbids: list[Pattern] = field(default_factory=list)
    dels: list[Pattern] = field(default_factory=list)
    adds: set[Atom] = field(default_factory=set)
    failed: bool = False


@dataclass
class SimulationReport:
    problems: list[PlanProblem]
    final_state: SymbolicState
    notes: list[str] = field(default_factory=list)


def step_label(step: SimStep) -> str:
    args = ", ".join(f"{v}" for v in step.args.values() if isinstance(v, (str, int, float)))
    return f"{step.id} ({step.robot} {step.skill}{' ' + args if args else ''})"


def _support(state: SymbolicState, atom: Pattern) -> set[Atom]:
    """The stored atoms a (possibly derived) atom rests on."""
    vocab = state.vocabulary
    bound = all(a is not None for a in atom)
    full: Atom = tuple(a for a in atom if a is not None)
    if atom[0] is not None and vocab.is_derived(atom[0]):
        return vocab.support(state, full) if bound else set()
    if bound:
        return {full}
    return {a for a in state.match(atom) if not vocab.is_derived(a[0])}


def _lenient_binding(
    state: SymbolicState, pre: Sequence[Condition], env: dict[str, str]
) -> dict[str, str]:
    """Bind what can be bound, condition by condition, for applying a failed step's effects."""
    env = dict(env)
    for c in pre:
        if c.negated or not c.variables() - set(env):
            continue
        for atom in state.match(ground(c, env)):
            for t, v in zip(c.terms, atom[1:], strict=True):
                if t.startswith("?") and t not in env:
                    env[t] = v
            break
    return env


def _explain(got: Unsatisfied, state: SymbolicState, cat: Domain) -> str:
    """Why a grounded precondition fails, in words a model (or a person) can act on."""
    c = got.condition
    bound = [a if not a.startswith("?") and a != "*" else "" for a in got.values]
    return state.vocabulary.explain(c.negated, c.predicate, bound, state, cat)


def simulate(
    steps: Sequence[SimStep],
    cat: Domain,
    initial: SymbolicState,
    *,
    ancestors: Mapping[str, set[str]],
    goal: Iterable[Atom] = (),
    allowed_holding: Iterable[str] = (),
) -> SimulationReport:
    """Run `steps` (in a topological order) over `initial`; `ancestors` maps each step id
    to the ids that must finish before it (transitively)."""
    state = initial.copy()
    problems: list[PlanProblem] = []
    notes: list[str] = []
    traces: list[_Trace] = []
    for step in steps:
        model = cat.skill_for(step.robot, step.skill)
        trace = _Trace()
        traces.append(trace)
        if model is None or not (model.preconditions or model.effects):
            continue
        env = {k: str(v) for k, v in step.args.items() if isinstance(v, (str, int, float, bool))}
        env["robot"] = step.robot
        try:
            got = check_preconditions(state, model.preconditions, env)
        except SkillDefinitionError as e:
            notes.append(
                f"{step.id}: the conditions of {step.skill} could not be evaluated ({e}); not simulated"
            )
            continue
        if isinstance(got, Unsatisfied):
            trace.failed = True
            problems.append(
                PlanProblem(
                    code="precondition_failed",
                    subtask=step.id,
                    message=f"subtask {step_label(step)}: precondition {got.grounded} fails: {_explain(got, state, cat)}",
                )
            )
            binding = _lenient_binding(state, model.preconditions, env)
        else:
            binding = got
            for c in model.preconditions:
                pattern = ground(c, binding)
                if c.negated:
                    trace.forbids.append(pattern)
                else:
                    trace.needs |= _support(state, pattern)
        change = change_of(model.effects, binding, strict=False)
        trace.dels += change.deletes
        trace.adds.update(change.adds)
        state = state.apply(change)

    problems += _conflicts(steps, traces, ancestors)
    failed = any(t.failed for t in traces)
    initial_held = {a for a in initial.atoms if a[0] == "holding"}
    allowed = set(allowed_holding)
    for atom in sorted(a for a in state.atoms if a[0] == "holding" and a not in initial_held):
        if atom[2] in allowed:
            continue
        problems.append(
            PlanProblem(
                code="object_left_in_hand",
                message=f"at the end of the plan {atom[1]} still holds {atom[2]}; put it down (place or deliver it) so no gripper is left full",
            )
        )
    moved = any(a[0] in ("on", "holding") for t in traces for a in t.adds)
    placement = {a for a in state.atoms if a[0] in ("on", "holding")}
    if (
        moved
        and not failed
        and placement == {a for a in initial.atoms if a[0] in ("on", "holding")}
    ):
        problems.append(
            PlanProblem(
                code="no_net_effect",
                message="the plan moves objects but leaves every one exactly where it started, so it changes nothing; "
                "plan the moves the instruction asks for",
            )
        )
    for atom in goal:
        held = atom[0] == HELD and state.holds(("holding", None, atom[1]))
        if not held and atom not in state.atoms and not state.holds(atom):
            subject = atom[2] if atom[0] == "holding" else atom[1]
            what = (
                describe_location(state, subject) if atom[0] in ("on", HELD, "holding") else "false"
            )
            problems.append(
                PlanProblem(
                    code="goal_not_met",
                    message=f"the instruction asks for {atom[0]}({', '.join(atom[1:])}), but after the plan {subject} is {what}",
                )
            )
    return SimulationReport(problems, state, notes)


def _conflicts(
    steps: Sequence[SimStep], traces: Sequence[_Trace], ancestors: Mapping[str, set[str]]
) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    for i, (a, ta) in enumerate(zip(steps, traces, strict=True)):
        for b, tb in zip(steps[i + 1 :], traces[i + 1 :], strict=True):
            if a.id in ancestors.get(b.id, set()) or b.id in ancestors.get(a.id, set()):
                continue
            why = _interference(a, ta, b, tb) or _interference(b, tb, a, ta)
            if why:
                problems.append(
                    PlanProblem(
                        code="conflict",
                        subtask=b.id,
                        message=f"subtasks {step_label(a)} and {step_label(b)} are not ordered by depends_on "
                        f"(they may run in any order or at once) but they interfere: {why}; "
                        "order them with depends_on or give the work to one robot",
                    )
                )
    return problems


def _fmt(atom: Pattern) -> str:
    return f"{atom[0]}({', '.join(a if a is not None else '*' for a in atom[1:])})"


def _interference(x: SimStep, tx: _Trace, y: SimStep, ty: _Trace) -> str | None:
    for pattern in tx.dels:
        for atom in ty.needs:
            if matches(pattern, atom):
                return f"{x.id} removes {_fmt(atom)}, which {y.id} needs"
    for pattern in ty.forbids:
        for atom in tx.adds:
            if matches(pattern, atom):
                return f"{x.id} makes {_fmt(atom)} true, which {y.id} needs to be false"
    return None
