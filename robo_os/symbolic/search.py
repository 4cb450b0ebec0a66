"""Forward state-space search over the skills' symbolic model (the embedded planner's core).

Grounding: every (robot, skill) pair the robot can run, with the skill's arguments
taken from the catalogue (world-name arguments by entity kind; objects restricted to
the ones the goal is about plus any a robot holds, places to the ones that matter),
its logic variables by the kinds the vocabulary gives the predicate positions they
fill, and each derived precondition (`reaches(R, T)`) compiled into one variant of
the action per instance of the vocabulary's rules (R at T, or R and robot T at one
place P) whose atoms fit their argument kinds. An action whose effect adds an atom
naming a thing its predicate does not admit (an object on a robot without the `carry`
capability: no tray) is dropped. Actions unreachable even with deletes ignored are
pruned before the search.

Search: A* with deferred evaluation, unit costs and an FF-style heuristic (a relaxed
plan from h_add best supporters); actions in the current relaxed plan are tried first.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .conditions import Atom, Pattern, matches, resolve
from .domain import Domain, SkillView
from .state import SymbolicState
from .vocabulary import CARRY, HELD, Vocabulary, fits

__all__ = [
    "CallGrounding",
    "GroundAction",
    "Grounding",
    "SearchLimits",
    "SearchResult",
    "ground",
    "relevant_places",
    "search",
]

_INF = float("inf")
_ANY_KIND = ("place", "object", "robot")


@dataclass(frozen=True)
class GroundAction:
    robot: str
    skill: str
    args: tuple[tuple[str, str], ...]
    pre: frozenset[int]
    neg: frozenset[int]
    add: frozenset[int]
    dels: tuple[Pattern, ...]
    dele: frozenset[int] = frozenset()

    def describe(self) -> str:
        return f"{self.robot} {self.skill}({', '.join(v for _, v in self.args)})"


@dataclass
class Grounding:
    atoms: list[Atom] = field(default_factory=list)
    ids: dict[Atom, int] = field(default_factory=dict)
    actions: list[GroundAction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def id(self, atom: Atom) -> int:
        got = self.ids.get(atom)
        if got is None:
            got = self.ids[atom] = len(self.atoms)
            self.atoms.append(atom)
        return got

    def state(self, atoms: Iterable[Atom]) -> frozenset[int]:
        return frozenset(self.id(a) for a in atoms)


@dataclass(frozen=True)
class SearchLimits:
    max_expansions: int = 20_000
    max_seconds: float = 10.0


@dataclass
class SearchResult:
    actions: list[GroundAction] | None
    expansions: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    reason: str = ""


def _domain(
    kinds: Sequence[str] | None, cat: Domain, objects: Sequence[str], places: Sequence[str]
) -> list[str]:
    """The values the search tries for a logic variable of these kinds."""
    out: list[str] = []
    for kind in kinds or _ANY_KIND:
        if kind == "place":
            out += places
        elif kind == "object":
            out += objects
        elif kind == "robot":
            out += cat.available_robots
        elif kind == "carrier":
            out += [r for r in cat.available_robots if CARRY in cat.robots[r].capabilities]
        # a receptacle is bound only through a skill's argument (put_in's container):
        # where an object may rest, the search tries places and trays
    return out


def ground(
    cat: Domain,
    initial: SymbolicState,
    objects: Iterable[str],
    places: Iterable[str] | None = None,
    *,
    per_object: bool = False,
    shared: Iterable[str] = (),
) -> Grounding:
    """Ground the fleet's skills over the given objects (and places; default: all).

    per_object: only actions about one of the objects at a time (plus the `shared`
    ones, e.g. what a robot holds): linear in the number of objects instead of one
    action per pair (`put_in(a, b)`), for planners that plan each object on its own."""
    g = Grounding()
    objs = sorted(set(objects))
    place_list = sorted(places) if places is not None else list(cat.places)
    for a in initial.atoms:
        g.id(a)
    extra = sorted(set(shared))
    groups = [sorted({o, *extra}) for o in objs] if per_object else [objs]
    for group in groups:
        memo: dict[Atom, list[list[Atom]]] = {}
        for robot in cat.available_robots:
            for name in sorted(cat.offered.get(robot, {})):
                model = cat.skill_for(robot, name)
                if model is None or not model.effects or not cat.can_run(robot, name):
                    continue
                _ground_skill(g, cat, robot, model, group, place_list, initial.vocabulary, memo)
    if len(groups) > 1:
        # actions naming no object (drives) come once per group: keep one
        seen: set[tuple[object, ...]] = set()
        unique = []
        for act in g.actions:
            key = (act.robot, act.skill, act.args, act.pre, act.neg, act.add, act.dels)
            if key not in seen:
                seen.add(key)
                unique.append(act)
        g.actions = unique
    _prune_and_expand(g, initial)
    return g


def _ground_skill(
    g: Grounding,
    cat: Domain,
    robot: str,
    model: SkillView,
    objs: list[str],
    places: list[str],
    vocab: Vocabulary,
    memo: dict[Atom, list[list[Atom]]],
    fixed: Mapping[str, str] | None = None,
) -> None:
    """Every action of `robot` calling `model` (`fixed`: only those whose arguments
    have these values, in the same order)."""
    entity = cat.entity_params(model.name)
    domains: list[tuple[str, list[str]]] = []
    for p in model.params:
        choices = model.choices(p)
        if p in entity:
            values: list[str] = []
            for kind in entity[p]:
                values += {"place": places, "object": objs, "robot": list(cat.available_robots)}[
                    kind
                ]
            domains.append((p, values))
        elif choices is not None:
            domains.append((p, choices))
        elif p in model.required:
            note = f"{model.name}: argument {p!r} is not a world name; the embedded planner does not use this skill"
            if note not in g.notes:  # said once, not once per robot offering the skill
                g.notes.append(note)
            return
    conds = [*model.preconditions, *model.effects]
    variables: dict[str, tuple[str, int]] = {}
    for c in conds:
        for pos, t in enumerate(c.terms):
            if t.startswith("?") and t not in variables:
                variables[t] = (c.predicate, pos)
    for v, (pred, pos) in variables.items():
        domains.append((v, _domain(vocab.kinds(pred, pos), cat, objs, places)))
    if fixed:
        domains = [
            (n, [x for x in vals if x == fixed[n]] if n in fixed else vals) for n, vals in domains
        ]
    names = [n for n, _ in domains]
    for combo in itertools.product(*(vals for _, vals in domains)):
        env = dict(zip(names, combo, strict=True))
        env["robot"] = robot
        _ground_one(g, cat, robot, model, env, objs, places, vocab, memo)


def _derived_options(
    atom: Atom, cat: Domain, objs: list[str], places: list[str], vocab: Vocabulary
) -> list[list[Atom]]:
    """The stored atoms each instance of a derived atom's rules needs, keeping only the
    instances whose atoms fit the kinds of their predicates' arguments."""
    options: list[list[Atom]] = []
    pred = vocab.get(atom[0])
    for r in pred.rules if pred is not None else ():
        env = dict(zip(r.head, atom[1:], strict=True))
        if not r.admits(env):
            continue
        free: dict[str, tuple[str, int]] = {}
        for c in r.body:
            for pos, t in enumerate(c.terms):
                if t.startswith("?") and t not in env and t not in free:
                    free[t] = (c.predicate, pos)
        names = list(free)
        values = [_domain(vocab.kinds(*free[v]), cat, objs, places) for v in names]
        # what each body argument must name, looked up once (not once per combination)
        body_kinds = [
            [vocab.kinds(c.predicate, i) or _ANY_KIND for i in range(len(c.terms))] for c in r.body
        ]
        fit: dict[tuple[tuple[str, ...], str], bool] = {}
        for combo in itertools.product(*values):
            full = {**env, **dict(zip(names, combo, strict=True))}
            if not r.admits(full):
                continue
            body: list[Atom] = []
            for c, kinds in zip(r.body, body_kinds, strict=True):
                vals = [resolve(t, full) or "" for t in c.terms]
                ok = True
                for k, v in zip(kinds, vals, strict=True):
                    known = fit.get((k, v))
                    if known is None:
                        known = fit[k, v] = fits(k, v, cat)
                    if not known:
                        ok = False
                        break
                if not ok:
                    break
                body.append((c.predicate, *vals))
            else:
                options.append(body)
    return options


