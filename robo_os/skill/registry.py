"""The skill registry: an instance per agent, CLI command or test, never a global.

registry = SkillRegistry([wave, look_around])        # explicit registrations
registry = discover()                                 # plus installed plug-ins, on first use
registry.get("pick")                                  # UnknownNameError: did you mean ...?
registry.for_capabilities({"navigate", "camera"})     # what a robot with these can run
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from ..errors import SkillDefinitionError, UnknownNameError
from .discovery import ENTRY_POINT_GROUP, PluginProblem, iter_plugins
from .invoke import Skill, as_skill
from .spec import SkillSpec

__all__ = ["SkillRegistry", "discover"]

log = logging.getLogger(__name__)


class SkillRegistry:
    """Skills by name. `plugins=True` adds every installed `robo_os.skills` plug-in the
    first time the registry is read (explicit registrations win over plug-ins of the
    same name); what could not be loaded is in `problems`, never raised."""

    def __init__(
        self,
        skills: Iterable[object] = (),
        *,
        plugins: bool = False,
        group: str = ENTRY_POINT_GROUP,
    ) -> None:
        self._skills: dict[str, Skill] = {}
        self._origin: dict[str, str] = {}
        self._pending_group: str | None = group if plugins else None
        self._problems: list[PluginProblem] = []
        for s in skills:
            self.register(s)

    # -- writing ---------------------------------------------------------------------
    def register(self, obj: object, *, source: str = "", replace: bool = False) -> Skill:
        """Add a `@skill` function, a Skill, or a runner (e.g. an MCP tool's skill).
        Registering the same function again is a no-op; another skill under a taken
        name is a SkillDefinitionError unless `replace`."""
        skill = as_skill(obj, source=source)
        have = self._skills.get(skill.name)
        if have is not None and not replace:
            if have is skill or (have.fn is not None and have.fn is skill.fn):
                return have
            raise SkillDefinitionError(
                f"skill {skill.name!r} is already registered (from {have.spec.source or 'code'});"
                f" this one is from {skill.spec.source or 'code'}"
            )
        self._skills[skill.name] = skill
        return skill

    def load_plugins(self) -> SkillRegistry:
        """Load the installed plug-ins now (once); returns self."""
        group, self._pending_group = self._pending_group, None
        if group is None:
            return self
        count = 0
        for ep, skills, problems in iter_plugins(group):
            self._problems += problems
            for s in skills:
                have = self._skills.get(s.name)
                where = f"{ep.name} = {ep.value}"
                if have is None:
                    self._skills[s.name] = s
                    self._origin[s.name] = f"{s.spec.source} ({where})"
                    count += 1
                elif not (have.fn is not None and have.fn is s.fn):
                    kept = self._origin.get(s.name, have.spec.source or "code")
                    self._problems.append(
                        PluginProblem(
                            s.spec.source,
                            f"duplicate skill name; kept the one from {kept}",
                            where,
                            s.name,
                        )
                    )
                    log.warning(
                        "skill %s from %s (%s) shadowed by %s", s.name, s.spec.source, ep.name, kept
                    )
        log.info(
            "loaded %d skills from %s plug-ins (%d problems)", count, group, len(self._problems)
        )
        return self

    # -- reading -----------------------------------------------------------------------
    def _all(self) -> dict[str, Skill]:
        if self._pending_group is not None:
            self.load_plugins()
        return self._skills

    @property
    def problems(self) -> list[PluginProblem]:
        """Plug-ins, or skills of plug-ins, that could not be registered, and why."""
        self._all()
        return list(self._problems)

    def get(self, name: str) -> Skill:
        """The skill called `name`; UnknownNameError (with "did you mean") if none is."""
        skills = self._all()
        try:
            return skills[name]
        except KeyError:
            raise UnknownNameError("skill", name, sorted(skills)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[Skill]:
        return iter(sorted(self._all().values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._all())

    def names(self) -> list[str]:
        return sorted(self._all())

    def specs(self) -> list[SkillSpec]:
        return [s.spec for s in self]

    def for_capabilities(self, capabilities: Iterable[str]) -> list[Skill]:
        """Skills whose required capabilities are all in `capabilities`."""
        have = frozenset(capabilities)
        return [s for s in self if have.issuperset(s.spec.capabilities)]


def discover(skills: Iterable[object] = (), *, group: str = ENTRY_POINT_GROUP) -> SkillRegistry:
    """A registry of `skills` plus every installed plug-in, loaded on first use."""
    return SkillRegistry(skills, plugins=True, group=group)
