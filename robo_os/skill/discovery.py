"""Plug-in discovery: skills from installed packages, through the `robo_os.skills` entry
point, exactly as the standard library registers its own.

    [project.entry-points."robo_os.skills"]
    my_skills = "my_package.skills:SKILLS"      # an iterable of skills
    wave = "my_package.skills:wave"              # one skill function
    more = "my_package.more_skills"              # a module: its SKILLS, or its @skill functions

Loading is the registry's business and happens on first use (`SkillRegistry(plugins=True)`
or `discover()`); a plug-in that fails to import or offers an invalid skill becomes a
`PluginProblem` naming it and the error, and the others load normally.
"""

from __future__ import annotations

import logging
import traceback
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from ..errors import SkillDefinitionError
from .decorator import get_skill_meta
from .invoke import Skill, SkillRunner, as_skill

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginProblem",
    "iter_plugins",
    "load_entry_point",
    "load_plugins",
    "plugin_entry_points",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "robo_os.skills"


@dataclass(frozen=True)
class PluginProblem:
    """Why a plug-in (or one of its skills) was not registered."""

    source: str
    """The plug-in: its distribution's name (or the entry point's, if it has none)."""
    message: str
    entry_point: str = ""
    """`name = value` of the entry point."""
    skill: str | None = None

    def __str__(self) -> str:
        what = f"{self.source} ({self.entry_point})" if self.entry_point else self.source
        named = self.skill is None or self.message.startswith(f"skill {self.skill!r}")
        return f"{what}: {'' if named else f'skill {self.skill!r}: '}{self.message}"


def plugin_entry_points(group: str = ENTRY_POINT_GROUP) -> list[EntryPoint]:
    """The installed entry points of the group, in a stable order."""
    return sorted(
        entry_points(group=group), key=lambda ep: (ep.dist.name if ep.dist else "", ep.name)
    )


def _source(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ep.name


def _members(obj: object) -> list[object] | None:
    """What an entry point's object offers, or None when it offers nothing usable."""
    if isinstance(obj, types.ModuleType):
        if hasattr(obj, "SKILLS"):
            return _members(obj.SKILLS)
        found = [
            v
            for v in vars(obj).values()
            if get_skill_meta(v) is not None and getattr(v, "__module__", None) == obj.__name__
        ]
        return sorted(found, key=lambda f: get_skill_meta(f).name)  # type: ignore[union-attr]
    if isinstance(obj, Skill | SkillRunner) or get_skill_meta(obj) is not None:
        return [obj]
    if isinstance(obj, Iterable) and not isinstance(obj, str | bytes | dict):
        return list(obj)
    return None


def load_entry_point(ep: EntryPoint) -> tuple[list[Skill], list[PluginProblem]]:
    """Import one entry point and build its skills; never raises for a broken plug-in."""
    source, where = _source(ep), f"{ep.name} = {ep.value}"
    try:
        obj = ep.load()
    except Exception as e:  # any import-time failure of third-party code is its problem, not ours
        log.warning("skill plug-in %s (%s) failed to import: %s", source, where, e)
        at = _error_location(e)
        return [], [
            PluginProblem(
                source,
                f"cannot import {ep.value}: {type(e).__name__}: {e}" + (f" (at {at})" if at else ""),
                where,
            )
        ]
    members = _members(obj)
    if members is None:
        msg = (
            f"{ep.value} is a {type(obj).__name__};"
            " expected a @skill function, an iterable of them, or a module"
        )
        return [], [PluginProblem(source, msg, where)]
    skills: list[Skill] = []
    problems: list[PluginProblem] = []
    for item in members:
        meta = get_skill_meta(item)
        try:
            skills.append(as_skill(item, source=source))
        except SkillDefinitionError as e:
            problems.append(PluginProblem(source, str(e), where, meta.name if meta else None))
        except Exception as e:  # a runner whose `spec` property raises, and the like
            problems.append(
                PluginProblem(
                    source, f"{type(e).__name__}: {e}", where, meta.name if meta else None
                )
            )
    return skills, problems


def load_plugins(group: str = ENTRY_POINT_GROUP) -> tuple[list[Skill], list[PluginProblem]]:
    """Every installed plug-in's skills and the problems found loading them."""
    skills: list[Skill] = []
    problems: list[PluginProblem] = []
    for _, got, bad in iter_plugins(group):
        skills += got
        problems += bad
    return skills, problems


def iter_plugins(
    group: str = ENTRY_POINT_GROUP,
) -> Iterator[tuple[EntryPoint, list[Skill], list[PluginProblem]]]:
    """Each installed entry point of the group with its skills and problems."""
    for ep in plugin_entry_points(group):
        got, bad = load_entry_point(ep)
        log.debug(
            "plug-in %s (%s = %s): %d skills, %d problems",
            _source(ep),
            ep.name,
            ep.value,
            len(got),
            len(bad),
        )
        yield ep, got, bad


def _error_location(e: BaseException) -> str | None:
    """`file:line` where a plug-in's import failed: the syntax error's own place, else the
    innermost frame outside the import machinery."""
    if isinstance(e, SyntaxError) and e.filename:
        return f"{e.filename}:{e.lineno}"
    frames = [
        f
        for f in traceback.extract_tb(e.__traceback__)
        if "importlib" not in f.filename and not f.filename.startswith("<frozen")
    ]
    if not frames or frames[-1].filename == __file__:
        return None
    return f"{frames[-1].filename}:{frames[-1].lineno}"