def _admitted(atom: Atom, cat: Domain, vocab: Vocabulary) -> bool:
    """False when the atom names a known thing where its predicate does not admit it."""
    for pos, v in enumerate(atom[1:]):
        kinds = vocab.kinds(atom[0], pos)
        if kinds is not None and not fits(kinds, v, cat) and fits(_ANY_KIND, v, cat):
            return False
    return True


def _ground_one(
    g: Grounding,
    cat: Domain,
    robot: str,
    model: SkillView,
    env: dict[str, str],
    objs: list[str],
    places: list[str],
    vocab: Vocabulary,
    memo: dict[Atom, list[list[Atom]]],
) -> None:
    variants: list[list[Atom]] = [[]]
    neg: list[Atom] = []
    for c in model.preconditions:
        vals = [resolve(t, env) for t in c.terms]
        if any(v is None for v in vals):
            continue  # a wildcard precondition cannot be compiled; the checker still evaluates it
        atom: Atom = (c.predicate, *(v for v in vals if v is not None))
        derived = vocab.is_derived(c.predicate)
        if c.negated:
            if not derived:
                neg.append(atom)
            continue
        if derived:
            # the same derived atom recurs for every object and place combination
            options = memo.get(atom)
            if options is None:
                options = memo[atom] = _derived_options(atom, cat, objs, places, vocab)
            if not options:
                return
            variants = [v + o for v in variants for o in options]
        else:
            variants = [[*v, atom] for v in variants]
    adds: list[Atom] = []
    dels: list[Pattern] = []
    for c in model.effects:
        vals = [resolve(t, env) for t in c.terms]
        if c.negated:
            dels.append((c.predicate, *vals))
            if c.predicate == "holding" and len(vals) == 2:
                dels.append((HELD, vals[1]))
            continue
        if any(v is None for v in vals):
            return
        atom = (c.predicate, *(v for v in vals if v is not None))
        if not _admitted(atom, cat, vocab):
            return  # e.g. no tray to put it on
        adds.append(atom)
        if atom[0] == "holding" and len(atom) == 3:
            adds.append((HELD, atom[2]))
    args = tuple((p, env[p]) for p in model.params if p in env)
    add_ids = frozenset(g.id(a) for a in adds)
    neg_ids = frozenset(g.id(a) for a in neg)
    for pre in variants:
        g.actions.append(
            GroundAction(
                robot,
                model.name,
                args,
                frozenset(g.id(a) for a in pre),
                neg_ids,
                add_ids,
                tuple(dels),
            )
        )


