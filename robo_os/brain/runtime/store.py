"""Durable task state in Redis: task records, the active index, per-task event streams.

The keys, built by `robo_os.keys.TaskKeys` (see docs/execution.md for the full table):

    {p}:brain:task:{id}          hash   version, status, data (Task JSON), meta (JSON)
    {p}:brain:task:{id}:events   stream one entry per TaskEvent, field `e` (JSON)
    {p}:brain:tasks:active       set    ids of tasks not yet terminal
    {p}:brain:tasks:recent       zset   id -> created_at, newest last (trimmed)

Writes go through one Lua script that compares the stored version with the version the
writer read (a losing concurrent writer finds out: `TaskConflict`), then writes the
record, appends the events and maintains the indexes atomically. A terminal task's
record and stream get a TTL; active ones live until they end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from robo_os_memory.reconnect import reconnecting_options

from ...contracts import TERMINAL_TASK_STATUSES, Task, TaskEvent, TaskEventKind, TaskStatus
from ...errors import NotFoundError, ServiceUnavailableError
from ...keys import TaskKeys
from .outage import wait_for_store

__all__ = ["TERMINAL_EVENT_KINDS", "FencedOff", "TaskConflict", "TaskMeta", "TaskStore"]

log = logging.getLogger(__name__)

TERMINAL_EVENT_KINDS = frozenset(
    {TaskEventKind.succeeded, TaskEventKind.failed, TaskEventKind.cancelled}
)
RECENT_KEEP = 10_000
"""How many task ids the `recent` index keeps (older ones are only reachable by id)."""


class TaskConflict(Exception):
    """Another writer changed the task since it was read."""


class FencedOff(ServiceUnavailableError):
    """This brain no longer leads (its lease lapsed or another brain took over): it may
    not write a task (503; the leading brain serves the request)."""


@dataclass
class TaskMeta:
    """Brain-internal state of a task that is not part of the public Task record."""

    goal: dict[str, Any] | None = None
    """The planner's goal, handed back to `Planner.replan`."""
    goal_source: str = ""
    """`app` when the app gave the goal (planned and replanned by `Planner.plan_goal`),
    else the planner that read it (shown as `Task.goal_source`)."""
    goal_checks: int = 0
    """How often the goal was found unmet after every subtask succeeded (the first
    time the task replans if it can, the second it fails)."""
    planner: str = ""
    mode: str | None = None
    """How a model plans the task (`goal`/`plan`); None: the settings' `llm.mode`."""
    resolved_failures: list[str] = field(default_factory=list)
    """Failed subtasks a replan already replaced (they no longer block success)."""
    excluded: dict[str, list[str]] = field(default_factory=dict)
    """Subtask id -> robots that failed it (never offered it again)."""
    reassignments: int = 0
    failed_calls: list[dict[str, Any]] = field(default_factory=list)
    """Calls that failed in this task (robot, skill, args, error, message, count): a
    replan avoids each (`Planner.replan(avoid=...)`); repeated ones fail the task."""
    approved: dict[str, str] = field(default_factory=dict)
    """Subtask id -> the name of who approved it (skills that need approval,
    docs/operations.md); kept so a restarted brain does not ask again."""
    claims: list[str] = field(default_factory=list)
    """Objects the task claims (docs/execution.md, "How tasks share the fleet"); a
    restarted brain restores them before it resumes any task."""

    def dumps(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | None) -> TaskMeta:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# KEYS: task hash, events stream, active set, recent zset, leader lease
# ARGV: expected version ('' = must not exist), new version, task json, status,
#       terminal (0/1), ttl ms, events maxlen, meta json ('' = keep), task id,
#       created_at, recent keep, fence ('' = none: the only brain; else the lease this
#       brain holds, which must still be the leader's), then one JSON event per
#       remaining argument
_SAVE = """
if ARGV[12] ~= '' then
  local lead = redis.call('GET', KEYS[5])
  if lead ~= ARGV[12] then return {-1, lead or ''} end
end
local v = redis.call('HGET', KEYS[1], 'version')
if not v then v = '' end
if v ~= ARGV[1] then return {0, v} end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], 'status', ARGV[4])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'meta', ARGV[8]) end
local out = {1}
for i = 13, #ARGV do
  out[#out + 1] = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[i])
end
if ARGV[1] == '' then
  redis.call('ZADD', KEYS[4], ARGV[10], ARGV[9])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[11]) + 1))
end
if ARGV[5] == '1' then
  redis.call('SREM', KEYS[3], ARGV[9])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
else
  redis.call('SADD', KEYS[3], ARGV[9])
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return out
"""

