"""Allocation: which robots do which goal, so that the task ends soonest (makespan).

The embedded planner splits a goal into its atoms (one per object: `on(apple, table)`),
plans each atom as a chain of actions by a *team* (one robot, a pair of the robots
nearest the object, or the whole fleet, which finds relays of three or more) and
assigns one chain per atom so that the expected finish time is smallest:

- **CP-SAT** (OR-Tools): every (atom, team) chain, timed from the current state, is an
  optional set of intervals on its robots; exactly one chain per atom, no robot runs two
  intervals at once, minimise the latest end. A deterministic time limit bounds it; the
  solver's choice of teams and its order of atoms are then planned for real, each chain
  searched from the state the previous ones leave (robots have moved; hands are full).
- **Greedy** (always, and the fallback when OR-Tools is missing or finds nothing in
  time): atoms longest first (their shortest chain), and least flexible first, each
  given the team whose chain, appended to the plan so far, ends soonest; and each robot
  alone doing every atom.

Both are timed by the same `Timeline` (robo_os.brain.planning.timing's durations, a
chain waiting only for the actions it interferes with), and the one that ends sooner
is kept. When an atom cannot be planned on its own (goals that interact: one object
put into another), the embedded planner searches the whole goal jointly, as before.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from robo_os_memory.models import Pose

from ...symbolic.conditions import Atom
from ...symbolic.search import GroundAction, Grounding, SearchLimits, search
from .catalogue import Catalogue
from .timing import Timing, navigation_target

__all__ = [
    "AllocationStats",
    "Timeline",
    "allocate_group",
    "interferes",
]

log = logging.getLogger(__name__)

PAIR_POOL = 4
"""Pairs are formed among this many robots nearest the object (relays beyond: the fleet)."""
SOLVER_OPTIONS = 6
"""Chains per atom offered to CP-SAT."""
SCALE = 10
"""CP-SAT works in integers: tenths of a second."""


def interferes(a: GroundAction, b: GroundAction) -> bool:
    """One of the two adds or deletes what the other needs, adds or deletes."""
    return bool(
        a.robot == b.robot
        or a.add & b.pre
        or a.dele & b.pre
        or a.pre & b.dele
        or a.add & b.dele
        or a.dele & b.add
        or a.add & b.neg
        or a.neg & b.add
    )


@dataclass
class Timeline:
    """A growing action sequence with the time each action is expected to end: an
    action starts when the earlier actions it interferes with (and every action of an
    earlier "then" step) have ended; each robot runs its actions in sequence order."""

    cat: Catalogue
    timing: Timing
    actions: list[GroundAction] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    free: dict[str, float] = field(default_factory=dict)
    pose: dict[str, Pose | None] = field(default_factory=dict)
    group_end: dict[int, float] = field(default_factory=dict)

    @property
    def makespan(self) -> float:
        return max(self.ends, default=0.0)

    def copy(self) -> Timeline:
        return Timeline(
            self.cat,
            self.timing,
            list(self.actions),
            list(self.groups),
            list(self.ends),
            dict(self.free),
            dict(self.pose),
            dict(self.group_end),
        )

    def where(self, robot: str) -> Pose | None:
        return self.pose[robot] if robot in self.pose else self.timing.start_pose(self.cat, robot)

    def _times(
        self, new: Sequence[GroundAction], group: int
    ) -> tuple[list[float], list[float], dict[str, float], dict[str, Pose | None]]:
        free: dict[str, float] = {}
        pose: dict[str, Pose | None] = {}
        before = max((e for g, e in self.group_end.items() if g < group), default=0.0)
        starts: list[float] = []
        ends: list[float] = []
        for i, b in enumerate(new):
            t = max(before, free.get(b.robot, self.free.get(b.robot, 0.0)))
            for j, a in enumerate(self.actions):
                if self.ends[j] > t and interferes(a, b):
                    t = self.ends[j]
            for j in range(i):
                if ends[j] > t and interferes(new[j], b):
                    t = ends[j]
            here = pose[b.robot] if b.robot in pose else self.where(b.robot)
            args = dict(b.args)
            d = self.timing.duration(self.cat, b.robot, b.skill, args, here)
            target = navigation_target(self.cat, b.robot, b.skill, args)
            pose[b.robot] = self.cat.places[target].pose if target is not None else here
            free[b.robot] = t + d
            starts.append(t)
            ends.append(t + d)
        return starts, ends, free, pose

    def trial(self, new: Sequence[GroundAction], group: int = 0) -> float:
        """The makespan if `new` were appended."""
        _, ends, _, _ = self._times(new, group)
        return max([self.makespan, *ends])

    def append(self, new: Sequence[GroundAction], group: int = 0) -> None:
        _, ends, free, pose = self._times(new, group)
        self.actions += new
        self.groups += [group] * len(new)
        self.ends += ends
        self.free.update(free)
        self.pose.update(pose)
        if ends:
            self.group_end[group] = max([self.group_end.get(group, 0.0), *ends])


@dataclass
class AllocationStats:
    method: str = "joint"
    """`cp-sat`, `greedy`, `joint` (goals searched together) — the kept allocation."""
    searches: int = 0
    solver: str = ""
    """CP-SAT's status (OPTIMAL, FEASIBLE, UNKNOWN, unavailable, ...)."""
    greedy_s: float | None = None
    cpsat_s: float | None = None
    longest_goal_s: float = 0.0
    """The slowest atom's fastest chain (any team, robots where they are at the step's
    start): a yardstick for the makespan (a later chain may start nearer, so not a bound)."""
    least_work_s: float = 0.0
    """Robot-seconds if every atom got its least-work chain."""


