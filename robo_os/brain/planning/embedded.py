"""The embedded planner: goal → search → a DAG of subtasks, with no model involved.

The sequential plan the search finds is lifted to a partial order: a subtask waits for
an earlier one only when they interfere (one adds or deletes what the other needs or
changes, or both are on the same robot), so independent work of different robots runs
in parallel; every order the DAG allows reaches the same end state. "then" in the
instruction adds the ordering the user asked for. The result is an ordinary Plan and
goes through the same checker as a model's plan.

Which robots do what is chosen for time, not for the number of actions
(robo_os.brain.planning.allocation): each goal atom is planned as a chain by the team
of robots that ends it soonest given what the others already do, so independent goals
go to different robots and relays are used when they are faster. The plan carries its
expected duration (robo_os.brain.planning.timing).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
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
from .allocation import AllocationStats, Timeline, allocate_group, interferes
from .candidates import (
    FALLBACK_ALL_MAX,
    GROUND_ALL_MAX,
    PER_KIND,
    WIDER_PER_KIND,
    candidate_robots,
    restricted,
)
from .catalogue import Catalogue
from .instructions import Goal
from .interface import FailedCall
from .timing import Timing, schedule

__all__ = ["EmbeddedPlanner", "EmbeddedResult", "fresh_ids", "partial_order"]

log = logging.getLogger(__name__)

COMPARE_JOINT_MAX = 4
"""Up to this many goal atoms, the allocated plan is also compared with the fewest-actions
plan of the joint search (the better expected time is kept); that search gets a small
budget (`COMPARE_LIMITS`): beyond a few objects it is slow or gives up."""
COMPARE_LIMITS = SearchLimits(max_expansions=2000, max_seconds=1.0)


@dataclass
class EmbeddedResult:
    plan: Plan | None
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expansions: int = 0
    seconds: float = 0.0
    allocation: AllocationStats = field(default_factory=AllocationStats)


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
            if interferes(a, b) or (groups and groups[j] < groups[i]):
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
    """Plans a Goal from a state by search; deterministic for a given catalogue and state.

    allocate: choose robots for the expected finish time (False: the search's fewest
    actions, whoever does them — the baseline the fleet benchmark compares with).
    solver_seconds: CP-SAT's deterministic time budget per "then" step (0: greedy only).
    compare_joint: also try the fewest-actions plan for small goals (COMPARE_JOINT_MAX)."""

    def __init__(
        self,
        limits: SearchLimits | None = None,
        *,
        timing: Timing | None = None,
        allocate: bool = True,
        solver_seconds: float = 0.5,
        compare_joint: bool = True,
    ) -> None:
        self.limits = limits or SearchLimits()
        self.timing = timing or Timing()
        self.allocate = allocate
        self.solver_seconds = solver_seconds
        self.compare_joint = compare_joint

    def plan(
        self,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal,
        *,
        used_ids: Iterable[str] = (),
        avoid: Sequence[FailedCall] = (),
        ready_at: Mapping[str, float] | None = None,
    ) -> EmbeddedResult:
        """A plan for `goal` from `state`; it contains no call of `avoid` (calls that
        failed in this task, ruled out of the search). `ready_at`: when robots busy
        with other tasks are expected to be free (seconds from now): their chains
        start then, and the expected duration includes the wait.

        The goal's constraints bound the search: only robots it allows act (`use`,
        `avoid`), and no action moves an object it keeps. When no plan keeps them but
        one exists that moves kept objects, the problem names those objects."""
        out = self._narrowed(cat, state, goal, used_ids=used_ids, avoid=avoid, ready_at=ready_at)
        if out.plan is not None or not goal.keep:
            return out
        # would it work if the kept objects could move? then say which ones it needs
        free = dataclasses.replace(goal, keep=frozenset())
        trial = self._narrowed(cat, state, free, used_ids=used_ids, avoid=avoid, ready_at=ready_at)
        if trial.plan is None:
            return out
        moved = sorted(
            {
                o
                for s in trial.plan.subtasks
                for o in goal.keep
                if o in (str(v) for v in s.args.values())
            }
        ) or sorted(goal.keep)
        out.problems = [
            PlanProblem(
                code="infeasible",
                message=f"the goal cannot be reached without moving {', '.join(moved)}, which"
                " the goal says to keep where " + ("it is" if len(moved) == 1 else "they are"),
            )
        ]
        return out

    def _narrowed(
        self,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal,
        *,
        used_ids: Iterable[str] = (),
        avoid: Sequence[FailedCall] = (),
        ready_at: Mapping[str, float] | None = None,
    ) -> EmbeddedResult:
        """`_plan` over the robots that can matter (robo_os.brain.planning.candidates),
        widening the choice when they find no plan; small fleets are planned whole."""
        fleet = len(cat.available_robots)
        if fleet <= GROUND_ALL_MAX:
            return self._plan(cat, state, goal, used_ids=used_ids, avoid=avoid, ready_at=ready_at)
        objects, places = self._scope(cat, state, goal)
        out: EmbeddedResult | None = None
        tried: set[str] = set()
        for per_kind in (PER_KIND, WIDER_PER_KIND, None):
            if per_kind is None:
                if fleet > FALLBACK_ALL_MAX:
                    break
                chosen = set(cat.available_robots)
            else:
                chosen = candidate_robots(
                    cat,
                    objects,
                    places,
                    timing=self.timing,
                    per_kind=per_kind,
                    ready_at=ready_at,
                    named=goal.use,
                )
            if chosen == tried:
                continue
            tried = chosen
            view = cat if len(chosen) >= fleet else restricted(cat, chosen)
            out = self._plan(view, state, goal, used_ids=used_ids, avoid=avoid, ready_at=ready_at)
            if out.plan is not None:
                if view is not cat:
                    out.notes.append(
                        f"planned with {len(chosen)} of the {fleet} available robots"
                        " (those that can get to the goal's objects soonest)"
                    )
                return out
        assert out is not None
        return out

    @staticmethod
    def _scope(cat: Catalogue, state: SymbolicState, goal: Goal) -> tuple[set[str], list[str]]:
        """The objects a goal's actions are about and the places they are on or go to."""
        objects, _ = _goal_objects(cat, state, goal)
        return objects, relevant_places(cat, state, objects, goal.final, robots=False)

    def _plan(
        self,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal,
        *,
        used_ids: Iterable[str] = (),
        avoid: Sequence[FailedCall] = (),
        ready_at: Mapping[str, float] | None = None,
    ) -> EmbeddedResult:
        final = goal.final
        objects, held = _goal_objects(cat, state, goal)
        places = relevant_places(cat, state, objects, final)
        # the allocation plans each object on its own: its actions are enough (an
        # object that cannot be planned alone sends the goal to the joint search)
        g = ground(cat, state, objects, places, per_object=self.allocate, shared=held)
        full = frozenset(f.full for f in avoid if f.full)
        g.actions = [
            a
            for a in g.actions
            if goal.allows(a.robot)
            and not _moves(g, a, goal.keep)
            and not _fills(g, a, full)
            and not any(f.matches(a.robot, a.skill, dict(a.args)) for f in avoid)
        ]
        robots = [r for r in cat.available_robots if goal.allows(r)]
        start = g.state(state.atoms) | {
            g.id(("held", a[2])) for a in state.atoms if a[0] == "holding"
        }
        if not robots and (goal.use or goal.avoid) and not all(g.id(a) in start for a in final):
            result = EmbeddedResult(None)
            result.problems.append(
                PlanProblem(
                    code="infeasible",
                    message="no available robot is left by the goal's "
                    + " and ".join(
                        f"{k} ({', '.join(sorted(v))})"
                        for k, v in (("use", goal.use), ("avoid", goal.avoid))
                        if v
                    ),
                )
            )
            return result
        result = EmbeddedResult(None, notes=list(g.notes))
        seq: list[GroundAction] = []
        groups: list[int] = []
        current = start
        ready = dict(ready_at or {})
        timeline = Timeline(cat, self.timing, free=dict(ready))
        subject = {a: Goal.subject(a) for gg in goal.groups for a in gg}
        for k, group in enumerate(goal.groups):
            later = {Goal.subject(a) for gg in goal.groups[k + 1 :] for a in gg}
            mine = {Goal.subject(a) for a in group}
            protect = [
                a for gg in goal.groups[:k] for a in gg if Goal.subject(a) not in later | mine
            ]
            target = frozenset(g.id(a) for a in (*group, *protect))
            if target <= current:
                continue
            if self.allocate:
                got = allocate_group(
                    cat,
                    g,
                    timeline,
                    current,
                    group,
                    k,
                    subject=subject,
                    extra_objects=held,
                    limits=self.limits,
                    stats=result.allocation,
                    solver_seconds=self.solver_seconds,
                    robots=robots,
                )
                if got is not None and target <= got[1]:
                    seq += got[0]
                    groups += [k] * len(got[0])
                    current = got[1]
                    continue
                if got is not None:  # cannot happen: chains touch only their own object
                    log.error("allocated chains undid an earlier goal; searching jointly")
                # goals that interact (one object into another): plan them together
                return self._joint(cat, state, goal, used_ids, avoid=avoid, ready_at=ready)
            found = search(g, current, target, self.limits)
            result.expansions += found.expansions
            result.seconds += found.seconds
            if found.actions is None:
                result.problems.append(self._why(cat, g, current, group, found.reason))
                return result
            for act in found.actions:
                current = (current - act.dele) | act.add
            timeline.append(found.actions, k)
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
        expected = schedule(subtasks, cat, self.timing, ready_at=ready).makespan
        result.plan = Plan(subtasks=subtasks, expected_duration_s=round(expected, 3))
        if (
            self.allocate
            and self.compare_joint
            and len(goal.final) <= COMPARE_JOINT_MAX
            and result.allocation.method != "joint"
        ):
            # never worse than the fewest-actions plan (usually one robot doing it all)
            joint = self._joint(
                cat, state, goal, used_ids, COMPARE_LIMITS, avoid=avoid, ready_at=ready
            )
            if (
                joint.plan is not None
                and joint.plan.expected_duration_s is not None
                and joint.plan.expected_duration_s < expected - 1e-6
            ):
                joint.expansions += result.expansions
                return joint
        log.debug(
            "embedded plan: %d subtasks after %d expansions in %.3f s, expected %.1f s (%s)",
            len(seq),
            result.expansions,
            result.seconds,
            expected,
            result.allocation.method,
        )
        return result

    def _joint(
        self,
        cat: Catalogue,
        state: SymbolicState,
        goal: Goal,
        used_ids: Iterable[str],
        limits: SearchLimits | None = None,
        *,
        avoid: Sequence[FailedCall] = (),
        ready_at: Mapping[str, float] | None = None,
    ) -> EmbeddedResult:
        joint = EmbeddedPlanner(
            limits or self.limits,
            timing=self.timing,
            allocate=False,
            solver_seconds=self.solver_seconds,
        )
        out = joint._plan(cat, state, goal, used_ids=used_ids, avoid=avoid, ready_at=ready_at)
        out.allocation.method = "joint"
        return out

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


