"""Moving a plan's work to an equivalent free robot when that ends the plan sooner.

A model (or an app) may put everything on one robot while another one just like it
stands idle. `rebalance` lifts the plan onto the symbolic model (each subtask becomes
the ground action it is, in a topological order), cuts each robot's work into *runs*
(from empty-handed to empty-handed again: pick → drive → place is one run, never
split) and tries moving each run to an equivalent robot (same embodiment,
capabilities, skills and reach) that is idle, or busy with other tasks but expected
to be free in time (`ready_at`, robo_os.brain.planning.timing.ready_times; the plan's
own robots may be busy too): the run keeps its place in the sequence, the new robot
first drives to where the run began when it is elsewhere, and the old robot drives to
where its next run began. A move is kept when the sequence
still replays and the expected finish time (robo_os.brain.planning.timing) drops;
moves repeat until none helps.

Dependencies of the result: every ordering the model gave, except those that only kept
one robot's runs in sequence once the runs are on different robots, plus what the
actions' interference needs (robo_os.brain.planning.embedded.partial_order). Pinned
subtasks (`Subtask.pinned`, or `Plan.pinned` for all) never move. The caller re-runs
the checker on the result.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ...contracts import Plan, Subtask
from ...symbolic.search import CallGrounding, GroundAction, Grounding
from ...symbolic.state import SymbolicState
from ...symbolic.vocabulary import HELD
from .catalogue import Catalogue
from .dag import find_cycles, topological_order
from .embedded import fresh_ids, partial_order
from .timing import Timing, navigation_target, schedule

__all__ = ["Rebalanced", "equivalent", "rebalance"]

log = logging.getLogger(__name__)

MIN_GAIN_S = 0.5
"""A move must save at least this much expected time (estimates are not exact)."""


@dataclass
class Rebalanced:
    plan: Plan
    before_s: float
    after_s: float
    moves: list[str] = field(default_factory=list)
    """What moved, in words ("s5, s6, s7: mm1 → mm2")."""


def equivalent(cat: Catalogue, a: str, b: str) -> bool:
    """Robots that can stand in for each other: same embodiment, capabilities, skills, reach."""
    ra, rb = cat.robots[a], cat.robots[b]
    return (
        ra.embodiment == rb.embodiment
        and set(ra.capabilities) == set(rb.capabilities)
        and set(cat.offered.get(a, {})) == set(cat.offered.get(b, {}))
        and set(ra.reach) == set(rb.reach)
    )


def _key(
    robot: str, skill: str, args: Mapping[str, object]
) -> tuple[str, str, frozenset[tuple[str, str]]]:
    return robot, skill, frozenset((k, str(v)) for k, v in args.items())


@dataclass
class _Lifted:
    """The plan's world on the symbolic model, grounded call by call as the moves
    need them (robo_os.symbolic.search.CallGrounding: the same actions as grounding
    every skill, for a fraction of the cost)."""

    calls: CallGrounding
    start: frozenset[int]
    skills: Mapping[str, Sequence[str]]
    """Each robot's skills that can matter, sorted (the grounding's order)."""

    @property
    def g(self) -> Grounding:
        return self.calls.g

    def find(
        self, robot: str, skill: str, args: Mapping[str, object], state: frozenset[int]
    ) -> GroundAction | None:
        key = _key(robot, skill, args)
        fixed = {k: str(v) for k, v in args.items()}
        for a in self.calls.calls(robot, skill, fixed):
            if _key(a.robot, a.skill, dict(a.args)) == key and _applies(a, state):
                return a
        return None

    def apply(self, state: frozenset[int], a: GroundAction) -> frozenset[int]:
        return self.calls.apply(state, a)


def _applies(a: GroundAction, state: frozenset[int]) -> bool:
    return a.pre <= state and not a.neg & state


def _lift(
    plan: Plan, cat: Catalogue, state: SymbolicState, robots: set[str]
) -> tuple[_Lifted, list[Subtask], list[GroundAction]] | None:
    subs = {s.id: s for s in plan.subtasks}
    deps = {s.id: [d for d in s.depends_on if d in subs] for s in plan.subtasks}
    if find_cycles(deps):
        return None
    held = {a[2] for a in state.atoms if a[0] == "holding"}
    objects = {
        v for s in plan.subtasks for v in s.args.values() if isinstance(v, str) and v in cat.objects
    } | held
    # only the places that can matter: those the plan names, where its objects are and
    # where the robots stand (grounding over every place costs ~N_places x more)
    places: set[str] = {
        v for s in plan.subtasks for v in s.args.values() if isinstance(v, str) and v in cat.places
    }
    for o in objects:
        on = cat.objects[o].on
        if on is not None and on in cat.places:
            places.add(on)
    for r in sorted(robots):
        at = cat.place_of(r)
        if at is not None:
            places.add(at)
    # and only the skills that can matter, of the robots that can (the plan's and the
    # free equivalents work may move to): the plan's own skills and those that move a
    # robot (the drives a moved run may need)
    used = {s.skill for s in plan.subtasks}
    relevant = {
        robot: {
            name: model
            for name, model in skills.items()
            if name in used or any(e.predicate == "at" and not e.negated for e in model.effects)
        }
        for robot, skills in cat.offered.items()
        if robot in robots
    }
    calls = CallGrounding(dataclasses.replace(cat, offered=relevant), state, objects, places)
    start = calls.g.state(state.atoms) | {calls.g.id((HELD, o)) for o in held}
    lifted = _Lifted(calls, start, {r: sorted(skills) for r, skills in relevant.items()})
    order = [subs[i] for i in topological_order(list(subs), deps)]
    cur = start
    seq: list[GroundAction] = []
    for s in order:
        found = lifted.find(s.robot, s.skill, s.args, cur)
        if found is None:
            return None  # a skill without a symbolic model, or a step the search does not model
        seq.append(found)
        cur = lifted.apply(cur, found)
    return lifted, order, seq


def _loaded(g: Grounding, state: frozenset[int], robot: str) -> bool:
    for f in state:
        atom = g.atoms[f]
        if (atom[0] == "holding" and atom[1] == robot) or (atom[0] == "on" and atom[2] == robot):
            return True
    return False


def _place_of(g: Grounding, cat: Catalogue, state: frozenset[int], robot: str) -> str | None:
    here = sorted(
        g.atoms[f][2]
        for f in state
        if g.atoms[f][0] == "at" and g.atoms[f][1] == robot and g.atoms[f][2] in cat.places
    )
    home = cat.robots[robot].place
    return home if home in here else (here[0] if here else None)


def _drive(
    lifted: _Lifted, cat: Catalogue, robot: str, place: str, state: frozenset[int]
) -> GroundAction | None:
    for skill in lifted.skills.get(robot, ()):
        for a in lifted.calls.calls(robot, skill):
            if navigation_target(cat, robot, a.skill, dict(a.args)) == place and _applies(a, state):
                return a
    return None


def rebalance(
    plan: Plan,
    cat: Catalogue,
    state: SymbolicState,
    timing: Timing | None = None,
    *,
    max_moves: int = 20,
    ready_at: Mapping[str, float] | None = None,
) -> Rebalanced:
    """The plan with runs moved to equivalent free robots where that ends it sooner
    (unchanged when nothing helps, nothing may move, or the plan cannot be lifted).
    `ready_at`: when robots busy with other tasks are expected to be free (seconds
    from now); such a robot may take work, which starts then."""
    timing = timing or Timing()
    ready = dict(ready_at or {})
    before = schedule(plan, cat, timing, ready_at=ready).makespan
    out = Rebalanced(
        plan.model_copy(update={"expected_duration_s": round(before, 3)}), before, before
    )
    if plan.pinned or not plan.subtasks:
        return out
    # a robot some subtask names (a carrier's tray as a target) keeps its runs: moving
    # them would leave the names pointing at the wrong robot (`_best_move` skips them)
    named = {v for s in plan.subtasks for v in s.args.values() if isinstance(v, str)}
    movable = {
        s.robot
        for s in plan.subtasks
        if not s.pinned and s.robot in cat.robots and s.robot not in named
    }
    free = _free(cat, ready)
    takers = {o for r in movable for o in free if o != r and equivalent(cat, r, o)}
    if not takers:
        return out  # no robot could take any of the work: lifting the plan would be wasted
    lifted_all = _lift(plan, cat, state, {s.robot for s in plan.subtasks} | takers)
    if lifted_all is None:
        return out
    lifted, subs, seq = lifted_all
    # entries: (subtask or None for an inserted drive, its action)
    items: list[tuple[Subtask | None, GroundAction]] = list(zip(subs, seq, strict=True))
    original_robot = {s.id: s.robot for s in subs}
    best_plan, best_s = plan, before
    for _ in range(max_moves):
        cand = _best_move(items, lifted, cat, timing, plan, original_robot, best_s, ready)
        if cand is None:
            break
        items, best_plan, best_s, what = cand
        out.moves.append(what)
    out.plan = best_plan.model_copy(update={"expected_duration_s": round(best_s, 3)})
    out.after_s = best_s
    if out.moves:
        log.info("rebalanced: %s (expected %.1f s → %.1f s)", "; ".join(out.moves), before, best_s)
    return out


def _free(cat: Catalogue, ready: Mapping[str, float]) -> list[str]:
    """Robots that may take work: idle ones, and those whose other work the runtime
    knows (`ready`: they take it once that is done). A robot memory says is busy with
    work the runtime did not report stays out (nothing says when it is free)."""
    return [r for r in cat.available_robots if cat.robots[r].status == "idle" or r in ready]


def _runs(
    items: Sequence[tuple[Subtask | None, GroundAction]], lifted: _Lifted
) -> list[tuple[str, list[int]]]:
    """Each robot's runs: positions in `items`, from empty-handed to empty-handed
    again after carrying something (the drives before a pick belong to its run)."""
    cur = lifted.start
    open_run: dict[str, list[int]] = {}
    carried: set[str] = set()
    runs: list[tuple[str, list[int]]] = []
    for i, (_, a) in enumerate(items):
        cur = lifted.apply(cur, a)
        open_run.setdefault(a.robot, []).append(i)
        if _loaded(lifted.g, cur, a.robot):
            carried.add(a.robot)
        elif a.robot in carried:
            carried.discard(a.robot)
            runs.append((a.robot, open_run.pop(a.robot)))
    runs += list(open_run.items())
    return runs


def _best_move(
    items: list[tuple[Subtask | None, GroundAction]],
    lifted: _Lifted,
    cat: Catalogue,
    timing: Timing,
    plan: Plan,
    original_robot: Mapping[str, str],
    current_s: float,
    ready: Mapping[str, float],
) -> tuple[list[tuple[Subtask | None, GroundAction]], Plan, float, str] | None:
    named = {
        str(v) for s, _ in items if s is not None for v in s.args.values() if isinstance(v, str)
    }
    free = _free(cat, ready)
    best: tuple[float, str, list[tuple[Subtask | None, GroundAction]], Plan, str] | None = None
    for robot, run in _runs(items, lifted):
        pinned = [sub.pinned for sub, _ in (items[i] for i in run) if sub is not None]
        if robot in named or any(pinned):
            continue
        for other in free:
            if other == robot or not equivalent(cat, robot, other):
                continue
            moved = _move(items, run, other, lifted, cat)
            if moved is None:
                continue
            new_plan = _as_plan(moved, plan, original_robot, lifted)
            t = schedule(new_plan, cat, timing, ready_at=ready).makespan
            if t < current_s - MIN_GAIN_S and (best is None or (t, other) < best[:2]):
                ids = ", ".join(sub.id for sub, _ in (items[i] for i in run) if sub is not None)
                best = (t, other, moved, new_plan, f"{ids}: {robot} → {other}")
    if best is None:
        return None
    return best[2], best[3], best[0], best[4]


def _move(
    items: list[tuple[Subtask | None, GroundAction]],
    run: Sequence[int],
    other: str,
    lifted: _Lifted,
    cat: Catalogue,
) -> list[tuple[Subtask | None, GroundAction]] | None:
    """The sequence with `run` on `other`, plus the drives that then need: `other` to
    where the run began, the old robot to where its next run began; None when the
    sequence no longer replays."""
    g = lifted.g
    robot = items[run[0]][1].robot
    members = set(run)
    after = next((i for i in range(run[-1] + 1, len(items)) if items[i][1].robot == robot), None)
    out: list[tuple[Subtask | None, GroundAction]] = []
    cur = orig = lifted.start
    for i, (sub, a) in enumerate(items):
        if i == run[0] or i == after:
            who = other if i == run[0] else robot
            place = _place_of(g, cat, orig, robot)
            drives = navigation_target(cat, robot, a.skill, dict(a.args)) is not None
            if not drives and place is not None and place != _place_of(g, cat, cur, who):
                drive = _drive(lifted, cat, who, place, cur)
                if drive is None:
                    return None
                out.append((None, drive))
                cur = lifted.apply(cur, drive)
        orig = lifted.apply(orig, a)
        if i in members:
            target = navigation_target(cat, other, a.skill, dict(a.args))
            if target is not None and target == _place_of(g, cat, cur, other):
                continue  # `other` is there already
            found = lifted.find(other, a.skill, dict(a.args), cur)
            if found is None:
                return None
            a = found
        elif not _applies(a, cur):
            return None
        out.append((sub, a))
        cur = lifted.apply(cur, a)
    return out


def _as_plan(
    items: Sequence[tuple[Subtask | None, GroundAction]],
    plan: Plan,
    original_robot: Mapping[str, str],
    lifted: _Lifted,
) -> Plan:
    seq = [lifted.calls.final(a) for _, a in items]
    used = {s.id for s, _ in items if s is not None}
    new_ids = iter(fresh_ids(sum(1 for s, _ in items if s is None), used))
    ids = [s.id if s is not None else next(new_ids) for s, _ in items]
    pos = {sid: i for i, sid in enumerate(ids)}
    robot_now = {ids[i]: a.robot for i, a in enumerate(seq)}
    needed = partial_order(seq)
    subtasks: list[Subtask] = []
    for i, (sub, a) in enumerate(items):
        deps = {ids[j] for j in needed[i]}
        if sub is not None:
            for d in sub.depends_on:
                if d not in pos:
                    continue
                # an ordering that only kept one robot's runs in sequence is void once
                # they are on different robots
                same_before = original_robot.get(d) == original_robot.get(sub.id)
                if same_before and robot_now[d] != robot_now[sub.id]:
                    continue
                if pos[d] < i:
                    deps.add(d)
            subtasks.append(
                sub.model_copy(
                    update={"robot": a.robot, "depends_on": sorted(deps, key=pos.__getitem__)}
                )
            )
        else:
            subtasks.append(
                Subtask(
                    id=ids[i],
                    robot=a.robot,
                    skill=a.skill,
                    args=dict(a.args),
                    depends_on=sorted(deps, key=pos.__getitem__),
                )
            )
    return plan.model_copy(update={"subtasks": subtasks})
