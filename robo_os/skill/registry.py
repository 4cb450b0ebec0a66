"""The skill registry: an instance per agent, CLI command or test, never a global.

registry = SkillRegistry([wave, look_around])        # explicit registrations
registry = discover()                                 # plus installed plug-ins, on first use
registry.get("pick")                                  # UnknownNameError: did you mean ...?
registry.for_capabilities({"navigate", "camera"})     # what a robot with these can run
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator

from ..errors import SkillDefinitionError, UnknownNameError
from ..symbolic.facts import Fact
from .decorator import get_skill_meta
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
        """Load the installed plug-ins now (once); returns self.

        A plug-in skill is registered only if it passes the conformance checker. Names
        follow one rule: a skill registered in code wins over plug-ins; otherwise a name
        offered by two plug-ins is refused for both (naming both), except that a
        standard skill (`robo-os-skills`) is kept over a plug-in's unless that plug-in's
        skill says `@skill(replaces="robo-os-skills")`."""
        from .checker import check_skill  # the checker reads registries: imported late

        group, self._pending_group = self._pending_group, None
        if group is None:
            return self
        offers: dict[str, list[tuple[Skill, str]]] = {}
        for ep, skills, problems in iter_plugins(group):
            self._problems += problems
            where = f"{ep.name} = {ep.value}"
            for s in skills:
                have = self._skills.get(s.name)
                if have is not None:
                    if not (have.fn is not None and have.fn is s.fn):
                        self._refuse(s, where, f"duplicate skill name; kept the one from {self._origin.get(s.name, have.spec.source or 'code')}")
                    continue
                failed = check_skill(s)
                if failed:
                    self._refuse(
                        s,
                        where,
                        f"fails the conformance check at {_location(s)}: "
                        + "; ".join(f"[{p.code}] {p.message}" for p in failed),
                    )
                    continue
                entries = offers.setdefault(s.name, [])
                if not any(e.fn is not None and e.fn is s.fn for e, _ in entries):
                    entries.append((s, where))
        count = 0
        for name, entries in offers.items():
            for s, where, why in _arbitrate(entries):
                if why is None:
                    self._skills[name] = s
                    self._origin[name] = f"{s.spec.source} ({where})"
                    count += 1
                else:
                    self._refuse(s, where, why)
        log.info(
            "loaded %d skills from %s plug-ins (%d problems)", count, group, len(self._problems)
        )
        return self

    def _refuse(self, s: Skill, where: str, why: str) -> None:
        self._problems.append(PluginProblem(s.spec.source, why, where, s.name))
        log.warning("skill %s from %s (%s) not registered: %s", s.name, s.spec.source, where, why)

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

    def facts(self) -> list[Fact]:
        """The facts the registered skills declare (robo_os.symbolic.facts), each once,
        in skill order."""
        return list(dict.fromkeys(f for s in self for f in s.spec.facts))

    def for_capabilities(self, capabilities: Iterable[str]) -> list[Skill]:
        """Skills whose required capabilities are all in `capabilities`."""
        have = frozenset(capabilities)
        return [s for s in self if have.issuperset(s.spec.capabilities)]


def discover(skills: Iterable[object] = (), *, group: str = ENTRY_POINT_GROUP) -> SkillRegistry:
    """A registry of `skills` plus every installed plug-in, loaded on first use."""
    return SkillRegistry(skills, plugins=True, group=group)


STANDARD_SOURCE = "robo-os-skills"
"""The distribution of the standard skills, kept over a plug-in's unless it `replaces` it."""


def _arbitrate(
    entries: list[tuple[Skill, str]],
) -> list[tuple[Skill, str, str | None]]:
    """Who gets a name several plug-ins offer: (skill, entry point, None if registered
    else why it was refused)."""
    if len(entries) == 1:
        s, where = entries[0]
        return [(s, where, None)]

    def label(s: Skill, where: str) -> str:
        return f"{s.spec.source} ({where})"

    standard = [(s, w) for s, w in entries if s.spec.source == STANDARD_SOURCE]
    others = [(s, w) for s, w in entries if s.spec.source != STANDARD_SOURCE]
    replacing = [(s, w) for s, w in others if _replaces(s) == STANDARD_SOURCE]
    if len(standard) == 1 and len(others) == 1 and replacing:
        (std, std_where), (new, new_where) = standard[0], others[0]
        return [
            (new, new_where, None),
            (std, std_where, f"replaced on purpose by {label(new, new_where)}"),
        ]
    if len(standard) == 1:
        std, std_where = standard[0]
        return [(std, std_where, None)] + [
            (
                s,
                w,
                f"duplicate skill name: the standard skill from {label(std, std_where)} is"
                f" kept; declare @skill(replaces={STANDARD_SOURCE!r}) to replace it on purpose",
            )
            for s, w in others
        ]
    out: list[tuple[Skill, str, str | None]] = []
    for s, w in entries:
        rivals = ", ".join(label(o, ow) for o, ow in entries if (o, ow) != (s, w))
        out.append((s, w, f"duplicate skill name: also offered by {rivals}; both refused"))
    return out


def _replaces(s: Skill) -> str | None:
    meta = get_skill_meta(s.fn) if s.fn is not None else None
    return meta.replaces if meta is not None else None


def _location(s: Skill) -> str:
    """`file:line` of a skill's function (or its source when it has no function)."""
    fn = s.fn
    code = getattr(inspect.unwrap(fn), "__code__", None) if fn is not None else None
    if code is None:
        return s.spec.source or "?"
    return f"{code.co_filename}:{code.co_firstlineno}"