def _teams(robots: Sequence[str], timeline: Timeline, near: Pose | None) -> list[tuple[str, ...]]:
    robots = list(robots)

    def dist(r: str) -> float:
        here = timeline.where(r)
        return here.distance_to(near) if here is not None and near is not None else 1e9

    pool = sorted(robots, key=lambda r: (dist(r), r))[:PAIR_POOL]
    teams: list[tuple[str, ...]] = [(r,) for r in robots]
    teams += [tuple(sorted(p)) for p in itertools.combinations(sorted(pool), 2)]
    return teams


def _object_pose(cat: Catalogue, g: Grounding, state: frozenset[int], obj: str) -> Pose | None:
    for f in state:
        atom = g.atoms[f]
        if atom[0] == "on" and atom[1] == obj:
            if atom[2] in cat.places:
                return cat.places[atom[2]].pose
            if atom[2] in cat.robots:
                return cat.robots[atom[2]].pose
        if atom[0] == "holding" and atom[2] == obj:
            return cat.robots[atom[1]].pose if atom[1] in cat.robots else None
    return None


@dataclass
class _Chooser:
    cat: Catalogue
    g: Grounding
    timing: Timing
    limits: SearchLimits
    subject: Mapping[Atom, str]
    extra_objects: frozenset[str]
    stats: AllocationStats
    robots: tuple[str, ...] = ()
    """The robots that may act (available, and allowed by the goal's constraints)."""
    feasible: dict[Atom, list[tuple[str, ...]]] = field(default_factory=dict)
    """The teams that could do each atom from the step's start state."""
    _by_object: dict[str, list[GroundAction]] = field(default_factory=dict)
    _names: dict[int, frozenset[str]] = field(default_factory=dict)
    _chains: dict[tuple[Atom, tuple[str, ...], frozenset[int]], list[GroundAction] | None] = field(
        default_factory=dict
    )

    def _relevant(self, state: frozenset[int], keep: frozenset[str]) -> frozenset[int]:
        """The atoms a chain of these robots for this object can depend on: those
        naming them, and those naming no robot or object at all (`open(cabinet)`)."""
        out = []
        for f in state:
            names = self._names.get(f)
            if names is None:
                atom = self.g.atoms[f]
                names = self._names[f] = frozenset(
                    v for v in atom[1:] if v in self.cat.robots or v in self.cat.objects
                )
            if not names or names & keep:
                out.append(f)
        return frozenset(out)

    def actions_for(self, obj: str, team: Iterable[str]) -> list[GroundAction]:
        if obj not in self._by_object:
            allowed = {obj} | self.extra_objects
            self._by_object[obj] = [
                a
                for a in self.g.actions
                if all(v in allowed or v not in self.cat.objects for _, v in a.args)
            ]
        members = set(team)
        return [a for a in self._by_object[obj] if a.robot in members]

    def chain(
        self, atom: Atom, team: tuple[str, ...], state: frozenset[int]
    ) -> list[GroundAction] | None:
        goal = frozenset({self.g.ids[atom]})
        if goal <= state:
            return []
        # a chain depends only on its robots' and object's atoms: what other robots
        # did meanwhile does not change it (the greedy passes ask again and again)
        key = (
            atom,
            team,
            self._relevant(state, frozenset((*team, self.subject[atom], *self.extra_objects))),
        )
        if key in self._chains:
            return self._chains[key]
        sub = Grounding(self.g.atoms, self.g.ids, self.actions_for(self.subject[atom], team))
        self.stats.searches += 1
        found = search(sub, state, goal, self.limits)
        self._chains[key] = found.actions
        return found.actions

    def best(
        self,
        atom: Atom,
        timeline: Timeline,
        state: frozenset[int],
        group: int,
        teams: Sequence[tuple[str, ...]] | None = None,
    ) -> tuple[float, tuple[str, ...], list[GroundAction]] | None:
        near = _object_pose(self.cat, self.g, state, self.subject[atom])
        best: tuple[float, int, tuple[str, ...], list[GroundAction]] | None = None
        if teams is None:
            teams = self.feasible.get(atom) or [*_teams(self.robots, timeline, near), self.robots]
        for team in teams:
            acts = self.chain(atom, team, state)
            if acts is None:
                continue
            key = (timeline.trial(acts, group), len(acts), team, acts)
            if best is None or key[:3] < best[:3]:
                best = key
        return None if best is None else (best[0], best[2], best[3])


