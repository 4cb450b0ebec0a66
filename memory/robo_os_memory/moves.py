"""pick / place / transfer: the multi-entity moves, each one Lua script (lua/move.lua)
so no reader ever sees half of one and a robot that loses a race learns it lost."""

from __future__ import annotations

from . import spatial as _spatial
from .base import MemoryBase
from .codec import decode_record
from .errors import InvalidUpdateError
from .models import Lease, ObjectState, Pose
from .scripts import map_redis_errors

__all__ = ["MovesAPI"]


class MovesAPI(MemoryBase):
    # -- atomic multi-entity moves -----------------------------------------------
    async def _move(
        self,
        mode: str,
        *,
        robot: str,
        obj: str,
        to_on: str | None,
        to_holder: str | None,
        pose: Pose | None,
        by: str | None,
        lease: Lease | None,
    ) -> ObjectState:
        _spatial.check_pose(pose)
        args: list[str | int | float] = [
            mode,
            robot,
            obj,
            to_on or "",
            to_holder or "",
            "" if pose is None else pose.model_dump_json(),
            lease.resource if lease else "",
            lease.token if lease else "",
        ]
        reply = await self._scripts.run("move", by or self.writer, args)
        return decode_record(ObjectState, reply[1])

    @map_redis_errors
    async def pick(
        self,
        robot_id: str,
        obj: str,
        *,
        pose: Pose | None = None,
        by: str | None = None,
        lease: Lease | None = None,
    ) -> ObjectState:
        """Atomically: object.held_by = robot, object.on = None, robot.holding = obj,
        object leaves its place's contents. Fails (ConflictError, no change) if the robot
        already holds something or another robot holds the object."""
        return await self._move(
            "pick",
            robot=robot_id,
            obj=obj,
            to_on=None,
            to_holder=None,
            pose=pose,
            by=by or robot_id,
            lease=lease,
        )

    @map_redis_errors
    async def place(
        self,
        robot_id: str,
        obj: str,
        on: str,
        *,
        pose: Pose | None = None,
        by: str | None = None,
        lease: Lease | None = None,
    ) -> ObjectState:
        """Atomically: the robot's held object is released onto `on` (a place,
        receptacle or robot tray) at `pose`. Fails (ConflictError, no change) if the robot
        does not hold `obj`; NotFoundError if `on` names nothing."""
        if not on:
            raise InvalidUpdateError(
                "place() needs a place, receptacle or robot to put the object on"
            )
        return await self._move(
            "place",
            robot=robot_id,
            obj=obj,
            to_on=on,
            to_holder=None,
            pose=pose,
            by=by or robot_id,
            lease=lease,
        )

    @map_redis_errors
    async def transfer(
        self,
        obj: str,
        *,
        to_on: str | None,
        to_holder: str | None,
        pose: Pose | None = None,
        by: str | None = None,
        lease: Lease | None = None,
    ) -> ObjectState:
        """Atomically move an object to rest on `to_on` or be held by `to_holder`,
        undoing whatever held or carried it before (hand-overs, trays, corrections
        from perception). Both None: the object lies loose at `pose`."""
        if to_on is not None and to_holder is not None:
            raise InvalidUpdateError(
                "an object is either held (to_holder) or resting on something (to_on), not both"
            )
        return await self._move(
            "transfer",
            robot="",
            obj=obj,
            to_on=to_on,
            to_holder=to_holder,
            pose=pose,
            by=by,
            lease=lease,
        )
