"""Robots, objects and places: create, read, update, delete.

Every write goes through `_write` (lua/write.lua): record fields, version, stamps,
history, contents set and spatial index in one atomic step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import spatial as _spatial
from .base import MemoryBase
from .codec import decode_record, encode_fields, encode_record, validate_fields
from .errors import InvalidUpdateError
from .models import EntityKind, Lease, ObjectState, PlaceState, RobotState
from .scripts import map_redis_errors

__all__ = ["RecordsAPI"]

_ROBOT_FIXED = {
    "id": "it names the record",
    "holding": "use pick/place/transfer",
    "last_heartbeat": "use heartbeat()",
    "skills": "use set_robot_skills()",
}
_OBJECT_FIXED = {"name": "it names the record", "held_by": "use pick/place/transfer"}
_PLACE_FIXED = {"name": "it names the record"}


class RecordsAPI(MemoryBase):
    # -- shared write path -------------------------------------------------------
    async def _write(
        self,
        kind: EntityKind,
        name: str,
        *,
        op: str,
        data: Mapping[str, Any],
        by: str | None,
        must_exist: bool,
        replace: bool,
        expected_version: int | None = None,
        lease: Lease | None = None,
        heartbeat_ttl_s: float | None = None,
    ) -> str:
        if not name:
            raise InvalidUpdateError(f"a {kind} needs a non-empty name")
        pose = data.get("pose")
        if pose is not None:
            _spatial.check_xy(pose["x"], pose["y"])
        # the fixed arguments travel as one space-separated word list ("-": none), so a
        # 10 Hz pose write packs few arguments
        spec = " ".join(
            str(v)
            for v in (
                kind.value,
                op,
                int(must_exist),
                int(replace),
                "-" if expected_version is None else expected_version,
                "-" if heartbeat_ttl_s is None else max(1, round(heartbeat_ttl_s * 1000)),
                lease.token if lease else "-",
            )
        )
        args = [spec, name, lease.resource if lease else "", *encode_fields(data)]
        reply = await self._scripts.run("write", by or self.writer, args)
        return str(reply[1])

    # -- robots ----------------------------------------------------------------
    @map_redis_errors
    async def register_robot(self, robot: RobotState, *, by: str | None = None) -> RobotState:
        """Create or replace a robot record (status from `robot`, heartbeat now).
        What the robot holds is kept from memory (only moves change it)."""
        data, _ = encode_record(robot)
        flat = await self._write(
            EntityKind.robot,
            robot.id,
            op="upsert",
            data=data,
            by=by,
            must_exist=False,
            replace=True,
            heartbeat_ttl_s=self.heartbeat_ttl_s,
        )
        return decode_record(RobotState, flat)

    @map_redis_errors
    async def get_robot(self, robot_id: str) -> RobotState | None:
        flat = await self._r.hgetall(self._keys.record(EntityKind.robot, robot_id))
        return decode_record(RobotState, flat) if flat else None

    @map_redis_errors
    async def list_robots(self) -> list[RobotState]:
        return sorted(
            (decode_record(RobotState, f) for f in (await self._records(EntityKind.robot))[0]),
            key=lambda r: r.id,
        )

    @map_redis_errors
    async def update_robot(
        self,
        robot_id: str,
        *,
        by: str | None = None,
        expected_version: int | None = None,
        lease: Lease | None = None,
        **fields: Any,
    ) -> RobotState:
        """Update some fields (pose, place, status, current_subtask, ...); raises
        NotFoundError for an unknown robot. One round trip (pose at 10 Hz is fine)."""
        data = validate_fields(RobotState, fields, forbidden=_ROBOT_FIXED)
        flat = await self._write(
            EntityKind.robot,
            robot_id,
            op="update",
            data=data,
            by=by,
            must_exist=True,
            replace=False,
            expected_version=expected_version,
            lease=lease,
        )
        return decode_record(RobotState, flat)

    @map_redis_errors
    async def set_robot_skills(self, robot_id: str, specs: dict[str, dict[str, Any]]) -> None:
        """Publish the full skill specs (SkillSpec JSON by name) the robot's agent offers;
        the robot record's `skills` becomes their names, in the same step."""
        names = sorted(specs)
        await self._scripts.run(
            "skills",
            robot_id,
            [
                robot_id,
                json.dumps(specs, separators=(",", ":")),
                json.dumps(names, separators=(",", ":")),
            ],
        )

    @map_redis_errors
    async def robot_skills(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every registered robot's skill specs: {robot_id: {skill_name: spec_json}}."""
        ids = sorted(await self._r.smembers(self._keys.index(EntityKind.robot)))
        if not ids:
            return {}
        values = await self._r.mget([self._keys.skills(i) for i in ids])
        return {i: json.loads(v) for i, v in zip(ids, values, strict=True) if v is not None}

    # -- objects and places ------------------------------------------------------
    @map_redis_errors
    async def upsert_object(self, obj: ObjectState, *, by: str | None = None) -> ObjectState:
        """Create or replace an object. `held_by` is kept from memory (only moves change
        it); an object held by a robot cannot be given an `on` (ConflictError)."""
        data, _ = encode_record(obj)
        flat = await self._write(
            EntityKind.object,
            obj.name,
            op="upsert",
            data=data,
            by=by,
            must_exist=False,
            replace=True,
        )
        return decode_record(ObjectState, flat)

    @map_redis_errors
    async def get_object(self, name: str) -> ObjectState | None:
        flat = await self._r.hgetall(self._keys.record(EntityKind.object, name))
        return decode_record(ObjectState, flat) if flat else None

    @map_redis_errors
    async def list_objects(self) -> list[ObjectState]:
        return sorted(
            (decode_record(ObjectState, f) for f in (await self._records(EntityKind.object))[0]),
            key=lambda o: o.name,
        )

    @map_redis_errors
    async def update_object(
        self,
        name: str,
        *,
        by: str | None = None,
        expected_version: int | None = None,
        lease: Lease | None = None,
        **fields: Any,
    ) -> ObjectState:
        """Update pose, on, type, attrs (merged: the keys given replace those keys only),
        ...; raises NotFoundError. `held_by` changes only through pick/place/transfer."""
        data = validate_fields(ObjectState, fields, forbidden=_OBJECT_FIXED)
        flat = await self._write(
            EntityKind.object,
            name,
            op="update",
            data=data,
            by=by,
            must_exist=True,
            replace=False,
            expected_version=expected_version,
            lease=lease,
        )
        return decode_record(ObjectState, flat)

    @map_redis_errors
    async def upsert_place(self, place: PlaceState, *, by: str | None = None) -> PlaceState:
        data, _ = encode_record(place)
        flat = await self._write(
            EntityKind.place,
            place.name,
            op="upsert",
            data=data,
            by=by,
            must_exist=False,
            replace=True,
        )
        return decode_record(PlaceState, flat)

    @map_redis_errors
    async def update_place(
        self,
        name: str,
        *,
        by: str | None = None,
        expected_version: int | None = None,
        lease: Lease | None = None,
        **fields: Any,
    ) -> PlaceState:
        """Update pose, size, kind, attrs (merged); raises NotFoundError."""
        data = validate_fields(PlaceState, fields, forbidden=_PLACE_FIXED)
        flat = await self._write(
            EntityKind.place,
            name,
            op="update",
            data=data,
            by=by,
            must_exist=True,
            replace=False,
            expected_version=expected_version,
            lease=lease,
        )
        return decode_record(PlaceState, flat)

    @map_redis_errors
    async def get_place(self, name: str) -> PlaceState | None:
        flat = await self._r.hgetall(self._keys.record(EntityKind.place, name))
        return decode_record(PlaceState, flat) if flat else None

    @map_redis_errors
    async def list_places(self) -> list[PlaceState]:
        return sorted(
            (decode_record(PlaceState, f) for f in (await self._records(EntityKind.place))[0]),
            key=lambda p: p.name,
        )

    @map_redis_errors
    async def place_contents(self, place: str) -> list[str]:
        """Names of the objects whose `on` is this place (or receptacle, or robot tray)."""
        return sorted(await self._r.smembers(self._keys.contents(place)))

    @map_redis_errors
    async def delete(self, kind: EntityKind, name: str, *, by: str | None = None) -> None:
        """Delete a robot, object or place (a `delete` change). Refused with
        ConflictError while something rests on it or a robot holds something; a held
        object is let go by its holder in the same step. NotFoundError if absent."""
        if kind not in (EntityKind.robot, EntityKind.object, EntityKind.place):
            raise InvalidUpdateError(f"cannot delete a {kind}; leases end by release()")
        await self._scripts.run("delete", by or self.writer, [kind.value, name])