def _prune_and_expand(g: Grounding, initial: SymbolicState) -> None:
    """Keep the actions reachable with deletes ignored; ground their delete patterns
    against the atoms that can ever hold."""
    reached = {g.ids[a] for a in initial.atoms}
    for a in initial.atoms:
        if a[0] == "holding":
            reached.add(g.id((HELD, a[2])))
    missing = [len(act.pre - reached) for act in g.actions]
    waiting: dict[int, list[int]] = {}
    for i, act in enumerate(g.actions):
        for f in act.pre - reached:
            waiting.setdefault(f, []).append(i)
    ready = [i for i, m in enumerate(missing) if m == 0]
    usable: set[int] = set()
    while ready:
        i = ready.pop()
        usable.add(i)
        for f in g.actions[i].add:
            if f in reached:
                continue
            reached.add(f)
            for j in waiting.pop(f, ()):
                missing[j] -= 1
                if missing[j] == 0:
                    ready.append(j)
    # atoms by (predicate, first argument): delete patterns nearly always bind both
    index: dict[tuple[str, str | None], list[int]] = {}
    for i in reached:
        atom = g.atoms[i]
        index.setdefault((atom[0], atom[1] if len(atom) > 1 else None), []).append(i)
        index.setdefault((atom[0], None), []).append(i)
    out = []
    # many actions delete the same pattern (every drive of a robot: `not at(R, *)`)
    matched: dict[Pattern, list[int]] = {}
    for k, act in enumerate(g.actions):
        if k not in usable:
            continue
        dele: set[int] = set()
        for pat in act.dels:
            hits = matched.get(pat)
            if hits is None:
                key = (pat[0] or "", pat[1] if len(pat) > 1 else None)
                hits = matched[pat] = [i for i in index.get(key, ()) if matches(pat, g.atoms[i])]
            dele.update(hits)
        out.append(
            GroundAction(
                act.robot,
                act.skill,
                act.args,
                act.pre,
                act.neg,
                act.add,
                act.dels,
                frozenset(dele - act.add),
            )
        )
    g.actions = out


