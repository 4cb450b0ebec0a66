"""Declared facts (robo_os.symbolic.facts): how a `Fact` validates, how its atoms are read
off memory (recorded values, initial values, attributes, several arguments), how it joins
a vocabulary, and what a successful call writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.symbolic.conditions import parse_conditions
from robo_os.symbolic.facts import Fact, fact_attr, recorded_writes, vocabulary_with
from robo_os.symbolic.state import symbolic_state
from robo_os.symbolic.vocabulary import VOCABULARY


@dataclass
class World:
    robots: dict[str, RobotState]
    objects: dict[str, ObjectState]
    places: dict[str, PlaceState]


def world(places: dict[str, dict[str, Any]], objects: dict[str, dict[str, Any]]) -> World:
    return World(
        {},
        {n: ObjectState(name=n, on="a", attrs=a) for n, a in objects.items()},
        {n: PlaceState(name=n, pose=Pose(x=0.0, y=0.0), attrs=a) for n, a in places.items()},
    )


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"signature": "clean"}, "write it as name"),
        ({"signature": "clean()"}, "at least one argument kind"),
        ({"signature": "clean(table)"}, "unknown kind 'table'"),
        ({"signature": "Clean(place)"}, "write it as"),
        ({"signature": "tired(robot)"}, "declare recorded=False"),
        ({"signature": "near(object, place)", "initial": True}, "one-argument facts only"),
        ({"signature": "clean(place)", "verbs": ["Wipe!"]}, "lower-case words"),
        ({"signature": "clean(place)", "colour": "red"}, "extra"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_problem(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Fact(**kwargs)


def test_a_fact_normalises_its_signature_and_survives_json() -> None:
    f = Fact("near( object , place|object )", meaning="close by", recorded=True)
    assert f.signature == "near(object, place|object)" and f.name == "near" and f.arity == 2
    assert f.kinds == (("object",), ("place", "object"))
    assert Fact.model_validate(f.model_dump(mode="json")) == f


def test_atoms_come_from_memory_then_from_the_initial_value() -> None:
    clean = Fact("clean(place)")
    lit = Fact("lit(place)", initial=True)
    dusty = Fact("dusty(place|object)", initial="dust")
    seen = Fact("seen(object)", recorded=False, initial="seen")
    near = Fact("near(object, place)")
    vocab, problems = vocabulary_with([clean, lit, dusty, seen, near])
    assert problems == []
    w = world(
        {
            "a": {"clean": True, "lit": False, "dust": True},
            "b": {"clean": False, "dusty": False, "dust": True},  # recorded false wins
            "c": {},
        },
        {"cup": {"dust": True, "seen": True, "near:a": True, "near:b": False}},
    )
    atoms = {a for a in symbolic_state(w, vocab).atoms if a[0] not in VOCABULARY}
    assert atoms == {
        ("clean", "a"),
        ("lit", "b"),
        ("lit", "c"),
        ("dusty", "a"),
        ("dusty", "cup"),
        ("seen", "cup"),  # never recorded: read from its attribute only
        ("near", "cup", "a"),
    }
    # the built-in vocabulary knows none of them
    assert not any(a[0] == "clean" for a in symbolic_state(w).atoms)


def test_a_fact_cannot_reuse_a_built_in_name_or_be_declared_twice_differently() -> None:
    vocab, problems = vocabulary_with(
        [Fact("open(place)"), Fact("clean(place)"), Fact("clean(object)"), Fact("clean(place)")]
    )
    assert any("'open' is a built-in predicate" in p for p in problems)
    assert any("'clean' is declared twice" in p for p in problems)
    assert vocab.kinds("clean", 0) == ("place",)  # the first is kept
    assert vocab.get("open") is VOCABULARY.get("open")


def test_a_successful_call_writes_the_recorded_effects_it_binds() -> None:
    clean, seen = Fact("clean(place)"), Fact("seen(object)", recorded=False)
    near = Fact("near(object, place)")
    effects = parse_conditions(
        [
            "clean(place)",
            "not clean('hall')",
            "seen(object)",  # not recorded: planners only
            "near(object, place)",
            "near(object, ?elsewhere)",  # bound only by a precondition: left to planners
            "on(object, place)",  # built-in: the skill writes it itself
        ]
    )
    writes = recorded_writes([clean, seen, near], effects, {"place": "sink", "object": "cup"})
    assert [(f.name, atom, value) for f, atom, value in writes] == [
        ("clean", ("clean", "sink"), True),
        ("clean", ("clean", "hall"), False),
        ("near", ("near", "cup", "sink"), True),
    ]
    assert fact_attr(("clean", "sink")) == "clean"
    assert fact_attr(("near", "cup", "sink")) == "near:sink"
