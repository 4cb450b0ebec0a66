"""Skill specs from type hints and docstrings: schema, descriptions, injected context,
and the definitions that must be rejected."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import pytest
from pydantic import BaseModel
from robo_os_memory import Memory

from robo_os.contracts import SkillCall, SkillResult
from robo_os.errors import SkillDefinitionError
from robo_os.skill import CancelToken, Skill, build_spec, parse_docstring, skill
from robo_os.skill.refs import ENTITY_KEY, ObjectName, PlaceOrRobotName
from robo_os.skill.robot import Robot

if TYPE_CHECKING:  # hints naming it still resolve: the SDK knows the context types
    from robo_os.skill.context import SkillContext


class Grip(BaseModel):
    force: float = 0.5
    width_m: float | None = None


@skill(
    capabilities={"manipulate"},
    timeout_s=12.0,
    preconditions=["holding(robot, object)", "reaches(robot, target)"],
    effects=["not holding(robot, object)", "hand_empty(robot)", "on(object, target)"],
)
async def put(
    ctx: SkillContext,
    object: ObjectName,
    target: PlaceOrRobotName,
    mode: Literal["gentle", "drop"] = "gentle",
    grip: Grip | None = None,
    json: int = 3,
) -> SkillResult:
    """Put the held object on a place or a robot's tray.

    It lets go only once the object rests.

    Args:
        object: The object held now.
        target: Where to put it: a place,
            or a robot (its tray).
        mode: How to let go.
        grip (Grip): Grip settings.

    Returns:
        ok when it rests there.
    """
    return SkillResult.success()


def test_schema_from_hints_and_google_docstring() -> None:
    spec = build_spec(put, source="tests")
    assert spec.name == "put"
    assert spec.description == "Put the held object on a place or a robot's tray."
    assert spec.capabilities == ("manipulate",)
    assert spec.timeout_s == 12.0
    assert spec.source == "tests"
    assert spec.preconditions == ("holding(robot, object)", "reaches(robot, target)")
    schema = spec.args_schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"object", "target", "mode", "grip", "json"}
    assert schema["required"] == ["object", "target"]
    props = schema["properties"]
    assert props["object"] == {
        "type": "string",
        "description": "The object held now.",
        ENTITY_KEY: ["object"],
    }
    assert props["target"]["description"] == "Where to put it: a place, or a robot (its tray)."
    assert props["target"][ENTITY_KEY] == ["place", "robot"]
    assert props["mode"]["enum"] == ["gentle", "drop"] and props["mode"]["default"] == "gentle"
    assert props["json"] == {"type": "integer", "default": 3}
    assert "title" not in schema and all("title" not in p for p in props.values())
    assert "Grip" in schema["$defs"] and "title" not in schema["$defs"]["Grip"]


def test_context_parameters_are_injected_by_type_not_in_the_schema() -> None:
    @skill(capabilities={"navigate"})
    def drive(
        place: str,
        ctx: SkillContext,
        bot: Robot,
        mem: Memory,
        log: logging.Logger,
        token: CancelToken,
        call: SkillCall,
        maybe: SkillContext | None = None,
    ) -> None:
        """Drive somewhere."""

    sk = Skill.from_function(drive)
    assert list(sk.spec.args_schema["properties"]) == ["place"]
    assert sk.signature is not None
    assert [name for name, _ in sk.signature.injected] == [
        "ctx",
        "bot",
        "mem",
        "log",
        "token",
        "call",
        "maybe",
    ]
    assert not sk.signature.is_async


def test_a_robot_typed_context_parameter_may_be_called_robot() -> None:
    @skill(capabilities={"navigate"})
    async def stop(robot: Robot) -> None:
        """Stop."""

    assert build_spec(stop).args_schema["properties"] == {}


def test_numpy_docstring_and_description_override() -> None:
    doc = """Wave.

    Parameters
    ----------
    times : int
        How many
        times.
    speed : float
        Speed.

    Returns
    -------
    SkillResult
    """
    desc, params = parse_docstring(doc)
    assert desc == "Wave."
    assert params == {"times": "How many times.", "speed": "Speed."}

    @skill(description="Say hello with the arm.", capabilities={"manipulate"})
    async def wave(times: int = 1) -> None:
        """Ignored first paragraph."""

    assert build_spec(wave).description == "Say hello with the arm."


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("async def f(robot: str) -> None: ...", "may not be called 'robot'"),
        ("async def f(*names: str) -> None: ...", r"\*args/\*\*kwargs"),
        ("async def f(**kw: str) -> None: ...", r"\*args/\*\*kwargs"),
        ("async def f(a: int, /) -> None: ...", "positional-only"),
        ("async def f(a) -> None: ...", "no type hint"),
        ("async def f(a: 'NoSuchType') -> None: ...", "cannot resolve its type hints"),
        ("async def f(a: socket.socket) -> None: ...", "no JSON schema"),
        ("async def f():\n    yield 1", "generator"),
    ],
)
def test_bad_definitions_are_rejected(source: str, match: str) -> None:
    import socket

    namespace: dict[str, object] = {"socket": socket}
    exec(source, namespace)  # each case is a small function definition
    fn = skill(capabilities={"x"})(namespace["f"])  # type: ignore[call-overload]
    with pytest.raises(SkillDefinitionError, match=match):
        build_spec(fn)


def test_conditions_must_name_parameters() -> None:
    @skill(capabilities={"manipulate"}, preconditions=["on(thing, ?from)"])
    async def pick(object: str) -> None:
        """Pick."""

    with pytest.raises(SkillDefinitionError, match="names thing, which is not a parameter"):
        build_spec(pick)

    @skill(
        capabilities={"manipulate"},
        preconditions=["on(object, ?from)", "not open('cabinet')", "at(robot, *)"],
    )
    async def pick2(object: str) -> None:
        """Pick."""

    assert build_spec(pick2).preconditions[1] == "not open('cabinet')"


def test_undecorated_functions_are_not_skills() -> None:
    async def plain(a: int) -> None: ...

    with pytest.raises(SkillDefinitionError, match="not decorated with @skill"):
        build_spec(plain)


def test_requires_approval_reaches_the_published_spec() -> None:
    @skill(requires_approval=True)
    async def cut_wire(ctx: SkillContext, wire: str) -> SkillResult:
        """Cut a wire (a person says yes first)."""
        return SkillResult.success()

    spec = build_spec(cut_wire)
    assert spec.requires_approval is True
    assert spec.model_dump(mode="json")["requires_approval"] is True  # what memory holds
    assert build_spec(put).requires_approval is False