class _Heuristic:
    def __init__(self, actions: Sequence[GroundAction], n_atoms: int) -> None:
        self.actions = actions
        self.n = n_atoms
        self.by_pre: list[list[int]] = [[] for _ in range(n_atoms)]
        self.free: list[int] = []
        for i, a in enumerate(actions):
            if not a.pre:
                self.free.append(i)
            for p in a.pre:
                self.by_pre[p].append(i)

    def __call__(self, state: frozenset[int], goal: frozenset[int]) -> tuple[float, set[int]]:
        """(h_FF, the relaxed plan's actions); h is inf when the goal is unreachable."""
        cost = [_INF] * self.n
        supporter: list[int] = [-1] * self.n
        missing = [len(a.pre) for a in self.actions]
        heap: list[tuple[float, int]] = []
        for f in state:
            cost[f] = 0.0
            heap.append((0.0, f))
        heapq.heapify(heap)

        def fire(ai: int) -> None:
            a = self.actions[ai]
            c = 1.0 + sum(cost[p] for p in a.pre)
            for f in a.add:
                if c < cost[f]:
                    cost[f] = c
                    supporter[f] = ai
                    heapq.heappush(heap, (c, f))

        for ai in self.free:
            fire(ai)
        left = set(goal) - state
        while heap and left:
            c, f = heapq.heappop(heap)
            if c > cost[f]:
                continue
            left.discard(f)
            for ai in self.by_pre[f]:
                missing[ai] -= 1
                if missing[ai] == 0:
                    fire(ai)
        if any(cost[f] == _INF for f in goal):
            return _INF, set()
        plan: set[int] = set()
        todo = [f for f in goal if f not in state]
        seen = set(todo)
        while todo:
            f = todo.pop()
            ai = supporter[f]
            if ai < 0 or ai in plan:
                continue
            plan.add(ai)
            for p in self.actions[ai].pre:
                if p not in state and p not in seen:
                    seen.add(p)
                    todo.append(p)
        return float(len(plan)), plan


def search(
    g: Grounding, start: frozenset[int], goal: frozenset[int], limits: SearchLimits = SearchLimits()
) -> SearchResult:
    """A shortest-looking action sequence from `start` to a state containing `goal`."""
    t0 = time.perf_counter()
    h = _Heuristic(g.actions, len(g.atoms))
    actions = g.actions
    h0, _ = h(start, goal)
    if h0 == _INF:
        return SearchResult(None, 0, 1, time.perf_counter() - t0, "unreachable")
    counter = itertools.count()
    # entries: (f, not_preferred, tie, g, parent h, state, parent state, action index)
    heap: list[tuple[float, int, int, int, float, frozenset[int], frozenset[int] | None, int]] = [
        (h0, 0, 0, 0, h0, start, None, -1)
    ]
    parents: dict[frozenset[int], tuple[frozenset[int] | None, int]] = {}
    best_g: dict[frozenset[int], int] = {}
    expansions = evaluations = 0
    while heap:
        if expansions >= limits.max_expansions or time.perf_counter() - t0 > limits.max_seconds:
            return SearchResult(
                None,
                expansions,
                evaluations,
                time.perf_counter() - t0,
                f"gave up after {expansions} states",
            )
        _, _, _, gval, _, state, parent, ai = heapq.heappop(heap)
        if state in best_g and best_g[state] <= gval:
            continue
        best_g[state] = gval
        parents[state] = (parent, ai)
        if goal <= state:
            path: list[GroundAction] = []
            cur: frozenset[int] | None = state
            while cur is not None:
                prev, idx = parents[cur]
                if idx >= 0:
                    path.append(actions[idx])
                cur = prev
            path.reverse()
            return SearchResult(path, expansions, evaluations, time.perf_counter() - t0)
        hval, relaxed = h(state, goal)
        evaluations += 1
        if hval == _INF:
            continue
        expansions += 1
        for i, a in enumerate(actions):
            if a.pre <= state and not (a.neg & state):
                succ = (state - a.dele) | a.add
                if succ == state or best_g.get(succ, 1 << 30) <= gval + 1:
                    continue
                preferred = 0 if i in relaxed else 1
                heapq.heappush(
                    heap,
                    (gval + 1 + hval, preferred, next(counter), gval + 1, hval, succ, state, i),
                )
    return SearchResult(None, expansions, evaluations, time.perf_counter() - t0, "no plan exists")


