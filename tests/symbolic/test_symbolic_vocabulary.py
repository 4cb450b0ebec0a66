"""A new predicate touches one place, the vocabulary: defined here in a test-local
vocabulary over a test-local scene (no brain, no catalogue), state derivation, the
simulation and the search all honour it with no other edit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.errors import DeveloperError
from robo_os.symbolic.conditions import Atom, Condition, Facts, parse_conditions
from robo_os.symbolic.domain import Domain, WorldView
from robo_os.symbolic.search import ground, search
from robo_os.symbolic.simulate import SimStep, simulate
from robo_os.symbolic.state import symbolic_state
from robo_os.symbolic.vocabulary import (
    DERIVED,
    PREDICATES,
    VOCABULARY,
    Predicate,
    Vocabulary,
    rule,
)

# -- a test-local scene satisfying the symbolic Domain protocol ----------------------------


@dataclass(frozen=True)
class Skill:
    name: str
    params: tuple[str, ...]
    preconditions: tuple[Condition, ...]
    effects: tuple[Condition, ...]
    kinds: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return self.params

    def choices(self, param: str) -> list[str] | None:
        return None


def _skill(
    name: str, kinds: Mapping[str, list[str]], pre: Sequence[str], eff: Sequence[str]
) -> Skill:
    return Skill(name, tuple(kinds), parse_conditions(pre), parse_conditions(eff), kinds)


@dataclass(frozen=True)
class Scene:
    robots: Mapping[str, RobotState]
    objects: Mapping[str, ObjectState]
    places: Mapping[str, PlaceState]
    skills: Mapping[str, Skill]

    @property
    def available_robots(self) -> list[str]:
        return list(self.robots)

    @property
    def offered(self) -> Mapping[str, Mapping[str, Skill]]:
        return {r: self.skills for r in self.robots}

    def skill_for(self, robot_id: str, skill: str) -> Skill | None:
        return self.skills.get(skill)

    def can_run(self, robot_id: str, skill: str) -> bool:
        return skill in self.skills

    def entity_params(self, skill: str) -> dict[str, list[str]]:
        return dict(self.skills[skill].kinds)


def _scene() -> Scene:
    """mm1 at the shelf; the cup on the kitchen counter, under a light that is off."""
    place = {"place": ["place"]}
    obj = {"object": ["object"]}
    skills = [
        _skill("navigate_to", place, [], ["not at(robot, *)", "at(robot, place)"]),
        _skill("switch_on", place, ["at(robot, place)"], ["lit(place)"]),
        # scan needs the robot near the object and its place lit
        _skill(
            "scan",
            obj,
            ["near(robot, object)", "on(object, ?p)", "lit(?p)"],
            ["scanned(object)"],
        ),
    ]
    return Scene(
        robots={
            "mm1": RobotState(
                id="mm1", embodiment="mobile", capabilities=("navigate",), place="shelf"
            )
        },
        objects={"cup": ObjectState(name="cup", on="counter")},
        places={
            "shelf": PlaceState(name="shelf", pose=Pose(x=0.0, y=0.0)),
            "counter": PlaceState(name="counter", pose=Pose(x=5.0, y=0.0), attrs={"lit": False}),
        },
        skills={s.name: s for s in skills},
    )


# -- the new predicates: the only definitions of them anywhere ----------------------------


def _read_lit(world: WorldView) -> Iterator[Atom]:
    for p in world.places.values():
        if p.attrs.get("lit") is True:
            yield ("lit", p.name)


def _read_scanned(world: WorldView) -> Iterator[Atom]:
    for o in world.objects.values():
        if o.attrs.get("scanned") is True:
            yield ("scanned", o.name)


def _explain_near(args: Sequence[str], state: Facts, world: WorldView) -> str:
    return f"{args[0]} is not where {args[1]} is"


EXTENDED = VOCABULARY.extend(
    Predicate("lit(P)", (("place",),), "place P has its light on", read=_read_lit),
    Predicate("scanned(O)", (("object",),), "object O has been scanned", read=_read_scanned),
    Predicate(
        "near(R, O)",
        (("robot",), ("object",)),
        "robot R is at the place object O rests on",
        rules=(rule("near(?r, ?o)", "on(?o, ?p)", "at(?r, ?p)"),),
        explain=_explain_near,
    ),
)


def _steps(*calls: tuple[str, str, str]) -> list[SimStep]:
    out = []
    for i, (skill, param, value) in enumerate(calls, 1):
        out.append(SimStep(f"s{i}", "mm1", skill, {param: value}, (f"s{i - 1}",) if i > 1 else ()))
    return out


def _ancestors(steps: Sequence[SimStep]) -> dict[str, set[str]]:
    return {s.id: {p.id for p in steps[: steps.index(s)]} for s in steps}


def test_the_scene_is_a_domain() -> None:
    scene: Domain = _scene()  # mypy checks the protocol is all the symbolic model needs
    assert scene.available_robots == ["mm1"]


def test_state_derivation_reads_and_derives_the_new_predicates() -> None:
    scene = _scene()
    lit = Scene(
        scene.robots,
        scene.objects,
        {
            **scene.places,
            "counter": scene.places["counter"].model_copy(update={"attrs": {"lit": True}}),
        },
        scene.skills,
    )
    assert ("lit", "counter") in symbolic_state(lit, EXTENDED).atoms
    assert ("lit", "counter") not in symbolic_state(lit).atoms  # the built-in vocabulary has no lit
    state = symbolic_state(scene, EXTENDED)
    assert not state.holds(("near", "mm1", "cup"))
    moved = state.copy()
    moved.atoms = (moved.atoms - {("at", "mm1", "shelf")}) | {("at", "mm1", "counter")}
    assert list(moved.match(("near", None, "cup"))) == [("near", "mm1", "cup")]
    assert ("near", "mm1", "cup") not in moved.atoms  # derived, never stored


def test_the_simulation_checks_and_explains_the_new_predicates() -> None:
    scene = _scene()
    state = symbolic_state(scene, EXTENDED)
    early = _steps(("scan", "object", "cup"))
    report = simulate(early, scene, state, ancestors=_ancestors(early))
    assert [p.code for p in report.problems] == ["precondition_failed"]
    assert "near(mm1, cup) fails: mm1 is not where cup is" in report.problems[0].message

    good = _steps(
        ("navigate_to", "place", "counter"),
        ("switch_on", "place", "counter"),
        ("scan", "object", "cup"),
    )
    report = simulate(good, scene, state, ancestors=_ancestors(good), goal=[("scanned", "cup")])
    assert report.problems == []
    assert {("lit", "counter"), ("scanned", "cup")} <= report.final_state.atoms


def test_the_simulation_sees_interference_through_a_derived_predicate() -> None:
    scene = _scene()
    state = symbolic_state(scene, EXTENDED)
    state.atoms |= {("at", "mm1", "counter"), ("lit", "counter")}
    state.atoms.discard(("at", "mm1", "shelf"))
    # unordered: leaving the counter removes at(mm1, counter), which near(mm1, cup) rests on
    steps = [
        SimStep("s1", "mm1", "scan", {"object": "cup"}),
        SimStep("s2", "mm1", "navigate_to", {"place": "shelf"}),
    ]
    report = simulate(steps, scene, state, ancestors={"s1": set(), "s2": set()})
    assert [p.code for p in report.problems] == ["conflict"]
    assert "removes at(mm1, counter), which s1 needs" in report.problems[0].message


def test_the_search_plans_with_the_new_predicates() -> None:
    scene = _scene()
    state = symbolic_state(scene, EXTENDED)
    g = ground(scene, state, ["cup"])
    found = search(g, g.state(state.atoms), g.state([("scanned", "cup")]))
    assert found.actions is not None
    assert [a.describe() for a in found.actions] == [
        "mm1 navigate_to(counter)",
        "mm1 switch_on(counter)",
        "mm1 scan(cup)",
    ]
    # with the built-in vocabulary `near` is unknown (never holds): no plan
    plain = symbolic_state(scene)
    g = ground(scene, plain, ["cup"])
    assert search(g, g.state(plain.atoms), g.state([("scanned", "cup")])).actions is None


def test_the_built_in_table() -> None:
    assert PREDICATES == {
        "at": 2,
        "on": 2,
        "loose": 1,
        "holding": 2,
        "hand_empty": 1,
        "open": 1,
        "reaches": 2,
    }
    assert DERIVED == {"reaches"}
    assert set(EXTENDED.arities) == {*PREDICATES, "lit", "scanned", "near"}
    assert "near(R, O): robot R is at the place object O rests on" in EXTENDED.prompt_terms()


def test_a_bad_definition_is_refused() -> None:
    with pytest.raises(DeveloperError, match="twice"):
        Vocabulary((*VOCABULARY, VOCABULARY.predicates[0]))
    with pytest.raises(DeveloperError, match="stored predicate"):
        VOCABULARY.extend(
            Predicate(
                "far(R, T)",
                (("robot",), ("place",)),
                "x",
                rules=(rule("far(?r, ?t)", "reaches(?r, ?t)"),),
            )
        )
    with pytest.raises(DeveloperError, match="unbound"):
        VOCABULARY.extend(
            Predicate("any(R)", (("robot",),), "x", rules=(rule("any(?r)", "at(?x, ?p)"),))
        )
    with pytest.raises(DeveloperError, match="either"):
        Predicate("x(R)", (("robot",),), "x")
