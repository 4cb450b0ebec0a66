"""Facts a plug-in declares: its own stored predicates, next to the built-in ones.

    CLEAN = Fact("clean(place)", meaning="the place has been wiped", initial=False)

    @skill(facts=[CLEAN], preconditions=["at(robot, place)"], effects=["clean(place)"])
    def wipe(place: PlaceRef, base: Base) -> None: ...

A `Fact` is data (it travels inside the skill's spec, over Ray and through memory): the
brain's catalogue learns every fact the fleet's specs declare, and the checker's
simulation, the embedded planner and the goal language all read them through
`vocabulary_with(facts)`.

The signature names each argument by its kind (`place`, `object`, `robot`, `carrier`,
`receptacle`; `place|object` for either). How an atom is known:

    recorded=True    memory keeps it in the attrs of the fact's first argument (a place
                     or an object): `clean: true` for `clean(kitchen)`, and for more
                     arguments one key per atom, `near:sofa: true` for `near(cup, sofa)`.
                     A skill that succeeds writes its effects on recorded facts there.
    recorded=False   only plans reason with it; memory never holds it, so every plan
                     starts from `initial`.
    verbs            words that ask for it in an instruction, besides the names of the
                     skills that make it true ("wipe the table" -> clean(table))
    initial          the value where memory says nothing: False (default), True (every
                     thing of the first argument's kind), or the name of an attribute
                     whose truth gives it (`initial="wiped"`: the scene's `wiped: true`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ..errors import DeveloperError
from .conditions import Atom, Condition
from .domain import WorldView
from .vocabulary import KINDS, VOCABULARY, Predicate, Vocabulary

__all__ = [
    "RECORDABLE_KINDS",
    "Fact",
    "RecordedWrite",
    "fact_attr",
    "recorded_writes",
    "vocabulary_with",
]

RECORDABLE_KINDS = frozenset({"place", "object", "receptacle"})
"""Kinds whose memory records carry attrs: a recorded fact's first argument is one."""

_SIGNATURE = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*\(\s*([^()]*?)\s*\)\s*$")


class Fact(BaseModel):
    """One predicate a plug-in declares (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signature: str
    """`clean(place)`: the name, then each argument's kind(s)."""
    meaning: str = ""
    """One line: what it means (the planning prompt lists it)."""
    initial: bool | str = False
    recorded: bool = True
    verbs: tuple[str, ...] = ()
    """Words that ask for it in an instruction ("clean the table" with `verbs=("clean",)`);
    a skill whose effect adds it is asked for by its own name too ("wipe the table")."""

    def __init__(self, signature: str | None = None, /, **data: Any) -> None:
        if signature is not None:
            data["signature"] = signature
        super().__init__(**data)

    @field_validator("signature")
    @classmethod
    def _valid_signature(cls, value: str) -> str:
        m = _SIGNATURE.match(value)
        if m is None:
            raise ValueError(f"fact {value!r}: write it as name(kind, ...), e.g. 'clean(place)'")
        args = [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        if not args:
            raise ValueError(f"fact {value!r}: name at least one argument kind")
        for a in args:
            unknown = sorted(set(a.split("|")) - set(KINDS))
            if unknown:
                raise ValueError(
                    f"fact {value!r}: unknown kind {'|'.join(unknown)!r} (kinds: {', '.join(KINDS)})"
                )
        return f"{m.group(1)}({', '.join(args)})"

    @model_validator(mode="after")
    def _valid_storage(self) -> Fact:
        if self.recorded and not set(self.kinds[0]) <= RECORDABLE_KINDS:
            raise ValueError(
                f"fact {self.signature!r}: memory records facts in the attrs of their first"
                " argument, which must be a place or an object; declare recorded=False otherwise"
            )
        if not all(re.fullmatch(r"[a-z][a-z0-9_ ]*", v) for v in self.verbs):
            raise ValueError(f"fact {self.signature!r}: verbs are lower-case words")
        if isinstance(self.initial, str) and not self.initial.strip():
            raise ValueError(f"fact {self.signature!r}: initial names no attribute")
        if self.initial is True and self.arity > 1:
            raise ValueError(
                f"fact {self.signature!r}: initial=True is for one-argument facts only"
            )
        return self

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0]

    @property
    def kinds(self) -> tuple[tuple[str, ...], ...]:
        inner = self.signature.split("(", 1)[1].rstrip(")")
        return tuple(tuple(a.strip().split("|")) for a in inner.split(","))

    @property
    def arity(self) -> int:
        return len(self.kinds)

    def predicate(self) -> Predicate:
        """The vocabulary's view of this fact: a stored predicate read off memory."""
        letters = [chr(ord("A") + i) for i in range(self.arity)]
        return Predicate(
            f"{self.name}({', '.join(letters)})",
            self.kinds,
            self.meaning or f"declared fact {self.signature}",
            read=self._read,
        )

    def _read(self, world: WorldView) -> Iterator[Atom]:
        things: list[tuple[str, Mapping[str, Any]]] = []
        first = set(self.kinds[0])
        if "place" in first:
            things += [(p.name, p.attrs) for p in world.places.values()]
        if first & {"object", "receptacle"}:
            things += [(o.name, o.attrs) for o in world.objects.values()]
        if "robot" in first or "carrier" in first:
            things += [(r, {}) for r in world.robots]
        for name, attrs in things:
            if self.arity == 1:
                if self._value(attrs.get(self.name) if self.recorded else None, attrs):
                    yield (self.name, name)
                continue
            prefix = f"{self.name}:"
            for key, value in attrs.items():
                if self.recorded and key.startswith(prefix) and value is True:
                    yield (self.name, name, *key[len(prefix) :].split(","))

    def _value(self, recorded: Any, attrs: Mapping[str, Any]) -> bool:
        if isinstance(recorded, bool):
            return recorded
        if isinstance(self.initial, str):
            return attrs.get(self.initial) is True
        return self.initial


