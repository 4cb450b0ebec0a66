"""Writing a successful call's effects on recorded facts to memory (robo_os.symbolic.facts).

Every agent (the Ray agent, the in-process testing twin) calls `record_facts` after a
skill succeeds and before the brain hears of it, so the brain's success check and the
next planning round read the fact from memory like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from ..symbolic.conditions import Atom, parse_conditions
from ..symbolic.facts import fact_attr, recorded_writes
from .spec import SkillSpec

__all__ = ["FactMemory", "record_facts"]

log = logging.getLogger(__name__)


class FactMemory(Protocol):
    """The part of `robo_os_memory.Memory` recording needs."""

    def get_place(self, name: str) -> Awaitable[Any]: ...

    def update_place(
        self, name: str, *, by: str | None = None, **fields: Any
    ) -> Awaitable[Any]: ...

    def update_object(
        self, name: str, *, by: str | None = None, **fields: Any
    ) -> Awaitable[Any]: ...


async def record_facts(
    memory: FactMemory, spec: SkillSpec, args: Mapping[str, Any], robot_id: str
) -> list[tuple[Atom, bool]]:
    """Write the call's effects on the skill's recorded facts; what was written. A
    thing memory does not know raises (NotFoundError): the caller logs it."""
    if not spec.facts:
        return []
    env = {k: v for k, v in args.items() if isinstance(v, str)}
    env["robot"] = robot_id
    written: list[tuple[Atom, bool]] = []
    for fact, atom, value in recorded_writes(spec.facts, parse_conditions(spec.effects), env):
        attrs = {fact_attr(atom): value}
        if "place" in fact.kinds[0] and await memory.get_place(atom[1]) is not None:
            await memory.update_place(atom[1], by=robot_id, attrs=attrs)
        else:
            await memory.update_object(atom[1], by=robot_id, attrs=attrs)
        log.info("%s by %s recorded %s = %s", spec.name, robot_id, atom, value)
        written.append((atom, value))
    return written