_Option = tuple[tuple[str, ...], list[GroundAction], dict[str, tuple[float, float]], float]
"""(team, chain, each robot's busy span within the chain, the chain's length)"""


def _apply(state: frozenset[int], acts: Iterable[GroundAction]) -> frozenset[int]:
    for a in acts:
        state = (state - a.dele) | a.add
    return state


def allocate_group(
    cat: Catalogue,
    g: Grounding,
    timeline: Timeline,
    state: frozenset[int],
    atoms: Sequence[Atom],
    group: int,
    *,
    subject: Mapping[Atom, str],
    extra_objects: Iterable[str],
    limits: SearchLimits,
    stats: AllocationStats,
    solver_seconds: float = 0.5,
    robots: Sequence[str] | None = None,
) -> tuple[list[GroundAction], frozenset[int]] | None:
    """Chains for each atom of one "then" step, appended to `timeline` (which is
    updated); returns the actions and the state after them, or None when some atom
    cannot be planned on its own (the caller then searches the goal jointly).
    `robots`: the robots teams are formed of (default: every available robot; a
    goal's `use`/`avoid` narrows it)."""
    todo = [a for a in atoms if g.ids[a] not in state]
    if not todo:
        return [], state
    fleet = tuple(cat.available_robots if robots is None else robots)
    chooser = _Chooser(
        cat, g, timeline.timing, limits, subject, frozenset(extra_objects), stats, fleet
    )
    # every (atom, team) chain timed from the current state: the solver's input, and
    # each atom's shortest chain orders the greedy pass (longest first)
    options: dict[Atom, list[_Option]] = {}
    offered: dict[Atom, list[_Option]] = {}
    work: dict[Atom, float] = {}
    for atom in todo:
        near = _object_pose(cat, g, state, subject[atom])
        teams = _teams(fleet, timeline, near)
        if len(fleet) > 2:
            teams.append(fleet)
        for team in teams:
            if team is fleet and atom in options:
                continue  # the whole fleet: only for relays of three or more
            acts = chooser.chain(atom, team, state)
            if acts is None:
                continue
            chooser.feasible.setdefault(atom, []).append(team)
            # timed on its own from where the robots are now, as if they were all free
            alone = Timeline(cat, timeline.timing, pose=dict(timeline.pose))
            starts, ends, _, _ = alone._times(acts, 0)
            busy: dict[str, tuple[float, float]] = {}
            for a, st, e in zip(acts, starts, ends, strict=True):
                lo, hi = busy.get(a.robot, (st, e))
                busy[a.robot] = (min(lo, st), max(hi, e))
            length = max(ends, default=0.0)
            options.setdefault(atom, []).append((team, acts, busy, length))
            work[atom] = min(
                work.get(atom, float("inf")), sum(e - b for b, e in zip(starts, ends, strict=True))
            )
        if atom not in options:
            return None
        # the solver gets each atom's few shortest chains (the rest rarely win and
        # make the model large)
        offered[atom] = sorted(options[atom], key=lambda o: (o[3], len(o[0]), o[0]))[
            :SOLVER_OPTIONS
        ]

    def realise(
        order: Sequence[Atom], teams: Mapping[Atom, tuple[str, ...]]
    ) -> tuple[Timeline, list[GroundAction], frozenset[int]] | None:
        t = timeline.copy()
        cur = state
        out: list[GroundAction] = []
        for atom in order:
            acts = chooser.chain(atom, teams[atom], cur) if atom in teams else None
            if acts is None:
                got = chooser.best(atom, t, cur, group)
                if got is None:
                    return None
                acts = got[2]
            t.append(acts, group)
            cur = _apply(cur, acts)
            out += acts
        return t, out, cur

    shortest = {a: min(o[3] for o in options[a]) for a in todo}
    stats.longest_goal_s = max(stats.longest_goal_s, *shortest.values())
    stats.least_work_s += sum(work.values())
    # two greedy passes: longest first, and least flexible first (fewest different sets
    # of robots that can do it; e.g. the mug only mm1 can reach before the apple that a
    # relay can bring too)
    flexible = {a: len({frozenset(x.robot for x in o[1]) for o in options[a]}) for a in todo}
    greedy: tuple[Timeline, list[GroundAction], frozenset[int]] | None = None
    for key in (
        lambda a: (-shortest[a], todo.index(a)),
        lambda a: (flexible[a], -shortest[a], todo.index(a)),
    ):
        got = _greedy(chooser, timeline, state, sorted(todo, key=key), group)
        if got is not None and (greedy is None or got[0].makespan < greedy[0].makespan - 1e-6):
            greedy = got
    if greedy is None:
        return None
    stats.greedy_s = greedy[0].makespan
    kept = greedy
    stats.method = "greedy"
    # one robot doing every atom (longest first) is a candidate too, so the allocation
    # is never worse than what that robot alone would do
    for robot in fleet:
        solo = {a: next((o[3] for o in options[a] if o[0] == (robot,)), None) for a in todo}
        if any(v is None for v in solo.values()):
            continue
        order = sorted(todo, key=lambda a: (-(solo[a] or 0.0), todo.index(a)))
        got = _greedy(chooser, timeline, state, order, group, [(robot,)])
        if got is not None and got[0].makespan < kept[0].makespan - 1e-6:
            kept = got
            stats.method = f"solo:{robot}"
    solved = _cpsat(todo, offered, timeline, solver_seconds, stats) if solver_seconds > 0 else None
    if solved is not None:
        order, chosen = solved
        got = realise(order, chosen)
        if got is not None:
            stats.cpsat_s = got[0].makespan
            if got[0].makespan < kept[0].makespan - 1e-6:
                kept = got
                stats.method = "cp-sat"
    t, acts, cur = kept
    timeline.actions, timeline.groups, timeline.ends = t.actions, t.groups, t.ends
    timeline.free, timeline.pose, timeline.group_end = t.free, t.pose, t.group_end
    return acts, cur


