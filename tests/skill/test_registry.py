"""The registry: explicit registration, did-you-mean, capabilities, and plug-in discovery
through real entry points (the example plug-in package is installed in the test venv)."""

from __future__ import annotations

from typing import Any

import pytest

from robo_os.errors import SkillDefinitionError, UnknownNameError
from robo_os.skill import SkillRegistry, discover, skill
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
    # the good entry point and the valid skill next to broken ones still load
    assert reg.names() == ["count_objects", "fine", "wave"]
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
