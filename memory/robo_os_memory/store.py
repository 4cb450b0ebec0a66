"""The shared spatio-temporal memory: the API every robot agent and the brain use.

THIS FILE IS THE AGREED API SURFACE. Method names, parameters and return types are
what the rest of robo-os codes against. Methods may be added, and keyword arguments
added to existing ones; change the rest only with everyone's agreement.

Every write is one Lua script (scripts.py, lua/): record, version, history, contents and
spatial index change in one atomic step, and a writer that loses a race gets an error
instead of silently overwriting (ConflictError, VersionConflictError, LeaseLostError).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from . import history as _history
from . import leases as _leases
from . import liveness as _liveness
from . import spatial as _spatial
from .codec import decode_record, encode_fields, encode_record, validate_fields
from .errors import InvalidUpdateError, SchemaMismatchError, StoreUnavailableError
from .keys import SCHEMA_VERSION, Keys
from .models import Change, EntityKind, Lease, ObjectState, PlaceState, Pose, RobotState
from .scripts import RedisClient, ScriptEnv, Scripts, map_redis_errors
from .summary import render_summary

__all__ = ["Memory"]

log = logging.getLogger(__name__)

_ROBOT_FIXED = {
    "id": "it names the record",
    "holding": "use pick/place/transfer",
    "last_heartbeat": "use heartbeat()",
    "skills": "use set_robot_skills()",
}
_OBJECT_FIXED = {"name": "it names the record", "held_by": "use pick/place/transfer"}
_PLACE_FIXED = {"name": "it names the record"}
_RELATIONS = ("holding", "held_by")


class Memory:
    """Async client of the shared memory. One instance per process (per event loop);
    `connect` opens it, `close` closes it. All writes are atomic per call; multi-entity
    moves (`pick`, `place`, `transfer`) are atomic as a whole.

    Writes that take `expected_version=` fail with VersionConflictError unless the
    record is at that version (optimistic concurrency); writes that take `lease=` fail
    with LeaseLostError unless that lease is still the resource's current one (fencing).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        env: ScriptEnv,
        *,
        writer: str,
        heartbeat_interval_s: float,
        heartbeat_ttl_s: float,
    ) -> None:
        """Use `Memory.connect`; this only wires an already opened client."""
        self._r: RedisClient = client
        self._keys = keys
        self._scripts = Scripts(client, env)
        self.writer = writer
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_ttl_s = heartbeat_ttl_s

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        prefix: str = "robo-os",
        writer: str = "brain",
        heartbeat_interval_s: float = 1.0,
        history_maxlen: int = 100_000,
        history_max_age_s: float | None = None,
        entity_history_maxlen: int = 1000,
        heartbeat_ttl_s: float | None = None,
        **redis_options: Any,
    ) -> Memory:
        """Connect, check or store the schema version (never FLUSH anything) and return
        a ready client. `writer` is recorded as `updated_by` on every write this client
        makes unless a call passes `by=`.

        `url` is any redis-py URL: `redis://user:password@host:port/db` (ACL user),
        `rediss://...` (TLS; pass `ssl_ca_certs=`, `ssl_certfile=`, ... in
        `redis_options`), `unix:///path.sock`. `heartbeat_ttl_s` (default 1.5 x the
        interval) is how long a robot stays alive after its last heartbeat, so a dead
        robot is marked offline within two intervals. `entity_history_maxlen` bounds each
        entity's own history stream; `history_maxlen` the global change stream.
        """
        if heartbeat_interval_s <= 0 or not math.isfinite(heartbeat_interval_s):
            raise InvalidUpdateError(
                f"heartbeat_interval_s must be > 0, not {heartbeat_interval_s}"
            )
        ttl = heartbeat_ttl_s if heartbeat_ttl_s is not None else 1.5 * heartbeat_interval_s
        if history_maxlen < 1 or entity_history_maxlen < 1:
            raise InvalidUpdateError("history lengths must be >= 1")
        if history_max_age_s is not None and history_max_age_s <= 0:
            raise InvalidUpdateError(
                f"history_max_age_s must be > 0 or None, not {history_max_age_s}"
            )
        keys = Keys(prefix)
        env = ScriptEnv(
            prefix=prefix,
            history_maxlen=history_maxlen,
            entity_history_maxlen=entity_history_maxlen,
            history_max_age_ms=0
            if history_max_age_s is None
            else max(1, round(history_max_age_s * 1000)),
        )
        client: RedisClient = aioredis.from_url(url, decode_responses=True, **redis_options)
        try:
            # SET NX GET: store our version if the key space is new, else read theirs
            stored = await client.set(keys.schema, str(SCHEMA_VERSION), nx=True, get=True)
        except (rexc.ConnectionError, rexc.TimeoutError, rexc.ResponseError) as e:
            await client.aclose()
            raise StoreUnavailableError(f"cannot use redis at {_safe_url(url)}: {e}") from e
        if stored is not None and stored != str(SCHEMA_VERSION):
            await client.aclose()
            raise SchemaMismatchError(
                f"memory under prefix {prefix!r} has schema version {stored};"
                f" this code uses {SCHEMA_VERSION}"
                " (migrate it or use another prefix)"
            )
        log.info(
            "memory connected to %s prefix=%s writer=%s schema=%s",
            _safe_url(url),
            prefix,
            writer,
            SCHEMA_VERSION,
        )
        return cls(
            client,
            keys,
            env,
            writer=writer,
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_ttl_s=ttl,
        )

    async def close(self) -> None:
        await self._r.aclose()

    @property
    def keys(self) -> Keys:
        """The key builder of this memory (for tools and tests that inspect Redis)."""
        return self._keys

    @property
    def redis(self) -> aioredis.Redis:
        """The underlying client (benchmarks, footprint inspection)."""
        client: aioredis.Redis = self._r
        return client

    # -- shared write path -------------------------------------------------------
    async def _write(
        self,
        kind: EntityKind,
        name: str,
        *,
        op: str,
        data: Mapping[str, Any],
        change: Mapping[str, Any],
        by: str | None,
        must_exist: bool,
        replace: bool,
        expected_version: int | None = None,
        lease: Lease | None = None,
        heartbeat_ttl_s: float | None = None,
    ) -> list[str]:
        if not name:
            raise InvalidUpdateError(f"a {kind} needs a non-empty name")
        pose = data.get("pose")
        if pose is not None:
            _spatial.check_pose(Pose.model_validate(pose))
        args: list[str | int | float] = [
            kind.value,
            name,
            op,
            int(must_exist),
            int(replace),
            "" if expected_version is None else expected_version,
            json.dumps(change, separators=(",", ":"), allow_nan=False),
            lease.resource if lease else "",
            lease.token if lease else "",
            "" if heartbeat_ttl_s is None else max(1, round(heartbeat_ttl_s * 1000)),
            *encode_fields(data),
        ]
        reply = await self._scripts.run("write", by or self.writer, args)
        return list(reply[1])

    # -- robots ----------------------------------------------------------------
    @map_redis_errors
    async def register_robot(self, robot: RobotState, *, by: str | None = None) -> RobotState:
        """Create or replace a robot record (status from `robot`, heartbeat now).
        What the robot holds is kept from memory (only moves change it)."""
        data, _ = encode_record(robot)
        change = {k: v for k, v in data.items() if k not in _RELATIONS and k != "last_heartbeat"}
        flat = await self._write(
            EntityKind.robot,
            robot.id,
            op="upsert",
            data=data,
            change=change,
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
            change=data,
            by=by,
            must_exist=True,
            replace=False,
            expected_version=expected_version,
            lease=lease,
        )
        return decode_record(RobotState, flat)

    @map_redis_errors
    async def heartbeat(self, robot_id: str, *, ttl_s: float | None = None) -> None:
        """Refresh the robot's liveness; brings an offline robot back online.
        `ttl_s` overrides how long this heartbeat keeps the robot alive."""
        await _liveness.heartbeat(
            self._scripts, robot_id, ttl_s or self.heartbeat_ttl_s, by=robot_id
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
        change = {k: v for k, v in data.items() if k not in _RELATIONS}
        flat = await self._write(
            EntityKind.object,
            obj.name,
            op="upsert",
            data=data,
            change=change,
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
            change=data,
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
            change=data,
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
            change=data,
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

    async def _records(self, *kinds: EntityKind) -> list[list[list[str]]]:
        reply = await self._scripts.run("snapshot", self.writer, [k.value for k in kinds])
        return [list(group) for group in reply]

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

    # -- temporal ----------------------------------------------------------------
    @map_redis_errors
    async def changes_since(
        self,
        cursor: str = "0",
        *,
        kinds: Iterable[EntityKind] | None = None,
        names: Iterable[str] | None = None,
        count: int = 1000,
    ) -> tuple[list[Change], str]:
        """Everything that changed after `cursor` (oldest first, at most `count`) and the
        cursor to resume from. Resumable across reconnects: a cursor is a stream id."""
        return await _history.changes_since(
            self._r, self._keys, cursor, kinds=kinds, names=names, count=count
        )

    @map_redis_errors
    async def history(
        self, kind: EntityKind, name: str, t0: float | None = None, t1: float | None = None
    ) -> list[Change]:
        """What happened to one entity between t0 and t1 (unix seconds, inclusive)."""
        return await _history.entity_history(self._r, self._keys, kind, name, t0, t1)

    @map_redis_errors
    async def object_at(self, name: str, t: float) -> ObjectState | None:
        """The object's record as it was at time t (None if it did not exist yet, or t is
        older than the retained history)."""
        return await _history.object_at(self._r, self._keys, name, t)

    @map_redis_errors
    async def latest_cursor(self) -> str:
        """The cursor of the newest change ("0-0" when there is none): subscribe or
        page from here to see only what happens next."""
        return await _history.latest_cursor(self._r, self._keys)

    # -- spatial -----------------------------------------------------------------
    @map_redis_errors
    async def within(
        self, x: float, y: float, radius_m: float, *, kind: EntityKind | None = None
    ) -> list[tuple[EntityKind, str, float]]:
        """Entities within radius of (x, y), nearest first, answered by a server-side
        index (held objects are where their holder is, so only the holder is listed)."""
        return await _spatial.within(self._r, self._keys, x, y, radius_m, kind)

    @map_redis_errors
    async def nearest_place(self, pose: Pose) -> tuple[str, float] | None:
        """The place whose centre is nearest to `pose` and its distance in metres."""
        return await _spatial.nearest_place(self._r, self._keys, pose)

    # -- real time ---------------------------------------------------------------
    def subscribe(
        self,
        *,
        kinds: Iterable[EntityKind] | None = None,
        names: Iterable[str] | None = None,
        cursor: str = "$",
    ) -> AsyncIterator[Change]:
        """Changes as they happen (blocking XREAD, no polling), optionally from a cursor
        ("$": only what happens after this call). Close it with `aclose()` or by
        leaving the `async for`."""
        return _history.subscribe(self._r, self._keys, kinds=kinds, names=names, cursor=cursor)

    # -- leases ------------------------------------------------------------------
    @map_redis_errors
    async def acquire(self, resource: str, holder: str, ttl_s: float) -> Lease:
        """Reserve an object or place; raises LeaseHeldError naming holder and expiry.
        The holder acquiring again extends its lease and keeps its token."""
        return await _leases.acquire(self._scripts, resource, holder, ttl_s)

    @map_redis_errors
    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend a lease to `ttl_s` from now; LeaseLostError if it is no longer current."""
        return await _leases.renew(self._scripts, lease, ttl_s)

    @map_redis_errors
    async def release(self, lease: Lease) -> None:
        """Only the holder's current lease releases; a stale one raises LeaseLostError."""
        await _leases.release(self._scripts, lease)

    @map_redis_errors
    async def lease_of(self, resource: str) -> Lease | None:
        return await _leases.lease_of(self._r, self._keys, resource)

    # -- liveness ----------------------------------------------------------------
    async def watch_liveness(self) -> None:
        """Run forever (cancel to stop): mark robots whose heartbeat expired offline and
        emit an `offline` change within two heartbeat intervals; expired leases get an
        `expire` change. Any number of watchers may run; each change is emitted once."""
        await _liveness.watch(
            self._r,
            self._keys,
            self._scripts,
            by=self.writer,
            max_wait_s=max(self.heartbeat_interval_s, 1.0),
        )

    @map_redis_errors
    async def sweep_liveness(self) -> int:
        """One watcher pass now; returns how many robots it marked offline."""
        _, _, marked = await _liveness.sweep(self._scripts, by=self.writer)
        return marked

    # -- planner view --------------------------------------------------------------
    @map_redis_errors
    async def world_summary(self, max_chars: int = 4000) -> str:
        """A compact, size-bounded text of places, objects and robots for a prompt."""
        robots, objects, places = await self.snapshot()
        return render_summary(robots, objects, places, max_chars)

    @map_redis_errors
    async def snapshot(
        self,
    ) -> tuple[Sequence[RobotState], Sequence[ObjectState], Sequence[PlaceState]]:
        """A consistent view of all robots, objects and places (one round trip)."""
        robots, objects, places = await self._records(
            EntityKind.robot, EntityKind.object, EntityKind.place
        )
        return (
            sorted((decode_record(RobotState, f) for f in robots), key=lambda r: r.id),
            sorted((decode_record(ObjectState, f) for f in objects), key=lambda o: o.name),
            sorted((decode_record(PlaceState, f) for f in places), key=lambda p: p.name),
        )


def _safe_url(url: str) -> str:
    """The URL without its password, for logs and errors."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    auth, _, host = rest.rpartition("@")
    user = auth.split(":", 1)[0]
    return f"{scheme}{sep}{user + ':***' if user else '***'}@{host}"
