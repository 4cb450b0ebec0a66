"""Making way: an idle robot parked in the slots another robot waits for is sent to
another place, so that a carrier left docked at a shelf after its delivery never keeps a
manipulator waiting for the shelf's only slot until its deadline.

The standard `navigate_to` reports, while it waits for a slot, the activity
`navigate_to: waiting for a slot at <place> (slot <i>: <robot>, ...)` (robo_os_skills/
_slots.py); the robot monitor hands every agent's activity to the scheduler, which hands
it here. Each robot named there that is idle, docked at that place, and neither running
a call nor claimed by a task is sent, once, with `navigate_to`, to the nearest other place
where no robot is docked. A robot busy with a task is not moved: its task moves it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import TYPE_CHECKING

from robo_os_memory.models import RobotState, RobotStatusValue

from ...contracts import SkillCall
from .tasks_util import cancel_and_wait

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from ...agent_protocol import Dispatcher
    from .lanes import RobotLanes

__all__ = ["MAKE_WAY_TIMEOUT_S", "MakeWay", "slot_holders"]

log = logging.getLogger(__name__)

MAKE_WAY_TIMEOUT_S = 120.0
"""How long a robot making way may take to reach the other place."""
_WAITING = re.compile(r"waiting for a slot at (?P<place>\S+) \((?P<who>[^)]*)\)")
_HOLDER = re.compile(r"slot \d+: (?P<robot>[^,\s]+)")


def slot_holders(activity: str) -> tuple[str, list[str]] | None:
    """(place, robots holding its slots) from a waiting robot's activity, or None."""
    found = _WAITING.search(activity)
    if found is None:
        return None
    return found["place"], sorted({m["robot"] for m in _HOLDER.finditer(found["who"])})


class MakeWay:
    """Moves idle robots out of slots others wait for (see the module doc)."""

    def __init__(self, memory: Memory, dispatcher: Dispatcher, lanes: RobotLanes) -> None:
        self.memory = memory
        self.dispatcher = dispatcher
        self.lanes = lanes
        self._moving: dict[str, asyncio.Task[None]] = {}
        self.moved: list[tuple[str, str, str]] = []
        """(robot, from place, to place) of every move made, for tests and /metrics."""

    def noticed(self, waiting: str, activity: str) -> None:
        """An agent's activity: when it says `waiting` waits for slots, free them."""
        seen = slot_holders(activity)
        if seen is None:
            return
        place, holders = seen
        for robot in holders:
            if robot != waiting and robot not in self._moving and self._free(robot):
                job = asyncio.create_task(self._move(robot, place), name=f"robo-os-make-way-{robot}")
                self._moving[robot] = job
                job.add_done_callback(self._done)

    def _done(self, job: asyncio.Task[None]) -> None:
        for robot, mine in list(self._moving.items()):
            if mine is job:
                del self._moving[robot]

    def _free(self, robot: str) -> bool:
        return self.lanes.holder(robot) is None and self.lanes.claimed_by(robot) is None

    async def _move(self, robot: str, place: str) -> None:
        try:
            record = await self.memory.get_robot(robot)
            if record is None or record.place != place or record.status != RobotStatusValue.idle:
                return
            target = await self._elsewhere(record, place)
            if target is None:
                log.info("robot=%s keeps a slot of %s: no other place is free", robot, place)
                return
            call = SkillCall(
                call_id=f"make-way/{robot}/{uuid.uuid4().hex[:8]}",
                robot=robot,
                skill="navigate_to",
                args={"target": target},
            )
            async with self.lanes.hold(robot, call.call_id):
                if self.lanes.claimed_by(robot) is not None:
                    return  # a task took it meanwhile: it moves it
                log.info("robot=%s makes way at %s: driving to %s", robot, place, target)
                result = await self.dispatcher.run(call, timeout_s=MAKE_WAY_TIMEOUT_S)
            if result.ok:
                self.moved.append((robot, place, target))
            else:
                log.warning("robot=%s could not make way at %s: %s", robot, place, result.message)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # moving a bystander must never hurt the brain
            log.warning("robot=%s could not make way at %s: %s", robot, place, e)

    async def _elsewhere(self, me: RobotState, place: str) -> str | None:
        """The nearest other place no robot is docked at (the robot's own pose as origin)."""
        places = await self.memory.list_places()
        docked = {r.place for r in await self.memory.list_robots() if r.place and r.id != me.id}
        free = [p for p in places if p.name != place and p.name not in docked]
        if me.pose is None or not free:
            return None
        here = me.pose
        return min(free, key=lambda p: here.distance_to(p.pose)).name

    async def close(self) -> None:
        await cancel_and_wait(list(self._moving.values()))
