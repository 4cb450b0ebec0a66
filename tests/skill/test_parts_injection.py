"""Typed parts: a skill declares `arm: Arm` and the robot running the call supplies it.
The parameter stays out of the argument schema, its capability joins the spec's, and a
robot without the part gets a structured failure, never an AttributeError."""

from __future__ import annotations

import pytest

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.errors import SkillDefinitionError
from robo_os.skill import Skill, SkillContext, build_spec, check_skill, skill
from robo_os.skill.parts import PART_SLOTS, Arm, Base, Camera, Gripper, MotionResult, Tray
from robo_os.skill.refs import ObjectName
from robo_os.testing import FakeCamera, FakeRobot, skill_context


class FakeGripper:
    def __init__(self) -> None:
        self.held: str | None = None

    async def holding(self) -> str | None:
        return self.held


@skill(capabilities={"speak"}, timeout_s=5.0)
async def grab(
    ctx: SkillContext, object: ObjectName, arm: Arm, gripper: Gripper, tray: Tray | None = None
) -> SkillResult:
    """Grasp an object.

    Args:
        object: What to grasp.
    """
    return SkillResult.success(
        data={"gripper": type(gripper).__name__, "arm": type(arm).__name__, "tray": tray is None}
    )


def test_parts_are_injected_not_arguments_and_add_their_capability() -> None:
    sk = Skill.from_function(grab)
    assert list(sk.spec.args_schema["properties"]) == ["object"]
    assert sk.spec.args_schema["required"] == ["object"]
    # declared `speak`, plus `manipulate` for the arm and gripper; the optional tray
    # adds nothing (the skill runs on robots without one)
    assert sk.spec.capabilities == ("manipulate", "speak")
    assert sk.signature is not None
    assert [(p.name, p.slot.attribute, p.optional) for p in sk.signature.parts] == [
        ("arm", "arm", False),
        ("gripper", "gripper", False),
        ("tray", "tray", True),
    ]
    assert check_skill(grab) == []


def test_the_part_capability_table() -> None:
    assert {kind: slot.capability for kind, slot in PART_SLOTS.items()} == {
        Base: "navigate",
        Arm: "manipulate",
        Gripper: "manipulate",
        Camera: "camera",
        Tray: "carry",
    }


def test_parts_alone_are_enough_capabilities() -> None:
    # the parts are named only in string hints, as in a module that imports them under
    # TYPE_CHECKING: they still resolve
    namespace: dict[str, object] = {}
    exec(
        "async def snap(camera: 'Camera', robot: 'Robot', tray: 'Tray | None' = None) -> None:\n"
        "    '''Take a picture.'''",
        namespace,
    )
    snap = skill(timeout_s=5.0)(namespace["snap"])  # type: ignore[call-overload]
    spec = build_spec(snap)
    assert spec.capabilities == ("camera",)
    assert spec.args_schema["properties"] == {}
    assert check_skill(snap) == []


async def test_the_running_robots_parts_are_passed_in() -> None:
    @skill(timeout_s=5.0)
    async def snap(ctx: SkillContext, camera: Camera, tray: Tray | None = None) -> SkillResult:
        """Take a picture."""
        image = await camera.capture()
        return SkillResult.success(data={"visible": list(image.visible), "tray": tray is None})

    robot = FakeRobot("cam1", capabilities={"camera"}, camera=True)
    result = await Skill.from_function(snap).run({}, skill_context(robot, "snap"))
    assert result.ok, result.message
    assert result.data == {"visible": ["apple"], "tray": True}
    assert isinstance(robot.camera, FakeCamera) and robot.camera.captures == 1


async def test_a_robot_without_a_part_gets_precondition_failed() -> None:
    robot = FakeRobot("bare1", capabilities={"manipulate", "speak"})
    result = await Skill.from_function(grab).run({"object": "apple"}, skill_context(robot, "grab"))
    assert result.error == ErrorCode.precondition_failed
    assert result.message == "bare1 has no arm, gripper, which grab needs"

    robot.gripper = FakeGripper()  # type: ignore[attr-defined]
    result = await Skill.from_function(grab).run({"object": "apple"}, skill_context(robot, "grab"))
    assert result.error == ErrorCode.precondition_failed
    assert result.message == "bare1 has no arm, which grab needs"


async def test_arguments_are_validated_before_parts_are_looked_up() -> None:
    result = await Skill.from_function(grab).run({}, skill_context(FakeRobot(), "grab"))
    assert result.error == ErrorCode.invalid_args


async def test_a_sync_skill_without_its_part_fails_the_same_way() -> None:
    @skill(timeout_s=5.0)
    def dock(base: Base) -> None:
        """Dock."""

    result = await Skill.from_function(dock).run({}, skill_context(FakeRobot("nobase"), "dock"))
    assert result.error == ErrorCode.precondition_failed
    assert "nobase has no base" in result.message


class FakeArm:
    async def reaches(self, target: str) -> bool:
        return True

    async def pick(self, obj: str, **_: object) -> MotionResult:
        raise AssertionError("not called")


async def test_a_robot_with_the_parts_runs_the_skill() -> None:
    robot = FakeRobot("arm9")
    robot.arm = FakeArm()  # type: ignore[attr-defined]
    robot.gripper = FakeGripper()  # type: ignore[attr-defined]
    result = await Skill.from_function(grab).run({"object": "apple"}, skill_context(robot, "grab"))
    assert result.ok, result.message
    assert result.data == {"gripper": "FakeGripper", "arm": "FakeArm", "tray": True}


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("async def f(arm: Arm | str) -> None: ...", "mixes a part with other types"),
        ("async def f(arm: Arm | Gripper) -> None: ...", "mixes a part with other types"),
        ("async def f(arms: list[Arm]) -> None: ...", "wraps a part"),
        ("async def f(arm: Arm = None) -> None: ...", "has a default"),
        ("async def f(arm: Arm | None = 1) -> None: ...", "has a default"),
    ],
)
def test_badly_declared_parts_are_definition_errors(source: str, match: str) -> None:
    namespace: dict[str, object] = {"Arm": Arm, "Gripper": Gripper}
    exec(source, namespace)  # each case is a small function definition
    fn = skill(capabilities={"x"})(namespace["f"])  # type: ignore[call-overload]
    with pytest.raises(SkillDefinitionError, match=match):
        build_spec(fn)
    assert [p.code for p in check_skill(fn)] == ["definition"]


def test_the_checker_flags_an_argument_named_like_a_part() -> None:
    @skill(capabilities={"manipulate"})
    async def wipe(arm: str, target: str) -> None:
        """Wipe a place.

        Args:
            arm: Which arm.
            target: Where.
        """

    problems = check_skill(wipe)
    assert [p.code for p in problems] == ["signature"]
    assert "annotate it `Arm`" in problems[0].message