def fact_attr(atom: Atom) -> str:
    """The attribute of the first argument's record that keeps a recorded atom."""
    return atom[0] if len(atom) == 2 else f"{atom[0]}:{','.join(atom[2:])}"


def vocabulary_with(
    facts: Iterable[Fact], base: Vocabulary = VOCABULARY
) -> tuple[Vocabulary, list[str]]:
    """`base` plus the declared facts, and the problems found: a fact that reuses a
    built-in predicate's name, or one name declared with two signatures (the first is
    kept)."""
    problems: list[str] = []
    kept: dict[str, Fact] = {}
    for f in facts:
        if f.name in base:
            problems.append(f"fact {f.signature!r}: {f.name!r} is a built-in predicate")
            continue
        have = kept.get(f.name)
        if have is None:
            kept[f.name] = f
        elif have != f:
            problems.append(
                f"fact {f.name!r} is declared twice: {have.signature} (kept) and {f.signature}"
            )
    try:
        return base.extend(*(f.predicate() for f in kept.values())), problems
    except DeveloperError as e:  # pragma: no cover - a Fact validates what Predicate checks
        return base, [*problems, str(e)]


RecordedWrite = tuple[Fact, Atom, bool]
"""A recorded fact's atom and the value a skill's success gives it."""


def recorded_writes(
    facts: Iterable[Fact], effects: Iterable[Condition], env: Mapping[str, str]
) -> list[RecordedWrite]:
    """What a successful call writes to memory: each effect on a recorded fact whose
    terms the call's arguments (and `robot`) bind; `not f(x)` writes false. Effects
    bound only through preconditions (`?x`) or with `*` are left to the planners."""
    recorded = {f.name: f for f in facts if f.recorded}
    out: list[RecordedWrite] = []
    for c in effects:
        fact = recorded.get(c.predicate)
        if fact is None or len(c.terms) != fact.arity:
            continue
        values: list[str] = []
        for t in c.terms:
            if t.startswith("'"):
                values.append(t.strip("'"))
            elif t in env:
                values.append(env[t])
            else:
                break
        else:
            out.append((fact, (c.predicate, *values), not c.negated))
    return out
