"""The condition language skills declare and the brain reasons with.

A skill may declare preconditions and effects as short strings over the predicates of
`robo_os.symbolic.vocabulary` (docs/writing-skills.md):

    @skill(capabilities={"manipulate"},
           preconditions=["hand_empty(robot)", "on(object, ?from)", "reaches(robot, ?from)"],
           effects=["not on(object, ?from)", "not hand_empty(robot)", "holding(robot, object)"])
    async def pick(ctx: SkillContext, object: str) -> SkillResult: ...

Terms are a skill parameter's name (bound to the call's argument), `robot` (the
robot running the skill), a logic variable `?name` (bound by the first positive
precondition that mentions it), a quoted literal `'kitchen'`, or `*` (anything).

Effects apply STRIPS-style: deletions (`not ...`, `*` allowed) first, then additions
(which must be fully bound). This module is the language only: parsing, resolving a
term (`resolve`, the one implementation every evaluator uses), matching a pattern
(`matches`) and solving a conjunction over any set of facts (`solutions`,
`check_preconditions`). What the predicates mean lives in the vocabulary.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..errors import SkillDefinitionError

__all__ = [
    "Atom",
    "Binding",
    "Condition",
    "Facts",
    "Pattern",
    "Unsatisfied",
    "bind",
    "check_preconditions",
    "ground",
    "ground_text",
    "matches",
    "parse_condition",
    "parse_conditions",
    "resolve",
    "solutions",
]

Atom = tuple[str, ...]
"""A ground atom: (predicate, arg1, arg2, ...)."""

Pattern = tuple[str | None, ...]
"""An atom whose arguments may be None (matches anything)."""

Binding = dict[str, str]

_CONDITION = re.compile(
    r"^\s*(?P<neg>not\s+|!\s*)?(?P<pred>[a-z_][a-z0-9_]*)\s*\((?P<args>[^()]*)\)\s*$"
)
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


@functools.lru_cache(maxsize=4096)
def parse_condition(text: str) -> Condition:
    # cached: every planning round builds a catalogue that parses each robot's copy of
    # the same skill specs (a Condition is immutable; a bad text raises every time)
    m = _CONDITION.match(text)
    if not m:
        raise SkillDefinitionError(
            f"cannot parse condition {text!r}: expected 'pred(a, b)' or 'not pred(a, b)'"
        )
    raw_terms = [t.strip() for t in m.group("args").split(",")] if m.group("args").strip() else []
    for t in raw_terms:
        if not _TERM.match(t):
            raise SkillDefinitionError(f"bad term {t!r} in condition {text!r}")
    return Condition(bool(m.group("neg")), m.group("pred"), tuple(raw_terms), text.strip())


def parse_conditions(texts: Iterable[str]) -> tuple[Condition, ...]:
    return tuple(parse_condition(t) for t in texts)


def resolve(term: str, env: Mapping[str, str], *, strict: bool = False) -> str | None:
    """The value of a term under env, or None if it is unbound (variable or `*`).

    `strict`: a parameter name missing from env is a definition error (the checker and
    the planner evaluate a skill's own conditions); otherwise it is unbound too (the
    search and the simulation ground whatever they can)."""
    if term == "*":
        return None
    if term.startswith("'"):
        return term[1:-1]
    if term.startswith("?") or not strict:
        return env.get(term)
    if term not in env:
        raise SkillDefinitionError(f"condition term {term!r} is neither a parameter nor 'robot'")
    return env[term]


def ground(c: Condition, env: Mapping[str, str], *, strict: bool = False) -> Pattern:
    """The condition's atom under env (None where a term is unbound)."""
    return (c.predicate, *(resolve(t, env, strict=strict) for t in c.terms))


def matches(pattern: Pattern, atom: Atom) -> bool:
    """Whether an atom fits a pattern (None in the pattern matches anything)."""
    return len(pattern) == len(atom) and all(
        p is None or p == a for p, a in zip(pattern, atom, strict=True)
    )


def bind(c: Condition, atom: Atom, env: Mapping[str, str]) -> Binding:
    """env extended with the logic variables of c as the matching atom fills them."""
    out = dict(env)
    for t, v in zip(c.terms, atom[1:], strict=True):
        if t.startswith("?"):
            out[t] = v
    return out


def ground_text(c: Condition, env: Mapping[str, str]) -> str:
    """The condition written with its bound terms replaced by their values."""
    return f"{'not ' if c.negated else ''}{c.predicate}({', '.join(_shown_values(c, env))})"


def _shown_values(c: Condition, env: Mapping[str, str]) -> tuple[str, ...]:
    vals = []
    for t in c.terms:
        v = resolve(t, env, strict=True) if not t.startswith("?") or t in env else None
        vals.append(v if v is not None else t)
    return tuple(vals)


class Facts(Protocol):
    """What conditions are evaluated against (a `SymbolicState`, or its stored atoms)."""

    def match(self, pattern: Pattern) -> Iterator[Atom]: ...

    def holds(self, pattern: Pattern) -> bool: ...


def solutions(
    facts: Facts, conds: Iterable[Condition], env: Mapping[str, str]
) -> Iterator[Binding]:
    """Every binding (env plus logic variables) under which all conditions hold."""
    todo = tuple(conds)
    if not todo:
        yield dict(env)
        return
    c, rest = todo[0], todo[1:]
    pattern = ground(c, env, strict=True)
    if c.negated:
        if not facts.holds(pattern):
            yield from solutions(facts, rest, env)
        return
    for atom in facts.match(pattern):
        yield from solutions(facts, rest, bind(c, atom, env))


@dataclass(frozen=True)
class Unsatisfied:
    """Why preconditions do not hold: the first condition that failed, grounded."""

    condition: Condition
    grounded: str
    values: tuple[str, ...] = ()
    """The condition's terms as grounded (a value, or the term itself when unbound)."""

    def __str__(self) -> str:
        return self.grounded


def _search(
    facts: Facts,
    conds: tuple[Condition, ...],
    env: Binding,
    deepest: list[tuple[int, Condition, Binding]],
) -> Binding | None:
    if not conds:
        return env
    c, rest = conds[0], conds[1:]
    pattern = ground(c, env, strict=True)
    depth = len(deepest[0][2]) if deepest else -1
    if c.negated:
        if facts.holds(pattern):
            if len(env) >= depth:
                deepest[:] = [(0, c, dict(env))]
            return None
        return _search(facts, rest, env, deepest)
    found = False
    for atom in facts.match(pattern):
        found = True
        got = _search(facts, rest, bind(c, atom, env), deepest)
        if got is not None:
            return got
    if not found and len(env) >= depth:
        deepest[:] = [(0, c, dict(env))]
    return None


def check_preconditions(
    state: Facts, preconditions: tuple[Condition, ...], env: Mapping[str, str]
) -> Binding | Unsatisfied:
    """Bindings (env plus logic variables) if every precondition holds, else the
    first condition that could not be satisfied, grounded for an error message."""
    deepest: list[tuple[int, Condition, Binding]] = []
    got = _search(state, preconditions, dict(env), deepest)
    if got is not None:
        return got
    _, cond, at_env = deepest[0] if deepest else (0, preconditions[0], dict(env))
    return Unsatisfied(cond, ground_text(cond, at_env), _shown_values(cond, at_env))
