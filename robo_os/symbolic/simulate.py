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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..brain.planning.catalogue import Catalogue
from ..contracts import PlanProblem
from ..errors import SkillDefinitionError
from .conditions import Atom, Condition, SymbolicState, Unsatisfied, check_preconditions
from .state import MANIPULATE, NAVIGATE, describe_location

__all__ = ["SimStep", "SimulationReport", "simulate", "step_label"]

Pattern = tuple[str | None, ...]


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


def _matches(pattern: Pattern, atom: Atom) -> bool:
    return len(pattern) == len(atom) and all(
        p is None or p == a for p, a in zip(pattern, atom, strict=True)
    )


def _resolve(term: str, env: Mapping[str, str]) -> str | None:
    if term == "*":
        return None
    if term.startswith("'"):
        return term[1:-1]
    return env.get(term)


def _ground(c: Condition, env: Mapping[str, str]) -> Pattern:
    return (c.predicate, *(_resolve(t, env) for t in c.terms))


def _support(state: SymbolicState, atom: Pattern) -> set[Atom]:
    """The stored atoms a (possibly derived) atom rests on."""
    if atom[0] == "reaches" and len(atom) == 3 and atom[1] is not None and atom[2] is not None:
        r, t = atom[1], atom[2]
        for _, _r, place in state.match(("at", r, None)):
            if place == t:
                return {("at", r, place)}
            if state.holds(("at", t, place)):
                return {("at", r, place), ("at", t, place)}
        return set()
    if all(a is not None for a in atom):
        return {tuple(a for a in atom if a is not None)}
    return {a for a in state.match(atom) if a[0] not in state.derived}


def _lenient_binding(
    state: SymbolicState, pre: Sequence[Condition], env: dict[str, str]
) -> dict[str, str]:
    """Bind what can be bound, condition by condition, for applying a failed step's effects."""
    env = dict(env)
    for c in pre:
        if c.negated or not c.variables() - set(env):
            continue
        for atom in state.match(_ground(c, env)):
            for t, v in zip(c.terms, atom[1:], strict=True):
                if t.startswith("?") and t not in env:
                    env[t] = v
            break
    return env


def _apply(
    state: SymbolicState, effects: Sequence[Condition], env: Mapping[str, str], trace: _Trace
) -> SymbolicState:
    new = state.copy()
    for c in effects:
        if c.negated:
            pattern = _ground(c, env)
            trace.dels.append(pattern)
            for atom in [a for a in new.atoms if a[0] == pattern[0] and _matches(pattern, a)]:
                new.atoms.discard(atom)
    for c in effects:
        if not c.negated:
            vals = _ground(c, env)
            if all(v is not None for v in vals):
                atom = tuple(v for v in vals if v is not None)
                new.atoms.add(atom)
                trace.adds.add(atom)
    return new


_GROUNDED = re.compile(r"^(not )?([a-z_][a-z0-9_]*)\((.*)\)$")


def _explain(grounded: str, state: SymbolicState, cat: Catalogue) -> str:
    """Why a grounded precondition fails, in words a model (or a person) can act on."""
    m = _GROUNDED.match(grounded)
    if not m:
        return "it does not hold"
    negated, pred = bool(m.group(1)), m.group(2)
    args = [a.strip() for a in m.group(3).split(",")] if m.group(3).strip() else []
    bound: list[str] = [a if not a.startswith("?") and a != "*" else "" for a in args]

    def where_robot(r: str) -> str:
        places = sorted(a[2] for a in state.match(("at", r, None)))
        return ", ".join(places) if places else "no known place"

    def holds_what(r: str) -> str:
        held = sorted(a[2] for a in state.match(("holding", r, None)))
        return ", ".join(held) if held else "nothing"

    if negated:
        found = next(state.match((pred, *(b or None for b in bound))), None)
        return (
            f"{pred}({', '.join(found[1:])}) holds at that point"
            if found
            else "it holds at that point"
        )
    if pred == "at" and len(bound) == 2 and bound[0]:
        r, p = bound
        robot = cat.robots.get(r)
        fix = (
            f"; navigate {r} to {p} before this subtask"
            if robot and NAVIGATE in robot.capabilities
            else (f"; {r} cannot move" if robot else "")
        )
        return f"{r} is at {where_robot(r)}, not at {p}{fix}"
    if pred == "on" and len(bound) == 2 and bound[0]:
        o, loc = bound
        here = describe_location(state, o)
        return (
            f"{o} is {here}, not on {loc}"
            if loc
            else f"{o} is not on any place or tray (it is {here})"
        )
    if pred == "holding" and len(bound) == 2 and bound[0]:
        r, o = bound
        extra = f"; {o} is {describe_location(state, o)}" if o else ""
        return f"{r} holds {holds_what(r)}{extra}" + (
            "; it must pick it first" if holds_what(r) == "nothing" else ""
        )
    if pred == "hand_empty" and bound and bound[0]:
        r = bound[0]
        robot = cat.robots.get(r)
        if robot is not None and MANIPULATE not in robot.capabilities:
            return f"{r} has no gripper (no '{MANIPULATE}' capability)"
        return f"{r}'s hand is already full: it holds {holds_what(r)}"
    if pred == "reaches" and len(bound) == 2 and bound[0]:
        r, t = bound
        if t is None:
            return f"{r} (at {where_robot(r)}) reaches none of the places it would need"
        robot = cat.robots.get(r)
        fixed = robot is not None and NAVIGATE not in robot.capabilities
        if t in cat.robots:
            return f"{r} is at {where_robot(r)} and {t} is at {where_robot(t)}: they are not at the same place"
        if fixed:
            return f"{r} cannot move and reaches only {where_robot(r)}, not {t}"
        return f"{r} is at {where_robot(r)}, not at {t}; navigate {r} to {t} first"
    if pred == "open" and bound and bound[0]:
        return f"{bound[0]} is closed; open it first"
    return "it does not hold at that point"


def simulate(
    steps: Sequence[SimStep],
    cat: Catalogue,
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
                    message=f"subtask {step_label(step)}: precondition {got.grounded} fails: {_explain(got.grounded, state, cat)}",
                )
            )
            binding = _lenient_binding(state, model.preconditions, env)
        else:
            binding = got
            for c in model.preconditions:
                pattern = _ground(c, binding)
                if c.negated:
                    trace.forbids.append(pattern)
                else:
                    trace.needs |= _support(state, pattern)
        state = _apply(state, model.effects, binding, trace)

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
        held = atom[0] == "held" and next(state.match(("holding", None, atom[1])), None) is not None
        if not held and atom not in state.atoms and not state.holds(atom):
            subject = atom[2] if atom[0] == "holding" else atom[1]
            what = (
                describe_location(state, subject)
                if atom[0] in ("on", "held", "holding")
                else "false"
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
            if _matches(pattern, atom):
                return f"{x.id} removes {_fmt(atom)}, which {y.id} needs"
    for pattern in ty.forbids:
        for atom in tx.adds:
            if _matches(pattern, atom):
                return f"{x.id} makes {_fmt(atom)} true, which {y.id} needs to be false"
    return None