def _greedy(
    chooser: _Chooser,
    timeline: Timeline,
    state: frozenset[int],
    order: Sequence[Atom],
    group: int,
    teams: Sequence[tuple[str, ...]] | None = None,
) -> tuple[Timeline, list[GroundAction], frozenset[int]] | None:
    t = timeline.copy()
    cur = state
    out: list[GroundAction] = []
    for atom in order:
        got = chooser.best(atom, t, cur, group, teams)
        if got is None:
            return None
        t.append(got[2], group)
        cur = _apply(cur, got[2])
        out += got[2]
    return t, out, cur


def _cpsat(
    todo: Sequence[Atom],
    options: Mapping[
        Atom,
        Sequence[tuple[tuple[str, ...], list[GroundAction], dict[str, tuple[float, float]], float]],
    ],
    timeline: Timeline,
    seconds: float,
    stats: AllocationStats,
) -> tuple[list[Atom], dict[Atom, tuple[str, ...]]] | None:
    """Teams per atom and an order of the atoms, minimising the chains' makespan."""
    if len(todo) < 2:
        stats.solver = "not needed"
        return None
    try:
        from ortools.sat.python import cp_model
    except ImportError:  # an optional speed-up: the greedy allocation stands alone
        stats.solver = "unavailable"
        return None
    model = cp_model.CpModel()
    horizon = (
        int(SCALE * (sum(max(o[3] for o in options[a]) for a in todo) + timeline.makespan)) + 1
    )
    starts = {a: model.new_int_var(0, horizon, f"start{i}") for i, a in enumerate(todo)}
    makespan = model.new_int_var(0, horizon, "makespan")
    per_robot: dict[str, list[cp_model.IntervalVar]] = {}
    chosen: dict[tuple[int, int], cp_model.IntVar] = {}
    for i, atom in enumerate(todo):
        lits = []
        for k, (_, _, busy, length) in enumerate(options[atom]):
            lit = model.new_bool_var(f"x{i}_{k}")
            chosen[i, k] = lit
            lits.append(lit)
            for robot, (lo, hi) in busy.items():
                size = max(1, round(SCALE * (hi - lo)))
                s = model.new_int_var(0, horizon, f"s{i}_{k}_{robot}")
                model.add(s == starts[atom] + round(SCALE * lo)).only_enforce_if(lit)
                e = model.new_int_var(0, 2 * horizon, f"e{i}_{k}_{robot}")
                per_robot.setdefault(robot, []).append(
                    model.new_optional_interval_var(s, size, e, lit, f"iv{i}_{k}_{robot}")
                )
            model.add(makespan >= starts[atom] + round(SCALE * length)).only_enforce_if(lit)
        model.add_exactly_one(lits)
    for robot, ivs in per_robot.items():
        ready = round(SCALE * timeline.free.get(robot, 0.0))
        if ready > 0:
            ivs = [*ivs, model.new_fixed_size_interval_var(0, ready, f"busy_{robot}")]
        model.add_no_overlap(ivs)
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    # deterministic: one worker, a fixed seed and a deterministic-time budget
    solver.parameters.max_deterministic_time = seconds
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    stats.solver = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        log.info("CP-SAT found no allocation (%s); keeping the greedy one", stats.solver)
        return None
    teams: dict[Atom, tuple[str, ...]] = {}
    for i, atom in enumerate(todo):
        for k, (team, _, _, _) in enumerate(options[atom]):
            if solver.value(chosen[i, k]):
                teams[atom] = team
    order = sorted(todo, key=lambda a: (solver.value(starts[a]), todo.index(a)))
    return order, teams
