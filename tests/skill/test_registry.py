"""The registry: explicit registration, did-you-mean, capabilities, and plug-in discovery
through real entry points (the example plug-in package is installed in the test venv)."""

from __future__ import annotations

from typing import Any

import pytest

from robo_os.contracts import SkillResult
from robo_os.errors import SkillDefinitionError, UnknownNameError
from robo_os.skill import SkillContext, SkillRegistry, as_skill, discover, skill
from robo_os.skill import registry as registry_module

BROKEN_GROUP = "robo_os_test.broken_skills"


@skill(capabilities={"navigate"})
async def navigate_to(place: str) -> None:
    """Drive to a place."""


@skill(capabilities={"manipulate"})
async def pick(object: str) -> None:
    """Pick an object."""


@skill(capabilities={"manipulate", "navigate"})
async def fetch(object: str) -> None:
    """Fetch an object."""


@skill(name="pick", capabilities={"manipulate"})
async def other_pick(object: str) -> None:
    """Another pick."""


def test_lookup_did_you_mean_and_capabilities() -> None:
    reg = SkillRegistry([navigate_to, pick, fetch])
    assert reg.names() == ["fetch", "navigate_to", "pick"]
    assert reg.get("pick").fn is pick
    with pytest.raises(UnknownNameError, match="did you mean 'pick'") as e:
        reg.get("pik")
    assert e.value.suggestions == ["pick"]
    assert [s.name for s in reg.for_capabilities({"navigate"})] == ["navigate_to"]
    assert [s.name for s in reg.for_capabilities({"navigate", "manipulate", "camera"})] == [
        "fetch",
        "navigate_to",
        "pick",
    ]
    assert [s.name for s in reg.specs()] == ["fetch", "navigate_to", "pick"]
    assert "pick" in reg and len(reg) == 3


def test_duplicates() -> None:
    reg = SkillRegistry([pick])
    assert reg.register(pick) is reg.get("pick")  # the same function again: no-op
    with pytest.raises(SkillDefinitionError, match="already registered"):
        reg.register(other_pick)
    reg.register(other_pick, replace=True)
    assert reg.get("pick").fn is other_pick


def test_registries_are_independent() -> None:
    a, b = SkillRegistry([pick]), SkillRegistry()
    assert "pick" in a and "pick" not in b


def test_discovery_is_lazy_and_happens_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = registry_module.iter_plugins

    def counting(group: str) -> Any:
        calls.append(group)
        return real(group)

    monkeypatch.setattr(registry_module, "iter_plugins", counting)
    reg = discover([navigate_to])
    assert calls == []  # nothing imported by building the registry
    assert "wave" in reg.names()
    reg.get("navigate_to")
    reg.specs()
    assert calls == ["robo_os.skills"]


def test_the_example_plugin_is_discovered() -> None:
    reg = discover()
    wave = reg.get("wave")
    assert wave.spec.source == "robo-os-example-plugin"
    assert wave.spec.capabilities == ("manipulate",)
    assert (
        wave.spec.args_schema["properties"]["times"]["description"]
        == "How many times to wave (1-5)."
    )
    assert reg.get("count_objects").spec.concurrent
    assert not [p for p in reg.problems if p.source == "robo-os-example-plugin"]


def test_explicit_skills_win_over_plugins_and_the_clash_is_reported() -> None:
    @skill(name="wave", capabilities={"manipulate"})
    async def my_wave() -> None:
        """Mine."""

    reg = discover([my_wave])
    assert reg.get("wave").fn is my_wave
    assert any(p.skill == "wave" and "duplicate" in p.message for p in reg.problems)


def test_broken_plugins_are_reported_and_the_others_load() -> None:
    reg = discover(group=BROKEN_GROUP)
    # the good entry point and the valid skill next to broken ones still load; `wave`,
    # offered by two entry points, is refused for both (one rule: no silent shadowing)
    assert reg.names() == ["count_objects", "fine"]
    by_ep = {p.entry_point.split(" = ")[0]: p for p in reg.problems if p.skill is None}
    assert set(by_ep) == {"import_error", "missing_module", "not_a_skill"}
    assert "AttributeError" in by_ep["import_error"].message
    assert "ModuleNotFoundError" in by_ep["missing_module"].message
    assert "expected a @skill function" in by_ep["not_a_skill"].message
    assert all(p.source == "robo-os-example-plugin" for p in reg.problems)
    invalid = {p.skill: p.message for p in reg.problems if p.skill is not None}
    assert "which is not a parameter" in invalid["grab"]
    assert "no type hint" in invalid["untyped"]
    assert "duplicate skill name" in invalid["wave"]
    assert "robo-os-example-plugin" in str(reg.problems[0])


def _standard_look() -> object:
    from robo_os_skills.perception import look

    return look


def test_a_plug_in_never_shadows_a_standard_skill_unless_it_says_so() -> None:
    from robo_os.skill.registry import _arbitrate

    @skill(capabilities={"camera"}, name="look")
    async def my_look(ctx: SkillContext) -> SkillResult:
        """A plug-in's own look."""
        return SkillResult.success()

    @skill(capabilities={"camera"}, name="look", replaces="robo-os-skills")
    async def better_look(ctx: SkillContext) -> SkillResult:
        """A plug-in's look that replaces the standard one on purpose."""
        return SkillResult.success()

    std = as_skill(_standard_look(), source="robo-os-skills")
    mine = as_skill(my_look, source="my-plugin")
    better = as_skill(better_look, source="better-plugin")
    kept = {s.spec.source: why for s, _, why in _arbitrate([(std, "standard"), (mine, "mine")])}
    assert kept["robo-os-skills"] is None
    assert "standard skill from robo-os-skills" in kept["my-plugin"]
    assert "replaces='robo-os-skills'" in kept["my-plugin"]
    chosen = {
        s.spec.source: why for s, _, why in _arbitrate([(std, "standard"), (better, "better")])
    }
    assert chosen["better-plugin"] is None and "replaced on purpose" in chosen["robo-os-skills"]
    both = {s.spec.source: why for s, _, why in _arbitrate([(mine, "a"), (better, "b")])}
    assert all(why and "both refused" in why for why in both.values())
    assert "better-plugin" in both["my-plugin"] and "my-plugin" in both["better-plugin"]


def test_a_non_conformant_plug_in_skill_is_refused_with_its_file_and_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib.metadata import EntryPoint

    @skill(capabilities={"Manipulate"})
    async def shouty() -> None:
        """Capabilities must be lower-case identifiers: the checker refuses this."""

    @skill(capabilities={"manipulate"})
    async def calm() -> None:
        """A conformant skill from the same plug-in: it loads."""

    ep = EntryPoint(name="np", value="np_plugin:SKILLS", group="test.np")
    skills = [as_skill(shouty, source="np-plugin"), as_skill(calm, source="np-plugin")]
    monkeypatch.setattr(registry_module, "iter_plugins", lambda group: iter([(ep, skills, [])]))
    reg = SkillRegistry(plugins=True, group="test.np")
    assert reg.names() == ["calm"]
    (problem,) = reg.problems
    assert problem.skill == "shouty" and "conformance check" in problem.message
    assert f"test_registry.py:{shouty.__code__.co_firstlineno}" in problem.message
    assert "[capabilities]" in problem.message
