"""The embedded planner: goal → search → a DAG of subtasks, with no model involved.

The sequential plan the search finds is lifted to a partial order: a subtask waits for
an earlier one only when they interfere (one adds or deletes what the other needs or
changes, or both are on the same robot), so independent work of different robots runs
in parallel; every order the DAG allows reaches the same end state. "then" in the
instruction adds the ordering the user asked for. The result is an ordinary Plan and
goes through the same checker as a model's plan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...contracts import Plan, PlanProblem, Subtask
from ...symbolic.conditions import Atom
from ...symbolic.search import (
    GroundAction,
    Grounding,
    SearchLimits,
    ground,
    relevant_places,
    search,
)
from ...symbolic.state import SymbolicState
from .catalogue import Catalogue
from .instructions import Goal

__all__ = ["EmbeddedPlanner", "EmbeddedResult", "fresh_ids", "partial_order"]

log = logging.getLogger(__name__)


@dataclass
class EmbeddedResult:
    plan: Plan | None
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expansions: int = 0
    seconds: float = 0.0


def fresh_ids(n: int, used: Iterable[str]) -> list[str]:
    """n subtask ids s1, s2, ... that are not in `used`."""
    taken = set(used)
    out: list[str] = []
    k = 1
    while len(out) < n:
        sid = f"s{k}"
        if sid not in taken:
            out.append(sid)
        k += 1
    return out


def partial_order(seq: Sequence[GroundAction], groups: Sequence[int] = ()) -> list[set[int]]:
    """For each action, the earlier actions it must wait for (transitively reduced).

    `groups[i]` is the instruction step ("then") action i serves: every action of a
    later step waits for the earlier steps."""
    n = len(seq)
    deps: list[set[int]] = [set() for _ in range(n)]
    for i in range(n):
        b = seq[i]
        for j in range(i):
            a = seq[j]
            if (
                a.robot == b.robot
                or a.add & b.pre
                or a.dele & b.pre
                or a.pre & b.dele
                or a.add & b.dele
                or a.dele & b.add
                or a.add & b.neg
                or a.neg & b.add
                or (groups and groups[j] < groups[i])
            ):
                deps[i].add(j)
    # transitive reduction: drop j when another dependency already waits for j
    ancestors: list[set[int]] = []
    for i in range(n):
        anc: set[int] = set()
        for j in deps[i]:
            anc |= {j} | ancestors[j]
        ancestors.append(anc)
    return [
        {j for j in deps[i] if not any(j in ancestors[k] for k in deps[i] if k != j)}
        for i in range(n)
    ]


class EmbeddedPlanner:
    """Plans a Goal from a state by search; deterministic for a given catalogue and state."""

    def __init__(self, limits: SearchLimits | None = None) -> None:
        self.limits = limits or SearchLimits()

    def plan(
        self, cat: Catalogue, state: SymbolicState, goal: Goal, *, used_ids: Iterable[str] = ()
    ) -> EmbeddedResult:
        final = goal.final
        objects = goal.objects
        # an object a robot holds may have to be put down to free the hand
        objects |= {a[2] for a in state.atoms if a[0] == "holding"}
        places = relevant_places(cat, state, objects, final)
        g = ground(cat, state, objects, places)
        start = g.state(state.atoms) | {
            g.id(("held", a[2])) for a in state.atoms if a[0] == "holding"
        }
        result = EmbeddedResult(None, notes=list(g.notes))
        seq: list[GroundAction] = []
        groups: list[int] = []
        current = start
        for k, group in enumerate(goal.groups):
            later = {Goal.subject(a) for gg in goal.groups[k + 1 :] for a in gg}
            mine = {Goal.subject(a) for a in group}
            protect = [
                a for gg in goal.groups[:k] for a in gg if Goal.subject(a) not in later | mine
            ]
            target = frozenset(g.id(a) for a in (*group, *protect))
            if target <= current:
                continue
            found = search(g, current, target, self.limits)
            result.expansions += found.expansions
            result.seconds += found.seconds
            if found.actions is None:
                result.problems.append(self._why(cat, g, current, group, found.reason))
                return result
            for act in found.actions:
                current = (current - act.dele) | act.add
            seq += found.actions
            groups += [k] * len(found.actions)
        if not seq:
            result.notes.append("the goal already holds; nothing to do")
            result.plan = Plan(subtasks=[])
            return result
        deps = partial_order(seq, groups)
        ids = fresh_ids(len(seq), used_ids)
        subtasks = [
            Subtask(
                id=ids[i],
                robot=a.robot,
                skill=a.skill,
                args=dict(a.args),
                depends_on=[ids[j] for j in sorted(deps[i])],
            )
            for i, a in enumerate(seq)
        ]
        result.plan = Plan(subtasks=subtasks)
        log.debug(
            "embedded plan: %d subtasks after %d expansions in %.3f s",
            len(seq),
            result.expansions,
            result.seconds,
        )
        return result

    @staticmethod
    def _why(
        cat: Catalogue, g: Grounding, state: frozenset[int], group: Sequence[Atom], reason: str
    ) -> PlanProblem:
        reachable = set(state) | {f for a in g.actions for f in a.add}
        for atom in group:
            if g.ids.get(atom) in reachable:
                continue
            obj = atom[1]
            if atom[0] == "held" or atom[0] == "on":
                grab = [
                    a for a in g.actions if ("holding", a.robot, obj) in (g.atoms[f] for f in a.add)
                ]
                if not grab:
                    return PlanProblem(
                        code="infeasible",
                        message=f"no available robot can get hold of {obj} where it is now",
                    )
                if atom[0] == "on":
                    return PlanProblem(
                        code="infeasible",
                        message=f"no available robot (or relay of robots) can put {obj} on {atom[2]} with the skills they offer",
                    )
            return PlanProblem(
                code="infeasible",
                message=f"the fleet's skills cannot make {atom[0]}({', '.join(atom[1:])}) true",
            )
        if reason == "unreachable" or reason == "no plan exists":
            return PlanProblem(
                code="infeasible",
                message=f"no sequence of the fleet's skills reaches {_fmt(group)} from the current state",
            )
        return PlanProblem(
            code="infeasible",
            message=f"the embedded planner found no plan for {_fmt(group)}: search {reason}",
        )


def _fmt(atoms: Sequence[Atom]) -> str:
    return ", ".join(f"{a[0]}({', '.join(a[1:])})" for a in atoms)
