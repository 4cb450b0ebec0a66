"""Which robots the embedded planner grounds for one goal: the ones that can matter.

Grounding every skill for every robot costs about N² in the fleet (a handover or a
relay pairs each robot with every other at every place), so a goal in a fleet of a
thousand robots would take minutes. Robots of one kind are interchangeable for
planning except where they stand and when they are free, so the planner grounds:

- every robot the goal names (`use`) and every robot holding or carrying something;
- every robot with a fixed reach (a fixed arm) that reaches one of the goal's places;
- per kind of robot (the same skills, capabilities and reach) and per goal object,
  the `per_kind` robots expected to get to the object soonest (when each is free,
  plus the drive from where it starts).

A fleet of at most `GROUND_ALL_MAX` available robots is grounded whole. When the
chosen robots find no plan, the planner widens the choice (`WIDER_PER_KIND`) and then,
for fleets of at most `FALLBACK_ALL_MAX`, grounds everyone; beyond that the problem is
reported from the widest choice (robots of the same kind further away would not change
what the skills can do).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from robo_os_memory.models import Pose

from .catalogue import Catalogue
from .timing import Timing

__all__ = [
    "FALLBACK_ALL_MAX",
    "GROUND_ALL_MAX",
    "PER_KIND",
    "WIDER_PER_KIND",
    "candidate_robots",
    "restricted",
]

GROUND_ALL_MAX = 12
PER_KIND = 3
WIDER_PER_KIND = 12
FALLBACK_ALL_MAX = 60


def _kind(cat: Catalogue, robot: str) -> tuple[object, ...]:
    """Robots with equal keys can do the same things, wherever they are."""
    r = cat.robots[robot]
    skills = tuple(
        (
            name,
            m.spec.preconditions,
            m.spec.effects,
            m.spec.capabilities,
            m.spec.duration_s,
            str(m.spec.args_schema),
        )
        for name, m in sorted(cat.offered.get(robot, {}).items())
    )
    return (skills, tuple(sorted(r.capabilities)), tuple(sorted(r.reach)))


def object_pose(cat: Catalogue, name: str, _depth: int = 0) -> Pose | None:
    """Where an object is, as well as the catalogue knows: its place's pose, its holder's
    or carrier's pose, its container's; its own pose when it lies elsewhere."""
    o = cat.objects.get(name)
    if o is None or _depth > 8:
        return None
    holder = o.held_by or (o.on if o.on in cat.robots else None)
    if holder is not None:
        return cat.robots[holder].pose
    if o.on is not None and o.on in cat.places:
        return cat.places[o.on].pose
    if o.on is not None and o.on in cat.objects:
        return object_pose(cat, o.on, _depth + 1)
    return o.pose


def candidate_robots(
    cat: Catalogue,
    objects: Iterable[str],
    places: Iterable[str],
    *,
    timing: Timing,
    per_kind: int = PER_KIND,
    ready_at: Mapping[str, float] | None = None,
    named: Iterable[str] = (),
) -> set[str]:
    """The available robots worth grounding for a goal about `objects` and `places`."""
    available = cat.available_robots
    ready = ready_at or {}
    place_set = set(places)
    chosen = {r for r in named if r in cat.robots}
    chosen |= {r for r in available if cat.robots[r].holding}
    for o in cat.objects.values():  # a hand or a tray to free
        for holder in (o.held_by, o.on):
            if holder is not None and holder in cat.robots:
                chosen.add(holder)
    kinds: dict[tuple[object, ...], list[str]] = {}
    for r in available:
        reach = cat.robots[r].reach
        if reach:
            if place_set & set(reach):
                chosen.add(r)
            continue  # a fixed reach elsewhere cannot help this goal
        kinds.setdefault(_kind(cat, r), []).append(r)
    targets: list[Pose | None] = [
        p for p in (object_pose(cat, o) for o in sorted(set(objects))) if p is not None
    ]
    if not targets:
        targets = [cat.places[p].pose for p in sorted(place_set) if p in cat.places]
    for members in kinds.values():
        if len(members) <= per_kind:
            chosen.update(members)
            continue
        starts = {r: timing.start_pose(cat, r) for r in members}
        for target in targets or [None]:  # no pose known: by when each is free
            ranked = sorted(
                members,
                key=lambda r: (ready.get(r, 0.0) + timing.travel_s(r, starts[r], target), r),
            )
            chosen.update(ranked[:per_kind])
    return chosen


def restricted(cat: Catalogue, robots: set[str]) -> Catalogue:
    """The catalogue with only these robots (objects, places and vocabulary unchanged)."""
    return dataclasses.replace(
        cat,
        robots={k: v for k, v in cat.robots.items() if k in robots},
        offered={k: v for k, v in cat.offered.items() if k in robots},
        _schema_cache={},
        _validators={},
    )
