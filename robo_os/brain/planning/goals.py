"""Goals a model writes: their JSON schema over the live names, reading an answer into a
`Goal` (robo_os.symbolic.goal), the names it uses, and whether a plan keeps its
constraints.

The schema (`goal_schema`) is what constrained decoding enforces: each fact is a list
`[predicate, name, name]` whose names are enums of the live robots, objects and places
of the right kind, so a small model cannot name what does not exist. The answer's form
is the goal language's JSON with one convenience for models: `facts` (reached first)
and optional `then` (later groups, in order) instead of `groups`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ...contracts import PlanProblem
from ...symbolic.conditions import Atom
from ...symbolic.goal import GOAL_PREDICATES, Goal, GoalFormatError
from ...symbolic.state import SymbolicState
from .catalogue import Catalogue
from .structure import close_names, listing

__all__ = [
    "SUBMIT_GOAL",
    "arg_kinds",
    "constraint_problems",
    "goal_predicates",
    "goal_problems",
    "goal_schema",
    "read_goal",
]

SUBMIT_GOAL = "submit_goal"
"""The tool a model calls in goal mode."""

# predicate -> the kinds of name each argument may be
_ARG_KINDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "on": (("object",), ("place", "object", "robot")),
    "holding": (("robot",), ("object",)),
    "held": (("object",),),
    "at": (("robot",), ("place",)),
    "open": (("place", "object"),),
    "closed": (("place", "object"),),
}


# the vocabulary's kinds as the catalogue names things
_NAME_KIND = {"carrier": "robot", "receptacle": "object"}


def goal_predicates(cat: Catalogue) -> dict[str, int]:
    """Predicate -> arity of what a goal may name here: the goal language's own plus the
    facts the fleet's skills declare."""
    return {**GOAL_PREDICATES, **{name: f.arity for name, f in cat.facts.items()}}


def arg_kinds(cat: Catalogue, pred: str) -> tuple[tuple[str, ...], ...]:
    """The kinds of name each argument of a goal predicate may be (empty: unknown)."""
    built_in = _ARG_KINDS.get(pred)
    if built_in is not None:
        return built_in
    fact = cat.facts.get(pred)
    if fact is None:
        return ()
    return tuple(tuple(dict.fromkeys(_NAME_KIND.get(k, k) for k in kinds)) for kinds in fact.kinds)


def _names(cat: Catalogue, kinds: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for k in kinds for n in cat.names(k)))


