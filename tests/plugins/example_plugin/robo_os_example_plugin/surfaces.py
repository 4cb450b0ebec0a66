"""Surface skills with facts of their own (docs/writing-skills.md, "Your own facts").

`clean(place)` is not a built-in predicate: the plug-in declares it, `wipe` makes it
true, `spill` makes it false, and `inspected(object)` is a fact only plans reason with
(memory never records it). Not in the package's SKILLS: tests register these on purpose.
"""

from __future__ import annotations

from robo_os.skill import Fact, SkillContext, SkillResult, skill
from robo_os.skill.refs import ObjectName, PlaceName

__all__ = ["CLEAN", "INSPECTED", "SKILLS", "inspect", "spill", "wipe"]

CLEAN = Fact(
    "clean(place)",
    meaning="the place's surface has been wiped",
    initial="clean",  # a scene may say `clean: true`; otherwise not clean at start
    verbs=("clean",),
)
INSPECTED = Fact("inspected(object)", meaning="a robot has looked the object over", recorded=False)


@skill(
    capabilities={"manipulate"},
    timeout_s=30.0,
    facts=[CLEAN],
    preconditions=["at(robot, place)", "hand_empty(robot)"],
    effects=["clean(place)"],
)
async def wipe(ctx: SkillContext, place: PlaceName) -> SkillResult:
    """Wipe the surface of a place the robot is at with its gripper's sponge.

    Args:
        place: The place to wipe.
    """
    for i in range(3):
        ctx.check()
        await ctx.report_progress((i + 1) / 3, f"stroke {i + 1}/3")
    return SkillResult.success(f"wiped {place}")


@skill(
    capabilities={"manipulate"},
    timeout_s=10.0,
    facts=[CLEAN],
    preconditions=["at(robot, place)"],
    effects=["not clean(place)"],
)
async def spill(ctx: SkillContext, place: PlaceName) -> SkillResult:
    """Spill water on a place the robot is at (a test's way to make it dirty).

    Args:
        place: The place to spill on.
    """
    ctx.check()
    return SkillResult.success(f"spilled on {place}")


@skill(
    capabilities={"camera"},
    timeout_s=10.0,
    facts=[INSPECTED],
    preconditions=["on(object, ?where)", "reaches(robot, ?where)"],
    effects=["inspected(object)"],
)
async def inspect(ctx: SkillContext, object: ObjectName) -> SkillResult:
    """Look an object over closely with the camera.

    Args:
        object: The object to inspect.
    """
    ctx.check()
    return SkillResult.success(f"inspected {object}")


SKILLS = [wipe, spill, inspect]