def relevant_places(
    cat: Domain,
    initial: SymbolicState,
    objects: Iterable[str],
    goal_atoms: Iterable[Atom],
    *,
    robots: bool = True,
) -> list[str]:
    """Places a plan for these objects could need: where the objects and the domain's
    robots are (`robots`: False leaves out where robots are), what the goal names, and
    what fixed robots reach."""
    keep: set[str] = set()
    objs = set(objects)
    for a in initial.atoms:
        if a[0] == "on" and a[1] in objs and a[2] in cat.places:
            keep.add(a[2])
        if robots and a[0] == "at" and a[2] in cat.places and a[1] in cat.robots:
            keep.add(a[2])
    for a in goal_atoms:
        keep.update(x for x in a[1:] if x in cat.places)
    return [p for p in cat.places if p in keep]


class CallGrounding:
    """Skill calls grounded on demand: for one call (robot, skill, some arguments) the
    actions `ground(cat, initial, objects, places)` has for it, in the same order,
    without grounding the rest of the fleet's skills (a plan's replay needs a few dozen
    of the thousands `ground` makes). Nothing is pruned as unreachable (apply an action
    only where its preconditions hold), and an action's delete patterns are matched
    against the atoms known so far (`deletes`, `apply`, `final`): applied to a state
    reached from `initial`, or compared with other applicable actions, it is the
    action `ground` would give."""

    def __init__(
        self, cat: Domain, initial: SymbolicState, objects: Iterable[str], places: Iterable[str]
    ) -> None:
        self.cat = cat
        self.g = Grounding()
        self._objs = sorted(set(objects))
        self._places = sorted(places)
        self._vocab = initial.vocabulary
        for a in initial.atoms:
            self.g.id(a)
        self._memo: dict[Atom, list[list[Atom]]] = {}
        self._calls: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[GroundAction]] = {}
        self._index: dict[tuple[str, str | None], list[int]] = {}
        self._indexed = 0
        self._deletes: dict[GroundAction, tuple[int, frozenset[int]]] = {}

    def calls(
        self, robot: str, skill: str, fixed: Mapping[str, str] | None = None
    ) -> list[GroundAction]:
        """The actions of `robot` calling `skill` whose arguments include `fixed`."""
        key = (robot, skill, tuple(sorted((fixed or {}).items())))
        got = self._calls.get(key)
        if got is None:
            start = len(self.g.actions)
            model = self.cat.skill_for(robot, skill)
            if (
                robot in self.cat.available_robots
                and skill in self.cat.offered.get(robot, {})
                and model is not None
                and model.effects
                and self.cat.can_run(robot, skill)
            ):
                _ground_skill(
                    self.g,
                    self.cat,
                    robot,
                    model,
                    self._objs,
                    self._places,
                    self._vocab,
                    self._memo,
                    fixed,
                )
            got = self._calls[key] = self.g.actions[start:]
        return got

    def deletes(self, action: GroundAction) -> frozenset[int]:
        """The known atoms the action's delete patterns match, less what it adds."""
        n = len(self.g.atoms)
        seen, dele = self._deletes.get(action, (0, frozenset()))
        if seen == n:
            return dele
        for i in range(self._indexed, n):
            atom = self.g.atoms[i]
            self._index.setdefault((atom[0], atom[1] if len(atom) > 1 else None), []).append(i)
            self._index.setdefault((atom[0], None), []).append(i)
        self._indexed = n
        hits: set[int] = set()
        for pat in action.dels:
            key = (pat[0] or "", pat[1] if len(pat) > 1 else None)
            hits.update(
                i for i in self._index.get(key, ()) if i >= seen and matches(pat, self.g.atoms[i])
            )
        dele = dele | (frozenset(hits) - action.add)
        self._deletes[action] = (n, dele)
        return dele

    def apply(self, state: frozenset[int], action: GroundAction) -> frozenset[int]:
        return (state - self.deletes(action)) | action.add

    def final(self, action: GroundAction) -> GroundAction:
        """The action with its deletes filled in (for `interferes` and the like)."""
        return dataclasses.replace(action, dele=self.deletes(action))
