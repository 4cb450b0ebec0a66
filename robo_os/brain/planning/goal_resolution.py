"""A goal an app submits, resolved against the live catalogue; and what a plan must keep.

`resolve_goal` reads the goal language's JSON (robo_os.symbolic.goal, strictly: unknown
keys are refused) and checks it against the world the planner sees: every name exists
and is of the kind its place needs (`robo_os.brain.planning.goals.goal_problems`, with
"did you mean"), an object's destination in `on(O, L)` is a place, a receptacle object
or a robot with a tray, and the goal does not contradict itself
(`Goal.contradictions`). Each problem is a `PlanProblem` the API answers with a 422.

`keeps_constraints` names what a plan breaks of a goal's constraints (a robot it must
avoid or not use, a kept object moved), for explicit plans and replans.
"""

from __future__ import annotations

from typing import Any

from ...contracts import Plan, PlanProblem
from ...symbolic.goal import Goal, GoalFormatError, fact_text
from ...symbolic.state import SymbolicState
from ...symbolic.vocabulary import CARRY
from .catalogue import Catalogue
from .goals import constraint_problems, goal_predicates, goal_problems

__all__ = ["RECEPTACLE_TYPES", "is_receptacle", "keeps_constraints", "resolve_goal"]

RECEPTACLE_TYPES = frozenset(
    {"bowl", "cup", "mug", "box", "basket", "bin", "tray", "jar", "bucket", "pot", "pan",
     "container", "crate", "bag", "vase", "drawer", "glass"}
)  # fmt: skip
"""Object types that count as receptacles when an object's attrs do not say
(`receptacle: true` or `false` always wins)."""

INVALID = "invalid_goal"
CONTRADICTORY = "contradictory_goal"
BAD_DESTINATION = "invalid_destination"


def is_receptacle(cat: Catalogue, name: str) -> bool:
    """Whether the object is something others rest in."""
    obj = cat.objects.get(name)
    if obj is None:
        return False
    flag = obj.attrs.get("receptacle")
    if isinstance(flag, bool):
        return flag
    return obj.type.lower() in RECEPTACLE_TYPES


def resolve_goal(data: Any, cat: Catalogue) -> tuple[Goal | None, list[PlanProblem]]:
    """The goal of an app's request, or every problem with it (the goal then None)."""
    try:
        goal = Goal.parse(data, strict=True, predicates=goal_predicates(cat))
    except GoalFormatError as e:
        return None, [PlanProblem(code=INVALID, message=f"goal: {e}")]
    problems = goal_problems(goal, cat)
    problems += _destinations(goal, cat)
    problems += [
        PlanProblem(code=CONTRADICTORY, message=f"the goal contradicts itself: {c}")
        for c in goal.contradictions()
    ]
    return (None, problems) if problems else (goal, [])


def _destinations(goal: Goal, cat: Catalogue) -> list[PlanProblem]:
    out: list[PlanProblem] = []
    for atom in dict.fromkeys(a for g in goal.groups for a in g if a[0] == "on"):
        loc = atom[2]
        why = None
        if loc in cat.places:
            continue
        if loc in cat.robots and CARRY not in cat.robots[loc].capabilities:
            why = f"robot {loc} has no tray (no '{CARRY}' capability)"
        elif loc in cat.objects and loc not in cat.robots and not is_receptacle(cat, loc):
            why = (
                f"{loc} is not a receptacle ({cat.objects[loc].type}; an object others rest"
                " in says `receptacle: true` in its attrs)"
            )
        if why is not None:
            out.append(
                PlanProblem(
                    code=BAD_DESTINATION,
                    message=f"goal fact {fact_text(atom)}: {why}; things go on places,"
                    " robot trays and receptacles",
                )
            )
    return out


def keeps_constraints(
    plan: Plan, goal: Goal, cat: Catalogue, state: SymbolicState, final: SymbolicState | None
) -> list[PlanProblem]:
    """The goal's constraints the plan breaks (empty: it keeps them), each naming the
    subtask and the robot or object."""
    if not (goal.use or goal.avoid or goal.keep):
        return []
    calls = [(s.id, s.robot, s.skill, dict(s.args)) for s in plan.subtasks]
    return constraint_problems(calls, goal, cat, state, final)
