"""Writing the simulated world's initial state into the shared memory at start-up."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from robo_os_memory.models import ObjectState, PlaceState, RobotState, RobotStatusValue

from .client import WorldClient
from .models import RobotInfo

if TYPE_CHECKING:
    from robo_os_memory import Memory

__all__ = ["robot_record", "seed_memory"]

log = logging.getLogger(__name__)


def robot_record(info: RobotInfo) -> RobotState:
    """A robot's memory record from what the world says of it."""
    return RobotState(
        id=info.id,
        embodiment=info.embodiment,
        capabilities=info.capabilities,
        pose=info.pose,
        place=info.place,
        slot=info.slot,
        reach=info.reach,
        status=RobotStatusValue.idle,
    )


async def seed_memory(
    memory: Memory, world: WorldClient, *, robots: bool = True, by: str = "sim"
) -> None:
    """Write every place, object (pose, what it rests on, attrs) and, with `robots`,
    every robot's initial record, as the world has them now. Places first, so that
    objects resting on them resolve. Existing records are replaced (the world is the
    truth at start-up); what a robot holds is kept from memory by `register_robot`."""
    info = await world.describe()
    for place in info.places:
        await memory.upsert_place(
            PlaceState(
                name=place.name,
                kind=place.kind,
                pose=place.pose,
                size=place.size,
                attrs=place.attrs,
            ),
            by=by,
        )
    if robots:
        for robot in info.robots:
            await memory.register_robot(robot_record(robot), by=by)
    for obj in sorted(info.objects, key=lambda o: o.on in {r.id for r in info.robots}):
        await memory.upsert_object(
            ObjectState(name=obj.name, type=obj.type, pose=obj.pose, on=obj.on, attrs=obj.attrs),
            by=by,
        )
    log.info(
        "memory seeded from the sim: %d places, %d objects, %d robots",
        len(info.places),
        len(info.objects),
        len(info.robots) if robots else 0,
    )
