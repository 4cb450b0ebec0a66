"""look and open/close in physics, and the standard library's conformance: every skill
passes the checker and declares what the planner expects of it."""

from __future__ import annotations

import base64
from importlib.metadata import entry_points

from robo_os_skills import SKILLS, close_place, look, navigate_to, open_place

from robo_os.contracts import ErrorCode
from robo_os.skill.checker import check_skill
from robo_os.skill.invoke import as_skill

from .std_world import StdWorld


async def test_look_returns_a_png_and_what_is_visible(std: StdWorld) -> None:
    result = await std.run("arm1", look, target="kitchen_counter")
    assert result.ok, result
    png = base64.b64decode(str(result.data["image_png"]))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert (result.data["width"], result.data["height"]) == (320, 240)
    assert {"apple", "cup"} <= set(result.data["visible"])  # type: ignore[arg-type]
    ahead = await std.run("mm1", look)
    assert ahead.ok and "mug" in ahead.data["visible"]  # type: ignore[operator]
    assert (await std.run("arm1", look, target="attic")).error == ErrorCode.not_found
    assert (await std.run("carrier1", look)).error == ErrorCode.precondition_failed


async def test_open_and_close_the_cabinet(std: StdWorld) -> None:
    assert (await std.run("arm1", open_place, target="cabinet")).error == ErrorCode.unreachable
    assert (await std.run("mm1", navigate_to, target="cabinet")).ok
    opened = await std.run("mm1", open_place, target="cabinet")
    assert opened.ok, opened
    assert std.world.drawer_open("cabinet") is True
    cabinet = await std.memory.get_place("cabinet")
    assert cabinet is not None and cabinet.attrs["open"] is True
    closed = await std.run("mm1", close_place, target="cabinet")
    assert closed.ok, closed
    assert std.world.drawer_open("cabinet") is False
    cabinet = await std.memory.get_place("cabinet")
    assert cabinet is not None and cabinet.attrs["open"] is False
    shelf = await std.run("mm1", open_place, target="shelf")
    assert shelf.error == ErrorCode.precondition_failed


def test_every_standard_skill_conforms_and_is_the_entry_point() -> None:
    specs = {as_skill(s).name: as_skill(s).spec for s in SKILLS}
    assert set(specs) == {
        "navigate_to",
        "navigate_to_pose",
        "pick",
        "pick_from_floor",
        "place",
        "put_in",
        "deliver",
        "look",
        "open",
        "close",
    }
    for s in SKILLS:
        assert check_skill(s) == [], s
    (ep,) = [e for e in entry_points(group="robo_os.skills") if e.value == "robo_os_skills:SKILLS"]
    assert ep.load() is SKILLS
    # what the brain plans with (tests/brain/planning mirrors these)
    assert specs["pick"].preconditions == (
        "hand_empty(robot)",
        "on(object, ?from)",
        "reaches(robot, ?from)",
    )
    assert specs["place"].effects == (
        "not holding(robot, object)",
        "hand_empty(robot)",
        "on(object, target)",
    )
    assert specs["deliver"].preconditions == ("on(object, robot)", "at(robot, target)")
    assert specs["navigate_to"].effects == ("not at(robot, *)", "at(robot, target)")
    assert specs["look"].concurrent and specs["look"].capabilities == ("camera",)
    assert specs["open"].preconditions == (
        "not open(target)",
        "hand_empty(robot)",
        "reaches(robot, target)",
    )
