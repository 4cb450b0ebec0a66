"""The catalogue kept current from memory's change feed, not rebuilt from a full snapshot
per planning round or allocation decision.

Every memory write appends to the change feed, so the feed's newest cursor says whether
anything changed since the catalogue was built. When something did, only the records
the changes name are read again (and the skills of robots whose skills changed), and the
catalogue is built from the kept records: the cost follows what changed, not the fleet.
A full snapshot is read the first time, after many changes (`max_changes`, which also
covers a feed trimmed past the cursor) and when the kept records are older than
`max_age_s`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from robo_os_memory.models import EntityKind, ObjectState, PlaceState, RobotState

from .catalogue import Catalogue, CatalogueSource

__all__ = ["LiveCatalogue"]


@dataclass
class _Kept:
    cursor: str
    built_at: float
    catalogue: Catalogue
    robots: dict[str, RobotState] = field(default_factory=dict)
    objects: dict[str, ObjectState] = field(default_factory=dict)
    places: dict[str, PlaceState] = field(default_factory=dict)
    skills: dict[str, dict[str, Any]] = field(default_factory=dict)


class LiveCatalogue:
    """`await live.get()`: the catalogue as memory holds it now (see the module text).
    A source without a change feed (`latest_cursor`, `changes_since`) is read whole
    every time."""

    def __init__(
        self, source: CatalogueSource, *, max_changes: int = 2000, max_age_s: float = 30.0
    ) -> None:
        self.source = source
        self.max_changes = max_changes
        self.max_age_s = max_age_s
        self._kept: _Kept | None = None
        self._lock = asyncio.Lock()
        self.full_reads = 0
        self.partial_reads = 0

    async def get(self) -> Catalogue:
        src: Any = self.source
        if not (hasattr(src, "latest_cursor") and hasattr(src, "changes_since")):
            return await Catalogue.from_memory(self.source)
        async with self._lock:  # one refresh at a time; the others reuse its answer
            cursor = await src.latest_cursor()
            kept = self._kept
            if kept is not None and kept.cursor == cursor:
                return kept.catalogue
            if kept is not None and time.monotonic() - kept.built_at < self.max_age_s:
                changes, _ = await src.changes_since(kept.cursor, count=self.max_changes)
                if len(changes) < self.max_changes:
                    await self._apply(kept, changes, cursor)
                    self.partial_reads += 1
                    return kept.catalogue
            self._kept = await self._full(cursor)
            self.full_reads += 1
            return self._kept.catalogue

    async def _full(self, cursor: str) -> _Kept:
        src: Any = self.source
        robots, objects, places = await src.snapshot()
        skills = await src.robot_skills()
        kept = _Kept(
            cursor,
            time.monotonic(),
            Catalogue.build(robots, skills, objects, places),
            {r.id: r for r in robots},
            {o.name: o for o in objects},
            {p.name: p for p in places},
            dict(skills),
        )
        return kept

    async def _apply(self, kept: _Kept, changes: list[Any], cursor: str) -> None:
        src: Any = self.source
        robots: set[str] = set()
        objects: set[str] = set()
        places: set[str] = set()
        skills: set[str] = set()
        for c in changes:
            if c.kind == EntityKind.robot:
                robots.add(c.name)
                if c.op in ("upsert", "delete") or "skills" in c.fields:
                    skills.add(c.name)
            elif c.kind == EntityKind.object:
                objects.add(c.name)
            elif c.kind == EntityKind.place:
                places.add(c.name)
        got = await asyncio.gather(
            *(src.get_robot(n) for n in sorted(robots)),
            *(src.get_object(n) for n in sorted(objects)),
            *(src.get_place(n) for n in sorted(places)),
        )
        records = iter(got)
        for names, table in ((robots, kept.robots), (objects, kept.objects), (places, kept.places)):
            for name in sorted(names):
                record = next(records)
                if record is None:
                    table.pop(name, None)
                else:
                    table[name] = record
        if skills:
            fresh = await src.robot_skills(sorted(skills))
            for rid in skills:
                if rid in fresh:
                    kept.skills[rid] = fresh[rid]
                else:
                    kept.skills.pop(rid, None)
        kept.catalogue = Catalogue.build(
            kept.robots.values(), kept.skills, kept.objects.values(), kept.places.values()
        )
        kept.cursor = cursor
