"""A plug-in's own facts in the skill SDK: `@skill(facts=...)` puts them in the spec, the
conformance checker accepts a declared fact and refuses an undeclared one naming the
file and line, and a plug-in skill using an undeclared fact is not registered."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from robo_os_example_plugin.surfaces import CLEAN, SKILLS, wipe

import robo_os.skill.registry as registry_module
from robo_os.skill import (
    Fact,
    SkillRegistry,
    SkillSpec,
    as_skill,
    check_registry,
    check_skill,
    skill,
)
from robo_os.skill.discovery import load_entry_point
from robo_os.skill.refs import PlaceName
from robo_os.skill.schema import build_spec


@skill(capabilities={"manipulate"}, effects=["clean(place)"])
async def undeclared(place: PlaceName) -> None:
    """Wipes, but never says what `clean` is."""


@skill(capabilities={"manipulate"}, facts=[CLEAN], preconditions=["clean(place, place)"])
async def wrong_arity(place: PlaceName) -> None:
    """Uses its fact with two terms."""


@skill(capabilities={"manipulate"}, facts=[Fact("open(place)")], effects=["open(place)"])
async def shadows_open(place: PlaceName) -> None:
    """Declares a fact under a built-in predicate's name."""


def test_the_example_plug_ins_surface_skills_conform() -> None:
    for fn in SKILLS:
        assert check_skill(fn) == [], fn.__name__


def test_the_spec_carries_the_declared_facts_through_json() -> None:
    spec = build_spec(wipe, source="robo-os-example-plugin")
    assert spec.facts == (CLEAN,)
    again = SkillSpec.model_validate(spec.model_dump(mode="json"))
    assert again.facts == (CLEAN,) and again.facts[0].verbs == ("clean",)


def test_an_undeclared_fact_is_refused_naming_the_file_and_line() -> None:
    (problem,) = check_skill(undeclared)
    assert problem.code == "conditions"
    assert "unknown predicate 'clean'" in problem.message
    assert "facts=[Fact('clean(place)')]" in problem.message  # says how to declare it
    assert f"test_skill_facts.py:{undeclared.__code__.co_firstlineno}" in problem.message


def test_a_declared_fact_is_held_to_its_arity_and_may_not_shadow_a_built_in() -> None:
    (arity,) = check_skill(wrong_arity)
    assert "clean takes 1 terms, not 2" in arity.message
    codes = {p.code: p.message for p in check_skill(shadows_open)}
    assert "'open' is a built-in predicate" in codes["facts"]


def test_two_skills_declaring_one_fact_differently_are_reported() -> None:
    @skill(capabilities={"manipulate"}, facts=[Fact("clean(object)")], effects=["clean(thing)"])
    async def polish(thing: str) -> None:
        """Polishes an object."""

    problems = check_registry(SkillRegistry([wipe, polish]))
    (clash,) = [p for p in problems if p.code == "facts"]
    assert "differs from" in clash.message
    assert "clean(object)" in clash.message and "clean(place)" in clash.message
    assert check_registry(SkillRegistry(SKILLS)) == []  # one shared Fact: no problem
    assert [f.name for f in SkillRegistry(SKILLS).facts()] == ["inspected", "clean"]


def test_a_plug_in_skill_using_an_undeclared_fact_is_not_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ep = EntryPoint(name="surfaces", value="robo_os_example_plugin.surfaces:SKILLS", group="t")
    loaded, problems = load_entry_point(ep)
    assert problems == [] and sorted(s.name for s in loaded) == ["inspect", "spill", "wipe"]
    skills = [*loaded, as_skill(undeclared, source="sloppy-plugin")]
    monkeypatch.setattr(registry_module, "iter_plugins", lambda group: iter([(ep, skills, [])]))
    reg = SkillRegistry(plugins=True, group="t")
    assert reg.names() == ["inspect", "spill", "wipe"]
    (problem,) = reg.problems
    assert problem.skill == "undeclared" and "unknown predicate 'clean'" in problem.message
    assert f"test_skill_facts.py:{undeclared.__code__.co_firstlineno}" in problem.message
