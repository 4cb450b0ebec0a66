"""The shared spatio-temporal memory: the API every robot agent and the brain use.

THIS CLASS IS THE AGREED API SURFACE (its methods live here, in records.py and in
moves.py). Method names, parameters and return types are what the rest of robo-os codes
against. Methods may be added, and keyword arguments added to existing ones; change the
rest only with everyone's agreement.

Every write is one Lua script (scripts.py, lua/): record, version, history, contents and
spatial index change in one atomic step, and a writer that loses a race gets an error
instead of silently overwriting (ConflictError, VersionConflictError, LeaseLostError).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from . import history as _history
from . import leases as _leases
from . import liveness as _liveness
from . import spatial as _spatial
from .codec import decode_record
from .corrections import CorrectionsAPI
from .deadline import QueueingPool
from .errors import InvalidUpdateError, SchemaMismatchError, StoreUnavailableError
from .keys import SCHEMA_VERSION, Keys
from .models import Change, EntityKind, Lease, ObjectState, PlaceState, Pose, RobotState
from .moves import MovesAPI
from .reconnect import reconnecting_options
from .records import RecordsAPI
from .scripts import RedisClient, ScriptEnv, map_redis_errors
from .subscription import Subscription
from .summary import render_summary

__all__ = ["Memory"]

log = logging.getLogger(__name__)


class Memory(RecordsAPI, MovesAPI, CorrectionsAPI):
    """Async client of the shared memory. One instance per process (per event loop);
    `connect` opens it, `close` closes it. All writes are atomic per call; multi-entity
    moves (`pick`, `place`, `transfer`) are atomic as a whole.

    Robots, objects and places: records.py. pick/place/transfer: moves.py. Corrections
    from observation and releasing a dead holder's leases: corrections.py. Here:
    lifecycle, history, spatial queries, subscriptions, leases, liveness, planner view.

    Writes that take `expected_version=` fail with VersionConflictError unless the
    record is at that version (optimistic concurrency); writes that take `lease=` fail
    with LeaseLostError unless that lease is still the resource's current one (fencing).
    """

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
        max_connections: int = 64,
        max_blocking_connections: int = 256,
        pool_timeout_s: float | None = 20.0,
        **redis_options: Any,
    ) -> Memory:
        """Connect, check or store the schema version (never FLUSH anything) and return
        a ready client. `writer` is recorded as `updated_by` on every write this client
        makes unless a call passes `by=`.

        `url` is any redis-py URL: `redis://user:password@host:port/db` (ACL user),
        `rediss://...` (TLS; pass `ssl_ca_certs=`, `ssl_certfile=`, ... in
        `redis_options`), `unix:///path.sock`. `socket_timeout` (default 5 s; None: wait
        forever) becomes the deadline of every call, after which it raises
        StoreUnavailableError. `heartbeat_ttl_s` (default 1.5 x the
        interval) is how long a robot stays alive after its last heartbeat, so a dead
        robot is marked offline within two intervals. `entity_history_maxlen` bounds each
        entity's own history stream; `history_maxlen` the global change stream.

        The pools are bounded and queue: a call finding all `max_connections` in use
        waits for one (up to `pool_timeout_s`, None: forever; the wait is not part of
        the call's deadline) instead of failing with "Too many connections"; blocking
        reads (subscriptions) have their own pool of `max_blocking_connections`.
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
            timeout_s=redis_options.get("socket_timeout", 5.0),
        )
        # Deadlines are ours (asyncio.timeout around each call), not redis-py's
        # socket_timeout: on Python 3.11 redis-py sends under asyncio.wait_for when a
        # socket timeout is set, and that wait_for can swallow a task's cancellation
        # (CPython gh-86296), leaving a cancelled robot or watcher task running.
        timeout_s: float | None = redis_options.pop("socket_timeout", 5.0)
        # reconnecting_options: a connection that died while Redis restarted is replaced
        # on the next command (after a short back-off), not surfaced once as an error
        options = {
            "socket_connect_timeout": timeout_s or 5.0,
            "socket_keepalive": True,
            **reconnecting_options(),
            **redis_options,
            "socket_timeout": None,
        }
        if max_connections < 1 or max_blocking_connections < 1:
            raise InvalidUpdateError("pool sizes must be >= 1")
        # a bounded pool that queues: a burst of callers waits for a connection (each
        # within its call's deadline) instead of failing with "Too many connections"
        client: RedisClient = _pooled(url, max_connections, pool_timeout_s, options)
        # blocking reads (subscriptions, the liveness wake-up) hold a connection for up
        # to BLOCK_MS: their own pool keeps them from starving ordinary calls
        blocking: RedisClient = _pooled(
            url, max_blocking_connections, pool_timeout_s, options
        )
        try:
            async with asyncio.timeout(timeout_s):
                # SET NX GET: store our version if the key space is new, else read theirs
                stored = await client.set(keys.schema, str(SCHEMA_VERSION), nx=True, get=True)
        except (rexc.ConnectionError, rexc.TimeoutError, rexc.ResponseError, TimeoutError) as e:
            await client.aclose()
            await blocking.aclose()
            raise StoreUnavailableError(
                f"cannot use redis at {_safe_url(url)}: {e or f'no answer within {timeout_s} s'}"
            ) from e
        if stored is not None and stored != str(SCHEMA_VERSION):
            await client.aclose()
            await blocking.aclose()
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
            blocking=blocking,
            writer=writer,
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_ttl_s=ttl,
        )

    def as_writer(self, writer: str) -> Memory:
        """A client for another writer (`updated_by`) on this one's connection pools:
        many robots' agents in one process share a pool instead of opening one each.
        Closing it does nothing; closing this one closes the pools."""
        view = copy.copy(self)
        view.writer = writer
        view._shared_pools = True
        return view

    async def close(self) -> None:
        if self._shared_pools:
            return
        await self._r.aclose()
        await self._blocking.aclose()

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
    ) -> Subscription:
        """Changes as they happen (blocking XREAD, no polling), optionally from a cursor.
        "$" means after the newest change when the subscription starts (`async with`,
        `await sub.start()` or the first iteration): start it before the changes you
        want to see. `sub.cursor` resumes it after a reconnect."""
        return Subscription(
            self._blocking,
            self._keys,
            kinds=kinds,
            names=names,
            cursor=cursor,
            timeout_s=self._env.timeout_s,
        )

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
    @map_redis_errors
    async def heartbeat(self, robot_id: str, *, ttl_s: float | None = None) -> None:
        """Refresh the robot's liveness; brings an offline robot back online.
        `ttl_s` overrides how long this heartbeat keeps the robot alive."""
        await _liveness.heartbeat(
            self._scripts, robot_id, ttl_s or self.heartbeat_ttl_s, by=robot_id
        )

    @map_redis_errors
    async def heartbeats(
        self, robot_ids: Sequence[str], *, ttl_s: float | None = None
    ) -> dict[str, str | None]:
        """Heartbeat many robots in one round trip (what an agent host does for all its
        robots), each as its own `heartbeat` would (written by that robot); robot ->
        its status after it (None: no such robot, skipped)."""
        return await _liveness.heartbeats(
            self._scripts, list(robot_ids), ttl_s or self.heartbeat_ttl_s, by=self.writer
        )

    async def run_heartbeat(self, robot_id: str, *, interval_s: float | None = None) -> None:
        """Run forever (cancel to stop): heartbeat `robot_id` every `interval_s` (default
        the memory's interval). What a robot's agent runs beside its work."""
        await _liveness.run_heartbeat(
            self._scripts, robot_id, interval_s or self.heartbeat_interval_s, self.heartbeat_ttl_s
        )

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
            blocking=self._blocking,
            timeout_s=self._env.timeout_s,
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



def _pooled(
    url: str, max_connections: int, wait_s: float | None, options: dict[str, Any]
) -> RedisClient:
    pool = QueueingPool.from_url(
        url, decode_responses=True, max_connections=max_connections, timeout=wait_s, **options
    )
    client: RedisClient = aioredis.Redis.from_pool(pool)  # it closes the pool with itself
    return client