Mutation = Callable[[Task, TaskMeta], "tuple[Task, list[TaskEvent]] | None"]


class TaskStore:
    """Async access to the brain's task records. One per brain process."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        blocking: aioredis.Redis | None = None,
        terminal_ttl_s: float = 7 * 86400.0,
        events_maxlen: int = 10_000,
        owns_client: bool = False,
    ) -> None:
        """`redis` must decode responses. `blocking` (default: `redis`) serves the
        blocking stream reads of /wait and /events, one connection per waiting client,
        so that they never starve the task writes of connections."""
        self.redis = redis
        # decode_responses=True: replies are str; typed as Any rather than redis-py's
        # bytes | str unions.
        self._r: Any = redis
        self._b: Any = blocking if blocking is not None else redis
        self.keys = TaskKeys(prefix)
        self.terminal_ttl_s = terminal_ttl_s
        self.events_maxlen = events_maxlen
        self._owns = owns_client
        self._save = redis.register_script(_SAVE)
        self.fence = ""
        """'' while this is the only brain; with several (`ha.enabled`), the leader lease
        this brain holds (brain/runtime/leadership.py), or `NOT_LEADING`: every write
        checks it against the lease in Redis, atomically, and fails with FencedOff
        when they differ."""
        # redis-py answers a read that takes longer than the socket timeout (5 s by
        # default) with TimeoutError, so one blocking read never blocks longer than this.
        sock = self._b.connection_pool.connection_kwargs.get("socket_timeout")
        self.block_chunk_s = (
            30.0 if sock is None else max(0.05, float(sock) - 2.0, float(sock) * 0.5)
        )

    @classmethod
    async def connect(
        cls,
        url: str,
        prefix: str,
        *,
        max_waiters: int = 1024,
        max_connections: int = 64,
        pool_timeout_s: float = 20.0,
        **kwargs: Any,
    ) -> TaskStore:
        """Open two pools: one for writes and reads (`max_connections`; a command waits
        up to `pool_timeout_s` for a free one), one for blocking reads (`max_waiters`
        connections, a socket timeout above the 15 s a blocking read lasts)."""
        # reconnecting_options: a pooled connection that died while Redis restarted is
        # replaced on its next command (docs/reliability.md, "Redis outage")
        client = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                url,
                decode_responses=True,
                max_connections=max_connections,
                timeout=pool_timeout_s,
                **reconnecting_options(),
            )
        )
        blocking = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                url,
                decode_responses=True,
                max_connections=max_waiters,
                timeout=20,
                socket_timeout=17.0,
                **reconnecting_options(),
            )
        )
        try:
            await client.ping()
        except (RedisError, OSError) as e:
            await client.aclose()
            await blocking.aclose()
            raise ServiceUnavailableError(f"cannot reach Redis at {url}: {e}") from e
        return cls(client, prefix, blocking=blocking, owns_client=True, **kwargs)

    async def close(self) -> None:
        if self._owns:
            await self._r.aclose()
            if self._b is not self._r:
                await self._b.aclose()

    async def ping(self) -> float:
        """Round-trip time to Redis in seconds (raises ServiceUnavailableError)."""
        t0 = time.perf_counter()
        try:
            await self._r.ping()
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"Redis: {e}") from e
        return time.perf_counter() - t0

    # -- writes ------------------------------------------------------------------------
    async def create(
        self, task: Task, events: Sequence[TaskEvent] = (), meta: TaskMeta | None = None
    ) -> Task:
        """Store a new task (version 1); raises TaskConflict if the id exists."""
        stored = task.model_copy(update={"version": 1, "updated_at": time.time()})
        await self._write(stored, "", list(events), meta or TaskMeta())
        return stored

    async def save(
        self,
        task: Task,
        expected_version: int,
        events: Sequence[TaskEvent] = (),
        meta: TaskMeta | None = None,
    ) -> Task:
        """Replace the task if it is still at `expected_version` (else TaskConflict)."""
        stored = task.model_copy(
            update={"version": expected_version + 1, "updated_at": time.time()}
        )
        await self._write(stored, str(expected_version), list(events), meta)
        return stored

    async def update(
        self,
        task_id: str,
        mutate: Mutation,
        *,
        current: tuple[Task, TaskMeta] | None = None,
        attempts: int = 20,
    ) -> tuple[Task, TaskMeta]:
        """Apply `mutate` to the latest task and store it, re-reading and re-applying
        when another writer got there first. `mutate` may change the meta in place and
        returns (new task, events), or None for "nothing to do"."""
        state = current
        for _ in range(attempts):
            if state is None:
                state = await self.get_with_meta(task_id)
            task, meta = state
            meta_copy = TaskMeta.loads(meta.dumps())
            out = mutate(task, meta_copy)
            if out is None:
                return task, meta
            new_task, events = out
            try:
                stored = await self.save(new_task, task.version, events, meta_copy)
            except TaskConflict:
                log.info(
                    "task %s: concurrent write at version %s; re-reading", task_id, task.version
                )
                state = None
                continue
            return stored, meta_copy
        raise TaskConflict(f"task {task_id}: gave up after {attempts} conflicting writes")

    async def _write(
        self, task: Task, expected: str, events: list[TaskEvent], meta: TaskMeta | None
    ) -> None:
        terminal = task.status in TERMINAL_TASK_STATUSES
        args: list[Any] = [
            expected,
            str(task.version),
            task.model_dump_json(),
            task.status.value,
            "1" if terminal else "0",
            str(int(self.terminal_ttl_s * 1000)),
            str(self.events_maxlen),
            meta.dumps() if meta is not None else "",
            task.id,
            repr(task.created_at),
            str(RECENT_KEEP),
            self.fence,
        ]
        args += [e.model_dump_json(exclude={"cursor"}) for e in events]
        keys = [
            self.keys.task(task.id),
            self.keys.events(task.id),
            self.keys.active,
            self.keys.recent,
            self.keys.leader,
        ]
        try:
            out = await self._save(keys=keys, args=args)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot store task {task.id}: {e}") from e
        if int(out[0]) == -1:
            leader = str(out[1]).split("|")[1] if str(out[1]).count("|") >= 2 else "none"
            raise FencedOff(
                f"task {task.id}: not written, this brain no longer leads (leader: {leader})"
            )
        if int(out[0]) != 1:
            raise TaskConflict(
                f"task {task.id}: expected version {expected or 'none'}, found {out[1] or 'none'}"
            )
        for event, cursor in zip(events, out[1:], strict=True):
            _log_event(event, cursor)

    async def append_events(self, task_id: str, events: Sequence[TaskEvent]) -> None:
        """Append events that change nothing in the record (progress reports)."""
        if not events:
            return
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                for e in events:
                    pipe.xadd(
                        self.keys.events(task_id),
                        {"e": e.model_dump_json(exclude={"cursor"})},
                        maxlen=self.events_maxlen,
                        approximate=True,
                    )
                await pipe.execute()
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot append events of task {task_id}: {e}") from e

    # -- reads -------------------------------------------------------------------------
    async def get(self, task_id: str) -> Task:
        return (await self.get_with_meta(task_id))[0]

    async def get_with_meta(self, task_id: str) -> tuple[Task, TaskMeta]:
        try:
            data, meta = await self._r.hmget(self.keys.task(task_id), ["data", "meta"])
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read task {task_id}: {e}") from e
        if data is None:
            raise NotFoundError(f"no task {task_id!r}")
        return Task.model_validate_json(data), TaskMeta.loads(meta)

    async def get_with_cursor(self, task_id: str) -> tuple[Task, str]:
        """The task and the id of its latest event, read atomically, so that a blocking
        read from that id misses nothing that happened after the record was read."""
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hget(self.keys.task(task_id), "data")
                pipe.xrevrange(self.keys.events(task_id), count=1)
                data, last = await pipe.execute()
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read task {task_id}: {e}") from e
        if data is None:
            raise NotFoundError(f"no task {task_id!r}")
        return Task.model_validate_json(data), (last[0][0] if last else "0-0")

    async def claim_idempotency(self, key: str, task_id: str, ttl_s: float) -> str | None:
        """Bind a client's Idempotency-Key to `task_id` unless it is bound already: None
        when this call bound it, else the task id it was bound to (atomic: SET NX)."""
        name = self.keys.idempotency(hashlib.sha256(key.encode()).hexdigest())
        try:
            if await self._r.set(name, task_id, nx=True, px=int(ttl_s * 1000)):
                return None
            bound = await self._r.get(name)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot check the idempotency key: {e}") from e
        return str(bound) if bound is not None else None

    async def release_idempotency(self, key: str, task_id: str) -> None:
        """Unbind the key if it still names `task_id` (the request it guarded failed, so
        a corrected retry with the same key is a new request)."""
        name = self.keys.idempotency(hashlib.sha256(key.encode()).hexdigest())
        try:
            await self._r.eval(_RELEASE_IF, 1, name, task_id)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot release the idempotency key: {e}") from e

    async def active_ids(self) -> list[str]:
        try:
            return sorted(await self._r.smembers(self.keys.active))
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read the active tasks: {e}") from e

    async def recent(self, status: TaskStatus | None = None, limit: int = 50) -> list[Task]:
        """Most recent first; expired records are dropped from the index on the way."""
        out: list[Task] = []
        start, page = 0, max(limit, 50)
        while len(out) < limit:
            ids = await self._r.zrevrange(self.keys.recent, start, start + page - 1)
            if not ids:
                break
            start += page
            async with self._r.pipeline(transaction=False) as pipe:
                for task_id in ids:
                    pipe.hmget(self.keys.task(task_id), ["status", "data"])
                rows = await pipe.execute()
            gone = []
            for task_id, (st, data) in zip(ids, rows, strict=True):
                if data is None:
                    gone.append(task_id)
                elif status is None or st == status.value:
                    out.append(Task.model_validate_json(data))
            if gone:
                await self._r.zrem(self.keys.recent, *gone)
                start -= len(gone)
        return out[:limit]

    async def events(self, task_id: str, after: str = "0-0", count: int = 1000) -> list[TaskEvent]:
        """Stored events after the cursor (exclusive), oldest first."""
        rows = await self._r.xrange(
            self.keys.events(task_id), min=f"({after}" if after != "0-0" else "-", count=count
        )
        return [_event(cursor, fields) for cursor, fields in rows]

    async def read_events(
        self, task_id: str, after: str, *, block_s: float, count: int = 100
    ) -> list[TaskEvent]:
        """Events after the cursor, blocking for the next one (XREAD BLOCK) up to
        `block_s` or `block_chunk_s`, whichever is shorter; [] when none came."""
        block_ms = max(1, int(min(block_s, self.block_chunk_s) * 1000))
        try:
            reply = await self._b.xread(
                {self.keys.events(task_id): after}, count=count, block=block_ms
            )
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read events of task {task_id}: {e}") from e
        if not reply:
            return []
        # RESP2 answers a list of [stream, entries]; RESP3 a dict.
        entries = next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
        if (
            isinstance(reply, dict)
            and entries
            and isinstance(entries[0], list)
            and isinstance(entries[0][0], list)
        ):
            entries = entries[0]
        return [_event(cursor, fields) for cursor, fields in entries]

    async def wait_terminal(self, task_id: str, timeout_s: float) -> Task:
        """The task once it is terminal, or as it is when `timeout_s` passes. Blocks on
        the event stream; wakes only when events arrive. Redis restarting meanwhile is
        waited out within `timeout_s` (the events are read on from the same cursor)."""
        task, cursor = await self.get_with_cursor(task_id)
        deadline = time.monotonic() + max(0.0, timeout_s)
        while task.status not in TERMINAL_TASK_STATUSES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                events = await self.read_events(task_id, cursor, block_s=remaining)
            except ServiceUnavailableError:
                if not await wait_for_store(self, max(0.0, deadline - time.monotonic())):
                    raise
                continue
            if not events:
                continue
            cursor = events[-1].cursor or cursor
            if any(e.kind in TERMINAL_EVENT_KINDS for e in events):
                task = await self.get(task_id)
        else:
            return task
        return await self.get(task_id)


def _event(cursor: str, fields: dict[str, str]) -> TaskEvent:
    return TaskEvent.model_validate_json(fields["e"]).model_copy(update={"cursor": cursor})


def _log_event(event: TaskEvent, cursor: str) -> None:
    extra = " ".join(
        f"{k}={v}"
        for k, v in event.data.items()
        if k in ("attempt", "call_id", "duration_s", "error", "from", "to", "status")
    )
    log.info(
        "task=%s event=%s subtask=%s robot=%s %s%s [%s]",
        event.task_id,
        event.kind.value,
        event.subtask or "-",
        event.robot or "-",
        event.message,
        f" ({extra})" if extra else "",
        cursor,
    )


_RELEASE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
