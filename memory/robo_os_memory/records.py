"""Robots, objects and places: create, read, update, delete.

Every write goes through `_write` (lua/write.lua): record fields, version, stamps,
history, contents set and spatial index in one atomic step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

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

R = TypeVar("R", RobotState, ObjectState, PlaceState)
_DECODED_MAX = 20_000


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

    async def _upsert(
        self, kind: EntityKind, model: type[R], record: R, name: str, by: str | None, **extra: Any
    ) -> R:
        data, _ = encode_record(record)
        flat = await self._write(
            kind, name, op="upsert", data=data, by=by, must_exist=False, replace=True, **extra
        )
        return decode_record(model, flat)

    async def _update(
        self,
        kind: EntityKind,
        model: type[R],
        name: str,
        fields: Mapping[str, Any],
        *,
        forbidden: Mapping[str, str],
        by: str | None,
        expected_version: int | None,
        lease: Lease | None,
    ) -> R:
        data = validate_fields(model, dict(fields), forbidden=forbidden)
        flat = await self._write(
            kind,
            name,
            op="update",
            data=data,
            by=by,
            must_exist=True,
            replace=False,
            expected_version=expected_version,
            lease=lease,
        )
        return decode_record(model, flat)

    async def _get(self, kind: EntityKind, model: type[R], name: str) -> R | None:
        flat = await self._r.hgetall(self._keys.record(kind, name))
        return decode_record(model, flat) if flat else None

    async def _list(self, kind: EntityKind, model: type[R], key: Callable[[R], str]) -> list[R]:
        return sorted((decode_record(model, f) for f in (await self._records(kind))[0]), key=key)

    # -- robots ----------------------------------------------------------------
    @map_redis_errors
    async def register_robot(self, robot: RobotState, *, by: str | None = None) -> RobotState:
        """Create or replace a robot record (status from `robot`, heartbeat now).
        What the robot holds is kept from memory (only moves change it)."""
        return await self._upsert(
            EntityKind.robot, RobotState, robot, robot.id, by, heartbeat_ttl_s=self.heartbeat_ttl_s
        )

    @map_redis_errors
    async def get_robot(self, robot_id: str) -> RobotState | None:
        return await self._get(EntityKind.robot, RobotState, robot_id)

    @map_redis_errors
    async def names(self, kind: EntityKind) -> list[str]:
        """The names of every robot, object or place (one read of the index, no record
        decoded: what a caller that needs only the names should use in a large fleet)."""
        return sorted(await self._r.smembers(self._keys.index(kind)))

    @map_redis_errors
    async def list_robots(self) -> list[RobotState]:
        return await self._list(EntityKind.robot, RobotState, lambda x: x.id)

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
        return await self._update(
            EntityKind.robot,
            RobotState,
            robot_id,
            fields,
            forbidden=_ROBOT_FIXED,
            by=by,
            expected_version=expected_version,
            lease=lease,
        )

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
    async def robot_skills(
        self, robot_ids: Iterable[str] | None = None
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Every registered robot's skill specs (or these robots'): {robot_id:
        {skill_name: spec_json}}. The specs are shared with later answers (unchanged
        ones are not decoded again): read them, do not change them."""
        ids = sorted(
            set(robot_ids)
            if robot_ids is not None
            else await self._r.smembers(self._keys.index(EntityKind.robot))
        )
        if not ids:
            return {}
        values = await self._r.mget([self._keys.skills(i) for i in ids])
        seen = self._skills_decoded
        if len(seen) > _DECODED_MAX:  # mostly specs nobody publishes any more
            seen.clear()
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for i, v in zip(ids, values, strict=True):
            if v is None:
                continue
            decoded = seen.get(v)
            if decoded is None:
                decoded = seen[v] = json.loads(v)
            out[i] = dict(decoded)
        return out

    # -- objects and places ------------------------------------------------------
    @map_redis_errors
    async def upsert_object(self, obj: ObjectState, *, by: str | None = None) -> ObjectState:
        """Create or replace an object. `held_by` is kept from memory (only moves change
        it); an object held by a robot cannot be given an `on` (ConflictError)."""
        return await self._upsert(EntityKind.object, ObjectState, obj, obj.name, by)

    @map_redis_errors
    async def get_object(self, name: str) -> ObjectState | None:
        return await self._get(EntityKind.object, ObjectState, name)

    @map_redis_errors
    async def list_objects(self) -> list[ObjectState]:
        return await self._list(EntityKind.object, ObjectState, lambda x: x.name)

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
        return await self._update(
            EntityKind.object,
            ObjectState,
            name,
            fields,
            forbidden=_OBJECT_FIXED,
            by=by,
            expected_version=expected_version,
            lease=lease,
        )

    @map_redis_errors
    async def upsert_place(self, place: PlaceState, *, by: str | None = None) -> PlaceState:
        return await self._upsert(EntityKind.place, PlaceState, place, place.name, by)

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
        return await self._update(
            EntityKind.place,
            PlaceState,
            name,
            fields,
            forbidden=_PLACE_FIXED,
            by=by,
            expected_version=expected_version,
            lease=lease,
        )

    @map_redis_errors
    async def get_place(self, name: str) -> PlaceState | None:
        return await self._get(EntityKind.place, PlaceState, name)

    @map_redis_errors
    async def list_places(self) -> list[PlaceState]:
        return await self._list(EntityKind.place, PlaceState, lambda x: x.name)

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
