"""A stack started again on the memory of an earlier run (the same Redis: `robo-os up
--data-dir`, or the same `ROBO_OS_REDIS__URL`) adopts the world in memory instead of
refusing it. `robo_os/stack.py` runs these before any agent or the brain starts:

1. `release_previous_leases`: every lease the robots held is released (the same script
   as for a dead agent, `Memory.release_all`, robo_os/recovery.py): their agents are new
   incarnations that know nothing of the old ones' calls, and the old tokens are fenced
   off, so nothing of the previous run can write with them.
2. `remembered_world`: the snapshot the simulator is rebuilt from
   (`robo_os.sim.restore`): objects in grippers, on trays, on the floor and at places,
   robots docked or standing where memory has them. None for a fresh memory.
3. `adopt_world`: memory made to agree with the rebuilt world. What memory lacks (a
   place or object new in the scene file) is written as a fresh start writes it; what the
   world could not honour (an object on a place that no longer exists, say) is corrected
   through the memory's reconcile script, marked `observed`, as any observation's
   correction is; places gone from the scene file are removed. The brain then resumes
   the active tasks (docs/execution.md), against a memory that is true.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from robo_os_memory.errors import ConflictError
from robo_os_memory.models import EntityKind, ObjectState, PlaceState

from .cerebellum.reconcile import Disagreement, compare
from .sim.models import WorldInfo
from .sim.restore import WorldMemory
from .skill.observation import Observation, ObservedObject

if TYPE_CHECKING:
    from robo_os_memory import Memory

__all__ = [
    "AdoptableWorld",
    "Adoption",
    "adopt_world",
    "release_previous_leases",
    "remembered_world",
]

log = logging.getLogger(__name__)

BY = "sim"
"""Who the adoption's writes are recorded as: the simulator's ground truth."""


class AdoptableWorld(Protocol):
    """What adopting needs of the world (a `LocalWorldClient` or `RayWorldClient`)."""

    async def describe(self) -> WorldInfo: ...

    async def observe_objects(self, names: tuple[str, ...] = ()) -> tuple[ObservedObject, ...]: ...


@dataclass
class Adoption:
    """What adopting the world wrote."""

    added: list[str] = field(default_factory=list)
    """Places and objects memory lacked (new in the scene file), written as seeded."""
    corrected: list[Disagreement] = field(default_factory=list)
    """Where memory disagreed with the rebuilt world; corrected (`outcomes` per object)."""
    outcomes: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    """Places memory had that the scene file no longer has."""


async def release_previous_leases(memory: Memory, robots: Iterable[str]) -> dict[str, list[str]]:
    """Release every lease these robots (and any robot memory has) still hold from an
    earlier run; per robot, the resources released."""
    ids = sorted(set(robots) | {r.id for r in await memory.list_robots()})
    out: dict[str, list[str]] = {}
    for robot in ids:
        released = await memory.release_all(robot, reason="restarted: a new agent incarnation")
        if released:
            out[robot] = released
            log.info(
                "robot=%s: leases of the previous run released: %s", robot, ", ".join(released)
            )
    return out


async def remembered_world(memory: Memory) -> WorldMemory | None:
    """The world as memory has it, to rebuild the simulator from; None when memory holds
    no object or robot yet (a fresh start seeds it from the scene file instead)."""
    robots, objects, places = await memory.snapshot()
    remembered = WorldMemory(objects=tuple(objects), robots=tuple(robots), places=tuple(places))
    return None if remembered.empty else remembered


async def adopt_world(memory: Memory, world: AdoptableWorld, *, by: str = BY) -> Adoption:
    """Make memory agree with a world rebuilt from it (see the module doc)."""
    out = Adoption()
    info = await world.describe()
    _, objects, places = await memory.snapshot()
    known_places = {pl.name: pl for pl in places}
    for place in info.places:
        m = known_places.get(place.name)
        # attributes others wrote to the place are kept; the world's (the scene file's,
        # the drawer's state) win
        attrs = {**(m.attrs if m is not None else {}), **place.attrs}
        record = PlaceState(
            name=place.name, kind=place.kind, pose=place.pose, size=place.size, attrs=attrs
        )
        if m is None or (m.kind, m.pose, m.size, m.attrs) != (
            record.kind,
            record.pose,
            record.size,
            record.attrs,
        ):
            await memory.upsert_place(record, by=by)
            if m is None:
                out.added.append(place.name)
    by_name = {o.name: o for o in objects}
    robot_ids = {r.id for r in info.robots}
    built = {o.name for o in info.objects}
    new = [o for o in info.objects if o.name not in by_name]
    # what rests on a robot last (as seeding), what rests in a receptacle after it
    for obj in sorted(new, key=lambda o: (o.on in robot_ids, o.on in built)):
        await memory.upsert_object(
            ObjectState(name=obj.name, type=obj.type, pose=obj.pose, on=obj.on, attrs=obj.attrs),
            by=by,
        )
        out.added.append(obj.name)
    seen = await world.observe_objects(tuple(n for n in sorted(by_name) if n in built))
    observation = Observation(
        robot=by, objects=seen, missing=tuple(sorted(n for n in by_name if n not in built))
    )
    found, fixes, _ = compare(observation, None, by_name)
    if fixes:
        reply = await memory.reconcile(fixes, observed_at=observation.at, by=by)
        out.outcomes = dict(reply.outcomes)
    out.corrected = found
    for d in found:
        log.info(
            "memory adopted by the rebuilt world: %s %s.%s: %s -> %s (%s)",
            d.kind,
            d.name,
            d.field,
            d.memory,
            d.observed,
            out.outcomes.get(d.name, "applied"),
        )
    gone = sorted(set(known_places) - {pl.name for pl in info.places})
    for name in gone:
        try:
            await memory.delete(EntityKind.place, name, by=by)
            out.removed.append(name)
        except ConflictError as e:  # something still rests there that the world lacks
            log.warning("place %s is not in the scene file but stays in memory: %s", name, e)
    log.info(
        "memory adopted the rebuilt world: %d added, %d disagreements corrected, %d places removed",
        len(out.added),
        len(found),
        len(out.removed),
    )
    return out
