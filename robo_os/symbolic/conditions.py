"""The symbolic model skills declare and the brain reasons with.

A skill may declare preconditions and effects as short strings over a small,
documented vocabulary of predicates (docs/writing-skills.md):

    at(R, P)        robot R is at place P (a fixed arm is "at" every place it reaches)
    on(O, L)        object O rests on/in place, receptacle or robot (tray) L
    holding(R, O)   robot R holds object O
    hand_empty(R)   robot R's gripper is free
    open(X)         articulated thing X is open (closed = not open)
    reaches(R, T)   derived: R is at place T, or R and robot T are at the same place

Terms are a skill parameter's name (bound to the call's argument), `robot` (the
robot running the skill), a logic variable `?name` (bound by the first positive
precondition that mentions it), a quoted literal `'kitchen'`, or `*` (anything).

    @skill(capabilities={"manipulate"},
           preconditions=["hand_empty(robot)", "on(object, ?from)", "reaches(robot, ?from)"],
           effects=["not on(object, ?from)", "not hand_empty(robot)", "holding(robot, object)"])
    async def pick(ctx: SkillContext, object: str) -> SkillResult: ...

Effects apply STRIPS-style: deletions (`not ...`, `*` allowed) first, then additions
(which must be fully bound).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..errors import SkillDefinitionError

__all__ = [
    "DERIVED",
    "Atom",
    "Condition",
    "SymbolicState",
    "Unsatisfied",
    "apply_effects",
    "check_preconditions",
    "parse_condition",
    "parse_conditions",
]

Atom = tuple[str, ...]
"""A ground atom: (predicate, arg1, arg2, ...)."""

_CONDITION = re.compile(r"^\s*(?P<neg>not\s+|!\s*)?(?P<pred>[a-z_][a-z0-9_]*)\s*\((?P<args>[^()]*)\)\s*$")
_TERM = re.compile(r"^(\?[A-Za-z_][A-Za-z0-9_]*|\*|'[^']*'|[A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class Condition:
    """One parsed precondition or effect."""

    negated: bool
    predicate: str
    terms: tuple[str, ...]
    text: str

    def variables(self) -> set[str]:
        return {t for t in self.terms if t.startswith("?")}

    def names(self) -> set[str]:
        """Parameter names (and `robot`) the condition refers to."""
        return {t for t in self.terms if t[0] not in "?*'"}


def parse_condition(text: str) -> Condition:
    m = _CONDITION.match(text)
    if not m:
        raise SkillDefinitionError(f"cannot parse condition {text!r}: expected 'pred(a, b)' or 'not pred(a, b)'")
    raw_terms = [t.strip() for t in m.group("args").split(",")] if m.group("args").strip() else []
    for t in raw_terms:
        if not _TERM.match(t):
            raise SkillDefinitionError(f"bad term {t!r} in condition {text!r}")
    return Condition(bool(m.group("neg")), m.group("pred"), tuple(raw_terms), text.strip())


def parse_conditions(texts: Iterable[str]) -> tuple[Condition, ...]:
    return tuple(parse_condition(t) for t in texts)


Binding = dict[str, str]


def _resolve(term: str, env: Mapping[str, str]) -> str | None:
    """The value of a term under env, or None if it is unbound (variable or `*`)."""
    if term == "*":
        return None
    if term.startswith("'"):
        return term[1:-1]
    if term.startswith("?"):
        return env.get(term)
    if term not in env:
        raise SkillDefinitionError(f"condition term {term!r} is neither a parameter nor 'robot'")
    return env[term]


DerivedFn = Callable[["SymbolicState", tuple[str | None, ...]], Iterator[Atom]]


def _reaches(state: SymbolicState, args: tuple[str | None, ...]) -> Iterator[Atom]:
    if len(args) != 2:
        return
    r, t = args
    for _, robot, place in state.match(("at", r, None)):
        yield ("reaches", robot, place)
        # a robot "reaches" another robot (its tray) when both are at the same place
        for _, other, _p in state.match(("at", None, place)):
            if other != robot and (t is None or t == other):
                yield ("reaches", robot, other)


DERIVED: dict[str, DerivedFn] = {"reaches": _reaches}
"""Predicates computed from others rather than stored."""


@dataclass
class SymbolicState:
    """A set of ground atoms, plus static facts (types) that never change."""

    atoms: set[Atom] = field(default_factory=set)
    derived: dict[str, DerivedFn] = field(default_factory=lambda: dict(DERIVED))

    def copy(self) -> SymbolicState:
        return SymbolicState(set(self.atoms), dict(self.derived))

    def match(self, pattern: tuple[str | None, ...]) -> Iterator[Atom]:
        """Atoms matching a pattern; None matches anything."""
        pred = pattern[0]
        assert pred is not None
        if pred in self.derived:
            seen: set[Atom] = set()
            for a in self.derived[pred](self, pattern[1:]):
                if a not in seen and len(a) == len(pattern) and all(p is None or p == v for p, v in zip(pattern, a, strict=True)):
                    seen.add(a)
                    yield a
            return
        for a in self.atoms:
            if len(a) == len(pattern) and all(p is None or p == v for p, v in zip(pattern, a, strict=True)):
                yield a

    def holds(self, atom: tuple[str | None, ...]) -> bool:
        """Whether some atom matches (None in the pattern matches anything)."""
        return next(self.match(atom), None) is not None

    def value(self, pred: str, first: str) -> str | None:
        """The second argument of the first `pred(first, X)` atom (e.g. where is X)."""
        for a in self.match((pred, first, None)):
            return a[2]
        return None


@dataclass(frozen=True)
class Unsatisfied:
    """Why preconditions do not hold: the first condition that failed, grounded."""

    condition: Condition
    grounded: str

    def __str__(self) -> str:
        return self.grounded


def _ground_text(c: Condition, env: Mapping[str, str]) -> str:
    vals = []
    for t in c.terms:
        v = _resolve(t, env) if not t.startswith("?") or t in env else None
        vals.append(v if v is not None else t)
    return f"{'not ' if c.negated else ''}{c.predicate}({', '.join(vals)})"


def _search(state: SymbolicState, conds: tuple[Condition, ...], env: Binding, deepest: list[tuple[int, Condition, Binding]]) -> Binding | None:
    if not conds:
        return env
    c, rest = conds[0], conds[1:]
    pattern = (c.predicate, *(_resolve(t, env) for t in c.terms))
    depth = len(deepest[0][2]) if deepest else -1
    if c.negated:
        if state.holds(pattern):
            if len(env) >= depth:
                deepest[:] = [(0, c, dict(env))]
            return None
        return _search(state, rest, env, deepest)
    found = False
    for atom in state.match(pattern):
        found = True
        env2 = dict(env)
        for t, v in zip(c.terms, atom[1:], strict=True):
            if t.startswith("?"):
                env2[t] = v
        got = _search(state, rest, env2, deepest)
        if got is not None:
            return got
    if not found and len(env) >= depth:
        deepest[:] = [(0, c, dict(env))]
    return None


def check_preconditions(state: SymbolicState, preconditions: tuple[Condition, ...], env: Mapping[str, str]) -> Binding | Unsatisfied:
    """Bindings (env plus logic variables) if every precondition holds, else the
    first condition that could not be satisfied, grounded for an error message."""
    deepest: list[tuple[int, Condition, Binding]] = []
    got = _search(state, preconditions, dict(env), deepest)
    if got is not None:
        return got
    _, cond, at_env = deepest[0] if deepest else (0, preconditions[0], dict(env))
    return Unsatisfied(cond, _ground_text(cond, at_env))


def apply_effects(state: SymbolicState, effects: tuple[Condition, ...], env: Mapping[str, str]) -> SymbolicState:
    """A new state with the effects applied (deletions first, then additions)."""
    new = state.copy()
    for c in effects:
        if c.negated:
            pattern = (c.predicate, *(_resolve(t, env) for t in c.terms))
            for atom in list(new.match(pattern)):
                new.atoms.discard(atom)
    for c in effects:
        if not c.negated:
            vals = [_resolve(t, env) for t in c.terms]
            if any(v is None for v in vals):
                raise SkillDefinitionError(f"effect {c.text!r} is not fully bound by the parameters and preconditions")
            new.atoms.add((c.predicate, *(v for v in vals if v is not None)))
    return new
