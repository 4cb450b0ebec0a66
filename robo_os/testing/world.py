"""A world for testing a planner without Redis: plain records that answer the two reads
the brain's planner makes of memory (`snapshot`, `robot_skills`).

    world = StaticWorld.household(specs)         # the demo scene, each robot offering specs
    planner = BrainPlanner(world, settings)      # as with the real memory
    world.move_object("apple", on="sink")        # the world changes between plans
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from robo_os_memory.models import ObjectState, PlaceState, RobotState, RobotStatusValue

from ..fleet import FleetConfig, load_fleet
from ..skill.spec import SkillSpec

__all__ = ["EMBODIMENT_CAPABILITIES", "StaticWorld", "fleet_records", "offered_skills"]

EMBODIMENT_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "fixed_arm": ("manipulate", "camera"),
    "carrier": ("navigate", "carry"),
    "mobile_manipulator": ("navigate", "manipulate", "camera"),
}
"""What the simulator's built-in embodiments offer (as their agents register them)."""


def offered_skills(
    robots: Iterable[RobotState], specs: Mapping[str, SkillSpec]
) -> dict[str, dict[str, Any]]:
    """What each robot's agent would publish: every skill whose capabilities it has (as JSON)."""
    return {
        r.id: {
            n: s.model_dump(mode="json")
            for n, s in specs.items()
            if set(s.capabilities) <= set(r.capabilities)
        }
        for r in robots
    }


def fleet_records(
    specs: Mapping[str, SkillSpec],
    fleet: FleetConfig | None = None,
    *,
    without: Iterable[str] = (),
    offline: Iterable[str] = (),
    moves: Mapping[str, str] | None = None,
) -> tuple[list[RobotState], list[ObjectState], list[PlaceState]]:
    """A fleet file's scene (default: the demo household) as memory records, each robot
    offering the `specs` its embodiment's capabilities allow. `without` drops robots,
    `offline` marks them offline, `moves` puts objects elsewhere (object → place)."""
    fleet = fleet or load_fleet()
    skip, down = set(without), set(offline)
    robots = []
    for r in fleet.robots:
        if r.id in skip:
            continue
        caps = EMBODIMENT_CAPABILITIES[r.embodiment]
        robots.append(
            RobotState(
                id=r.id,
                embodiment=r.embodiment,
                capabilities=caps,
                skills=tuple(n for n, s in specs.items() if set(s.capabilities) <= set(caps)),
                place=r.at,
                pose=fleet.place(r.at).pose,
                reach=tuple(r.reach) if r.embodiment != "fixed_arm" else (r.at, *r.reach),
                status=RobotStatusValue.offline if r.id in down else RobotStatusValue.idle,
            )
        )
    placed = dict(moves or {})
    objects = [
        ObjectState(name=o.name, type=o.type, on=placed.get(o.name, o.at), attrs=o.attrs)
        for o in fleet.scene.objects
    ]
    places = [
        PlaceState(name=p.name, kind=p.kind, pose=p.pose, size=p.size, attrs=p.attrs)
        for p in fleet.scene.places
    ]
    return robots, objects, places


class StaticWorld:
    """A plain-data stand-in for memory's planner view (`snapshot`, `robot_skills`), for
    planner tests that are about the model, not about Redis."""

    def __init__(
        self,
        robots: list[RobotState],
        objects: list[ObjectState],
        places: list[PlaceState],
        skills: dict[str, dict[str, Any]],
    ) -> None:
        self.robots, self.objects, self.places, self.skills = robots, objects, places, skills

    @classmethod
    def from_fleet(
        cls, specs: Mapping[str, SkillSpec], fleet: FleetConfig | None = None, **kw: Any
    ) -> StaticWorld:
        robots, objects, places = fleet_records(specs, fleet, **kw)
        return cls(robots, objects, places, offered_skills(robots, specs))

    async def snapshot(self) -> tuple[list[RobotState], list[ObjectState], list[PlaceState]]:
        return list(self.robots), list(self.objects), list(self.places)

    async def robot_skills(self) -> dict[str, dict[str, Any]]:
        return dict(self.skills)

    def move_object(self, name: str, on: str | None, held_by: str | None = None) -> None:
        self.objects = [
            o.model_copy(update={"on": on, "held_by": held_by}) if o.name == name else o
            for o in self.objects
        ]

    def update_robot(self, rid: str, **fields: Any) -> None:
        self.robots = [r.model_copy(update=fields) if r.id == rid else r for r in self.robots]
