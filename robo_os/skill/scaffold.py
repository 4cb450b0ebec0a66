"""`robo-os skills new NAME`: a plug-in package that passes `robo-os skills check` and its
own tests as generated: a pyproject with the `robo_os.skills` entry point, one skill
with a typed part and symbolic conditions, and a test using `robo_os.testing`."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

__all__ = ["Scaffold", "new_plugin"]

_DIST = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")


@dataclass(frozen=True)
class Scaffold:
    root: Path
    distribution: str
    module: str
    skill: str
    files: tuple[Path, ...]


def new_plugin(name: str, directory: Path, *, skill: str | None = None) -> Scaffold:
    """Write the package `name` (a distribution name such as `robo-os-greeter`) into
    `directory/name`; refuses to overwrite anything."""
    if not _DIST.match(name):
        raise UserError(
            f"{name!r} is not a package name: lower-case letters, digits and '-',"
            " starting with a letter (e.g. robo-os-greeter)"
        )
    module = name.replace("-", "_")
    skill_name = skill or module.removeprefix("robo_os_")
    if not skill_name.isidentifier() or keyword.iskeyword(skill_name):
        raise UserError(f"{skill_name!r} cannot be a skill name: use a Python identifier")
    root = directory / name
    if root.exists():
        raise UserError(f"{root} already exists; choose another name or folder")
    files = {
        root / "pyproject.toml": _PYPROJECT.format(dist=name, module=module),
        root / "README.md": _README.format(dist=name, module=module, skill=skill_name),
        root / module / "__init__.py": _SKILL.format(skill=skill_name),
        root / "tests" / f"test_{module}.py": _TEST.format(module=module, skill=skill_name),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Scaffold(root, name, module, skill_name, tuple(files))


_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "0.1.0"
description = "robo-os skills: {dist}"
requires-python = ">=3.11"
dependencies = ["robo-os"]

[project.optional-dependencies]
test = ["pytest>=8", "pytest-asyncio>=0.24"]

# how robo-os finds the skills: every agent whose robot has the capabilities offers them
[project.entry-points."robo_os.skills"]
{module} = "{module}:SKILLS"

[tool.hatch.build.targets.wheel]
packages = ["{module}"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
"""

_README = """\
# {dist}

A robo-os skill plug-in. Install it where the robots' agents run, then check it:

    pip install -e '.[test]'
    robo-os skills check          # the skill `{skill}` passes the conformance checker
    pytest                        # its tests, against robo_os.testing's fake robot

Edit `{module}/__init__.py`; docs/writing-skills.md in robo-os explains every part.
"""

_SKILL = '''\
"""Skills of this plug-in (registered through the `robo_os.skills` entry point)."""

from __future__ import annotations

from robo_os.skill import ErrorCode, SkillContext, SkillResult, skill
from robo_os.skill.parts import Base
from robo_os.skill.refs import PlaceName

__all__ = ["SKILLS", "{skill}"]


@skill(
    timeout_s=120.0,
    # what the planner may assume: the robot ends at `place`
    preconditions=["at(robot, ?here)"],
    effects=["not at(robot, ?here)", "at(robot, place)"],
)
async def {skill}(ctx: SkillContext, place: PlaceName, base: Base) -> SkillResult:
    """Drive to a place and report arriving there.

    Args:
        place: Where to go.
    """
    moved = await base.move_to(place, cancel=ctx.cancel, deadline=ctx.deadline)
    if not moved.ok:  # cancelled and timed out calls come back as such by themselves
        return SkillResult.failure(ErrorCode.unreachable, moved.message)
    await ctx.report_progress(1.0, f"at {{place}}")
    return SkillResult.success(f"arrived at {{place}}", data={{"place": place}})


SKILLS = [{skill}]
'''

_TEST = '''\
"""The skill against robo_os.testing's fake robot: no stack, no simulator."""

from __future__ import annotations

import asyncio

from robo_os.contracts import ErrorCode
from robo_os.skill import CancelToken, check_skill
from robo_os.skill.parts import MotionOutcome
from robo_os.testing import FakeRobot, run_skill

from {module} import {skill}


def robot() -> FakeRobot:
    return FakeRobot("r1", parts={{"base"}}, place="dock", places={{"kitchen"}})


def test_it_passes_the_conformance_check() -> None:
    assert check_skill({skill}) == []


async def test_it_drives_there() -> None:
    r = robot()
    result = await run_skill({skill}, {{"place": "kitchen"}}, robot=r)
    assert result.ok and r.place == "kitchen"


async def test_bad_arguments_are_refused() -> None:
    result = await run_skill({skill}, {{"plaec": "kitchen"}}, robot=robot())
    assert result.error == ErrorCode.invalid_args


async def test_a_blocked_drive_is_a_structured_failure() -> None:
    r = robot().script("move_to", MotionOutcome.collision, "bumped into a chair")
    result = await run_skill({skill}, {{"place": "kitchen"}}, robot=r)
    assert result.error == ErrorCode.unreachable and r.place == "dock"


async def test_cancel_mid_drive() -> None:
    r, cancel = robot(), CancelToken()
    r.gate("move_to")
    run = asyncio.ensure_future(run_skill({skill}, {{"place": "kitchen"}}, robot=r, cancel=cancel))
    await asyncio.wait_for(r.motion_started("move_to").wait(), 5)
    cancel.cancel("stop")
    assert (await run).error == ErrorCode.cancelled
'''
