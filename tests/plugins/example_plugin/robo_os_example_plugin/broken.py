"""Plug-in entries that are broken on purpose (the `robo_os_test.broken_skills` group)."""

from __future__ import annotations

from robo_os.skill import skill


@skill(capabilities={"manipulate"}, effects=["holding(robot, thing)"])
async def grab(object: str) -> None:
    """An effect names `thing`, which is not a parameter."""


@skill(capabilities={"manipulate"})
async def untyped(target) -> None:  # type: ignore[no-untyped-def]
    """A parameter without a type hint."""


@skill(capabilities={"manipulate"})
async def fine(target: str) -> None:
    """A valid skill next to the broken ones: it still loads."""


@skill(name="wave", capabilities={"manipulate"})
async def other_wave() -> None:
    """A second skill called `wave` (the example plug-in has one)."""


BAD_SKILLS = [grab, untyped, fine]
NOT_A_SKILL = 42
DUPLICATE = [other_wave]
