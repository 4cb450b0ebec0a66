"""The symbolic state the planner reasons with, read off the world (i.e. from memory).

`symbolic_state(world)` asks each stored predicate of the vocabulary for its atoms
(robo_os.symbolic.vocabulary says how each is read); derived predicates (`reaches`)
are computed by `SymbolicState.match` from the vocabulary's rules, never stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import SkillDefinitionError
from .conditions import Atom, Condition, Pattern, ground, matches
from .domain import WorldView
from .vocabulary import MANIPULATE, NAVIGATE, VOCABULARY, Vocabulary, describe_location

__all__ = [
    "MANIPULATE",
    "NAVIGATE",
    "Change",
    "SymbolicState",
    "apply_effects",
    "change_of",
    "describe_location",
    "symbolic_state",
]


@dataclass(frozen=True)
class Change:
    """Grounded effects: patterns to delete (None: any value), then atoms to add."""

    deletes: tuple[Pattern, ...] = ()
    adds: tuple[Atom, ...] = ()


@dataclass
class SymbolicState:
    """A set of stored ground atoms, read through a vocabulary (which also derives the
    atoms of its derived predicates on demand)."""

    atoms: set[Atom] = field(default_factory=set)
    vocabulary: Vocabulary = VOCABULARY

    def copy(self) -> SymbolicState:
        return SymbolicState(set(self.atoms), self.vocabulary)

    def match(self, pattern: Pattern) -> Iterator[Atom]:
        """Atoms matching a pattern; None matches anything."""
        pred = pattern[0]
        assert pred is not None
        if self.vocabulary.is_derived(pred):
            seen: set[Atom] = set()
            for a in self.vocabulary.derive(pred, self, pattern[1:]):
                if a not in seen and matches(pattern, a):
                    seen.add(a)
                    yield a
            return
        for a in self.atoms:
            if matches(pattern, a):
                yield a

    def holds(self, atom: Pattern) -> bool:
        """Whether some atom matches (None in the pattern matches anything)."""
        return next(self.match(atom), None) is not None

    def value(self, pred: str, first: str) -> str | None:
        """The second argument of the first `pred(first, X)` atom (e.g. where is X)."""
        for a in self.match((pred, first, None)):
            return a[2]
        return None

    def apply(self, change: Change) -> SymbolicState:
        """A new state with the change applied (deletions first, then additions)."""
        new = self.copy()
        for pattern in change.deletes:
            for atom in [a for a in new.atoms if matches(pattern, a)]:
                new.atoms.discard(atom)
        new.atoms.update(change.adds)
        return new


def symbolic_state(world: WorldView, vocabulary: Vocabulary = VOCABULARY) -> SymbolicState:
    """The stored atoms of the world under the vocabulary."""
    return SymbolicState(vocabulary.read(world), vocabulary)


def change_of(
    effects: Sequence[Condition], env: Mapping[str, str], *, strict: bool = True
) -> Change:
    """Ground a skill's effects under a binding. `strict`: an unknown parameter name or
    an addition left unbound is a definition error; otherwise such an addition is
    skipped (the simulation applies what it can of a step whose preconditions failed)."""
    deletes: list[Pattern] = []
    adds: list[Atom] = []
    for c in effects:
        if c.negated:
            deletes.append(ground(c, env, strict=strict))
            continue
        vals = ground(c, env, strict=strict)
        if any(v is None for v in vals):
            if strict:
                raise SkillDefinitionError(
                    f"effect {c.text!r} is not fully bound by the parameters and preconditions"
                )
            continue
        adds.append(tuple(v for v in vals if v is not None))
    return Change(tuple(deletes), tuple(adds))


def apply_effects(
    state: SymbolicState, effects: tuple[Condition, ...], env: Mapping[str, str]
) -> SymbolicState:
    """A new state with the effects applied (deletions first, then additions)."""
    return state.apply(change_of(effects, env))
