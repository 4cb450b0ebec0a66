"""The conformance checker: every installed skill passes it (the standard library and the
example plug-in included), and it catches what it claims to catch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from robo_os.contracts import SkillResult
from robo_os.skill import (
    Skill,
    SkillContext,
    SkillRegistry,
    SkillSpec,
    check_registry,
    check_skill,
    discover,
    skill,
)

INSTALLED = discover()


@pytest.mark.parametrize("registered", list(INSTALLED), ids=lambda s: f"{s.spec.source}:{s.name}")
def test_every_installed_skill_conforms(registered: Skill) -> None:
    assert check_skill(registered, registry=INSTALLED) == []


def test_plugins_load_without_problems() -> None:
    assert [str(p) for p in INSTALLED.problems] == []
    assert {"wave", "count_objects"} <= set(INSTALLED.names())


def test_the_standard_library_is_installed_as_a_plugin() -> None:
    standard = [s for s in INSTALLED if s.spec.source == "robo-os-skills"]
    assert {"navigate_to", "pick", "place", "deliver", "look", "open", "close"} <= {
        s.name for s in standard
    }
    assert all(check_skill(s) == [] for s in standard)


def codes(fn: Any) -> set[str]:
    return {p.code for p in check_skill(fn)}


def test_checker_catches_missing_description_and_capabilities() -> None:
    @skill
    async def bare(x: int) -> None:
        pass

    assert codes(bare) == {"description", "capabilities"}


def test_checker_catches_bad_capabilities_and_timeouts() -> None:
    @skill(capabilities={"Navigate Fast"}, timeout_s=7200)
    async def slow() -> None:
        """Slow."""

    problems = check_skill(slow)
    assert {p.code for p in problems} == {"capabilities", "timeout"}
    assert "slow: [timeout]" in str(next(p for p in problems if p.code == "timeout"))


def test_checker_catches_condition_mistakes() -> None:
    @skill(
        capabilities={"manipulate"},
        preconditions=["on(object, ?from)", "flying(robot)", "at(robot)"],
        effects=["holding(robot, ?who)", "reaches(robot, object)", "on(object, *)"],
    )
    async def grab(object: str) -> None:
        """Grab."""

    messages = [p.message for p in check_skill(grab)]
    assert any("unknown predicate 'flying'" in m for m in messages)
    assert any("at takes 2 terms" in m for m in messages)
    assert any("?who is not bound" in m for m in messages)
    assert any("reaches is derived" in m for m in messages)
    assert any("cannot contain '*'" in m for m in messages)


def test_checker_catches_bad_return_types_and_names() -> None:
    @skill(name="9lives", capabilities={"x"})
    async def cat() -> str:
        """Meow."""
        return "meow"

    assert codes(cat) == {"name", "signature"}

    @skill(capabilities={"x"})
    async def fine() -> SkillResult | None:
        """Fine."""

    assert codes(fine) == set()


class Runner:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.spec = SkillSpec(
            name="tool", description="A tool.", capabilities=("x",), args_schema=schema
        )

    async def run(self, args: Mapping[str, Any], ctx: SkillContext) -> SkillResult:
        return SkillResult.success()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array"}, "type 'object'"),
        ({"type": "object"}, "no 'properties'"),
        ({"type": "object", "properties": {}, "required": ["a"]}, "'a' is not in properties"),
        ({"type": "object", "properties": {"robot": {"type": "string"}}}, "reserved"),
        ({"type": "object", "properties": {"a b": {"type": "string"}}}, "not an identifier"),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string", "x-robo-os-entity": ["car"]}},
            },
            "x-robo-os-entity",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "number", "default": float("nan")}}},
            "not JSON",
        ),
    ],
)
def test_checker_catches_schema_mistakes(schema: dict[str, Any], message: str) -> None:
    problems = check_skill(Runner(schema))
    assert any(message in p.message for p in problems), problems


def test_checker_reports_definition_errors_and_collisions() -> None:
    @skill(capabilities={"x"})
    async def broken(robot: str) -> None:
        """Uses the reserved name."""

    assert codes(broken) == {"definition"}

    @skill(name="wave", capabilities={"manipulate"})
    async def another_wave() -> None:
        """Collides."""

    assert {p.code for p in check_skill(another_wave, registry=INSTALLED)} == {"duplicate"}


def test_check_registry_includes_plugin_problems() -> None:
    reg = discover(group="robo_os_test.broken_skills")
    problems = check_registry(reg)
    assert {p.code for p in problems} == {"plugin"}
    assert len(problems) == len(reg.problems)
    assert check_registry(SkillRegistry()) == []