def _names_schema(names: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": names}}


def goal_schema(cat: Catalogue) -> dict[str, Any]:
    """JSON schema of a goal over this world's live names (for constrained output)."""
    variants = []
    for pred in goal_predicates(cat):
        if pred in cat.facts and not cat.facts[pred].recorded:
            continue  # nothing could check it: not a goal (goal_problems says so)
        enums = [_names(cat, kinds) for kinds in arg_kinds(cat, pred)]
        if not all(enums):
            continue
        n = 1 + len(enums)
        variants.append(
            {
                "type": "array",
                "prefixItems": [
                    {"type": "string", "const": pred},
                    *({"type": "string", "enum": e} for e in enums),
                ],
                "minItems": n,
                "maxItems": n,
            }
        )
    fact: dict[str, Any] = variants[0] if len(variants) == 1 else {"anyOf": variants}
    facts = {"type": "array", "items": fact}
    props: dict[str, Any] = {
        "facts": facts,
        "then": {
            "type": "array",
            "items": {**facts, "minItems": 1},
            "description": "Only when the instruction orders steps: the later groups of facts.",
        },
    }
    if cat.robots:
        props["use"] = _names_schema(list(cat.robots))
        props["avoid"] = _names_schema(list(cat.robots))
    if cat.objects:
        props["keep"] = _names_schema(list(cat.objects))
    props["error"] = {
        "type": "string",
        "description": "Only when the instruction cannot be done: why (facts empty).",
    }
    return {
        "type": "object",
        "properties": props,
        "required": ["facts"],
        "additionalProperties": False,
    }


def read_goal(value: Any, instruction: str = "") -> tuple[Goal | None, list[PlanProblem]]:
    """The goal in a model's answer (`facts`/`then`, or the goal language's own
    `groups`/`facts`), or the problems naming what is malformed."""
    if isinstance(value, dict) and "goal" in value and "facts" not in value:
        value = value["goal"]
    if not isinstance(value, dict):
        return None, [
            PlanProblem(
                code="invalid_goal",
                message=f'the goal must be an object {{"facts": [...]}}, got {type(value).__name__}',
            )
        ]
    data = {k: v for k, v in value.items() if k not in ("then", "error")}
    then = value.get("then")
    if then:
        if not isinstance(then, list) or "facts" not in value:
            return None, [
                PlanProblem(
                    code="invalid_goal",
                    message="'then' must be a list of fact lists, after 'facts'",
                )
            ]
        data["groups"] = [data.pop("facts"), *then]
    data["instruction"] = instruction
    try:
        # any predicate here: resolving against the catalogue refuses what it lacks
        return Goal.parse(data, predicates=None), []
    except GoalFormatError as e:
        return None, [PlanProblem(code="invalid_goal", message=f"the goal is malformed: {e}")]


def _fact(atom: Atom) -> str:
    return f"{atom[0]}({', '.join(atom[1:])})"


def goal_problems(goal: Goal, cat: Catalogue) -> list[PlanProblem]:
    """Every name in the goal that is not a live name of the kind its place needs."""
    problems: list[PlanProblem] = []

    def need(name: str, kinds: Sequence[str], where: str) -> None:
        if cat.kinds_of(name) & set(kinds):
            return
        other = cat.kinds_of(name)
        known = _names(cat, kinds)
        hint = (
            f"; {name!r} is {'/'.join(sorted(other))}, not {' or '.join(kinds)}"
            if other
            else close_names(name, known)
        )
        problems.append(
            PlanProblem(
                code=f"unknown_{kinds[0]}",
                message=f"{where}: unknown {' or '.join(kinds)} {name!r}{hint} (known: {listing(known)})",
            )
        )

    for group in goal.groups:
        for atom in group:
            kinds_of = arg_kinds(cat, atom[0])
            if len(kinds_of) != len(atom) - 1:
                known = ", ".join(goal_predicates(cat))
                problems.append(
                    PlanProblem(
                        code="invalid_goal",
                        message=f"goal fact {_fact(atom)}: unknown predicate {atom[0]!r}"
                        f" (a goal here names {known}){close_names(atom[0], list(goal_predicates(cat)))}",
                    )
                )
                continue
            fact = cat.facts.get(atom[0])
            if fact is not None and not fact.recorded:
                problems.append(
                    PlanProblem(
                        code="invalid_goal",
                        message=f"goal fact {_fact(atom)}: memory does not record"
                        f" {atom[0]!r} (declared recorded=False), so whether it holds"
                        " cannot be checked; plans may use it on the way, a goal may not",
                    )
                )
            for name, kinds in zip(atom[1:], kinds_of, strict=True):
                need(name, kinds, f"goal fact {_fact(atom)}")
    for key, names, kind in (
        ("use", goal.use, "robot"),
        ("avoid", goal.avoid, "robot"),
        ("keep", goal.keep, "object"),
    ):
        for name in sorted(names):
            need(name, (kind,), f"goal constraint {key}")
    if goal.use & goal.avoid:
        problems.append(
            PlanProblem(
                code="invalid_goal",
                message=f"the goal both uses and avoids {', '.join(sorted(goal.use & goal.avoid))}",
            )
        )
    return problems


def _where(state: SymbolicState, obj: str) -> set[Atom]:
    return {a for a in state.atoms if a[0] in ("on", "holding") and obj in a[1:]}


def constraint_problems(
    subtasks: Sequence[tuple[str, str, str, dict[str, Any]]],
    goal: Goal,
    cat: Catalogue,
    initial: SymbolicState,
    final: SymbolicState | None,
) -> list[PlanProblem]:
    """The goal's constraints a plan breaks: a robot it must avoid (or not among those
    to use) runs a subtask; an object to keep is moved (a subtask whose skill changes
    that argument, or it ends elsewhere). `subtasks`: (id, robot, skill, args)."""
    problems: list[PlanProblem] = []
    moved: set[str] = set()
    for sid, robot, skill, args in subtasks:
        if robot in goal.avoid:
            problems.append(
                PlanProblem(
                    code="constraint_broken",
                    message=f"subtask {sid} uses {robot}, but the goal says to avoid {robot}",
                    subtask=sid,
                )
            )
        elif goal.use and robot not in goal.use:
            problems.append(
                PlanProblem(
                    code="constraint_broken",
                    message=f"subtask {sid} uses {robot}, but the goal allows only {', '.join(sorted(goal.use))}",
                    subtask=sid,
                )
            )
        model = cat.skill_for(robot, skill)
        effects = " ".join(model.spec.effects) if model is not None else ""
        for param, value in args.items():
            if (
                value in goal.keep
                and value not in moved
                and re.search(rf"\b{re.escape(param)}\b", effects)
            ):
                moved.add(value)
                problems.append(
                    PlanProblem(
                        code="constraint_broken",
                        message=f"subtask {sid} ({skill}) moves {value}, but the goal says to keep {value} where it is",
                        subtask=sid,
                    )
                )
    if final is not None:
        for obj in sorted(goal.keep - moved):
            if _where(initial, obj) != _where(final, obj):
                problems.append(
                    PlanProblem(
                        code="constraint_broken",
                        message=f"the plan moves {obj}, but the goal says to keep {obj} where it is",
                    )
                )
    return problems
