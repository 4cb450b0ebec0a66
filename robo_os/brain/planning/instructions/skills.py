"""Verbs a fleet's own facts bring: "wipe the dining table" -> clean(dining_table).

A skill whose effect adds a declared fact (robo_os.symbolic.facts) is asked for by its
name ("wipe", "scan barcode" or "scan_barcode"); a fact's `verbs` ask for it directly.
The instruction's phrase names the one argument the fact takes from the skill's
parameter (other arguments must be literals), so the goal is the skill's effect and
any planner may reach it by whatever skills make it true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..catalogue import Catalogue

__all__ = ["FactVerb", "fact_verbs", "match_verb"]


@dataclass(frozen=True)
class FactVerb:
    """Words that ask for facts; each template holds None where the phrase's thing goes."""

    words: tuple[str, ...]
    templates: tuple[tuple[str | None, ...], ...]
    kinds: tuple[tuple[str, ...], ...]
    """What kind of thing the phrase must name, per template."""
    source: str
    """The skill or fact it comes from (for messages)."""


def _name_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys({"carrier": "robot", "receptacle": "object"}.get(k, k) for k in kinds)
    )


def fact_verbs(cat: Catalogue) -> list[FactVerb]:
    """Every verb of the catalogue's declared facts, longest first."""
    out: list[FactVerb] = []
    for name, model in cat.skills.items():
        templates: list[tuple[str | None, ...]] = []
        kinds: list[tuple[str, ...]] = []
        for c in model.effects:
            fact = cat.facts.get(c.predicate)
            if fact is None or c.negated:
                continue
            slots = [i for i, t in enumerate(c.terms) if t in model.params]
            literals = all(i in slots or t.startswith("'") for i, t in enumerate(c.terms))
            if len(slots) != 1 or not literals:
                continue
            templates.append(
                (
                    c.predicate,
                    *(None if i in slots else t.strip("'") for i, t in enumerate(c.terms)),
                )
            )
            kinds.append(_name_kinds(fact.kinds[slots[0]]))
        if templates:
            for words in {tuple(name.split("_")), (name,)}:
                out.append(FactVerb(words, tuple(templates), tuple(kinds), f"skill {name}"))
    for fact in cat.facts.values():
        if fact.arity != 1:
            continue
        for verb in fact.verbs:
            out.append(
                FactVerb(
                    tuple(verb.split()),
                    ((fact.name, None),),
                    (_name_kinds(fact.kinds[0]),),
                    f"fact {fact.name}",
                )
            )
    out.sort(key=lambda v: -len(v.words))
    return out


def match_verb(
    words: Sequence[str], verbs: Sequence[FactVerb]
) -> tuple[FactVerb, list[str]] | None:
    """The verb the words start with, and the words after it."""
    for v in verbs:
        if tuple(words[: len(v.words)]) == v.words:
            return v, list(words[len(v.words) :])
    return None
