"""The standard skills declare their parts by type: the simulator's robots supply them,
the specs' capabilities follow from them, and a robot without one fails cleanly."""

from __future__ import annotations

from robo_os_skills import SKILLS, deliver, look, navigate_to, pick

from robo_os.contracts import ErrorCode
from robo_os.skill.invoke import as_skill
from robo_os.skill.parts import PART_SLOTS

from .std_world import StdWorld


def test_capabilities_follow_from_the_parts() -> None:
    caps = {as_skill(s).name: as_skill(s).spec.capabilities for s in SKILLS}
    assert caps == {
        "navigate_to": ("navigate",),
        "navigate_to_pose": ("navigate",),
        "pick": ("manipulate",),
        "pick_from_floor": ("manipulate", "navigate"),  # drives next to the object first
        "place": ("manipulate",),
        "put_in": ("manipulate",),
        "deliver": ("carry", "navigate"),  # the tray unloads where the base docked
        "look": ("camera",),
        "open": ("manipulate",),
        "close": ("manipulate",),
    }


async def test_each_sim_robot_has_exactly_the_parts_of_its_capabilities(std: StdWorld) -> None:
    for robot in std.robots.values():
        for kind, slot in PART_SLOTS.items():
            part = getattr(robot, slot.attribute)
            assert (part is not None) == (slot.capability in robot.capabilities), (robot.id, kind)
            assert part is None or isinstance(part, kind), (robot.id, kind)


async def test_a_sim_robot_without_a_part_gets_a_structured_failure(std: StdWorld) -> None:
    cases = [
        ("carrier1", look, {}, "carrier1 has no camera, which look needs"),
        ("carrier1", pick, {"object": "apple"}, "carrier1 has no arm, gripper, which pick needs"),
        ("arm1", navigate_to, {"target": "shelf"}, "arm1 has no base, which navigate_to needs"),
        (
            "arm1",
            deliver,
            {"object": "apple", "target": "kitchen_counter"},
            "arm1 has no tray, base, which deliver needs",
        ),
    ]
    for robot, fn, args, message in cases:
        result = await std.run(robot, fn, **args)
        assert (result.error, result.message) == (ErrorCode.precondition_failed, message)