def _goal_objects(
    cat: Catalogue, state: SymbolicState, goal: Goal
) -> tuple[set[str], set[str]]:
    """(the objects a plan for the goal acts on, those of them that are shared by every
    object's actions: held ones and receptacles the goal fills)."""
    objects = goal.objects
    # the objects a plug-in's declared fact names (scanned(cup)) are the goal's too
    declared = [a for gg in goal.groups for a in gg if a[0] in cat.facts]
    objects |= {x for a in declared for x in a[1:] if x in cat.objects}
    # an object a robot holds may have to be put down to free the hand
    held = {a[2] for a in state.atoms if a[0] == "holding"}
    # a receptacle the goal puts things in is an argument of those actions (put_in)
    held |= {a[2] for a in goal.final if a[0] == "on" and a[2] in cat.objects}
    return objects | held, held


def _fills(g: Grounding, action: GroundAction, full: frozenset[str]) -> bool:
    """Whether the action puts an object onto or into a place found to have no room."""
    if not full:
        return False
    return any(g.atoms[f][0] in ("on", "in") and g.atoms[f][2] in full for f in action.add)


def _moves(g: Grounding, action: GroundAction, keep: frozenset[str]) -> bool:
    """Whether the action changes where an object of `keep` is (on, held, holding)."""
    if not keep:
        return False
    for f in action.add | action.dele:
        atom = g.atoms[f]
        if atom[0] in ("on", "held") and atom[1] in keep:
            return True
        if atom[0] == "holding" and atom[2] in keep:
            return True
    return False


def _fmt(atoms: Sequence[Atom]) -> str:
    return ", ".join(f"{a[0]}({', '.join(a[1:])})" for a in atoms)
