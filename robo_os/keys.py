"""Every Redis key robo-os itself writes, built in one place.

The memory's keys (robots, objects, places, history, leases, liveness) are built in
`robo_os_memory.keys`; the keys here live under the same configurable prefix
(`settings.redis.key_prefix`), in the same Redis, one namespace per owner:

    {p}:brain:...   the brain's task store (robo_os/brain/runtime/store.py), its API
                    tokens, audit stream and emergency stop (`AccessKeys`)
    {p}:agent:...   each robot's agent (robo_os/cerebellum/agent_state.py)

docs/memory.md has the full table (type, TTL, writer, readers); keep the two in sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from robo_os_memory.keys import Keys as MemoryKeys

__all__ = ["AccessKeys", "AgentKeys", "TaskKeys"]


def _checked(prefix: str) -> None:
    # The prefix is shared with the memory: the same rules keep it from matching
    # (or escaping into) another tenant's keys.
    MemoryKeys(prefix)


@dataclass(frozen=True)
class TaskKeys:
    """The brain's task records. Owner: the brain's `TaskStore` (one brain per prefix, or
    the leading one of several: `leader`)."""

    prefix: str

    def __post_init__(self) -> None:
        _checked(self.prefix)

    def task(self, task_id: str) -> str:
        """Hash `version`, `status`, `data` (Task JSON), `meta` (JSON). No TTL while the
        task is active (it must survive a brain restart); `scheduler.terminal_ttl_s`
        once it ended."""
        return f"{self.prefix}:brain:task:{task_id}"

    def events(self, task_id: str) -> str:
        """Stream, one entry per TaskEvent (field `e`), `MAXLEN ~ events_maxlen`. The
        same lifetime as the task's record."""
        return f"{self.prefix}:brain:task:{task_id}:events"

    @property
    def active(self) -> str:
        """Set of the ids of tasks not yet terminal. Forever: ids leave when their task
        ends; a restarted brain resumes every task in it."""
        return f"{self.prefix}:brain:tasks:active"

    def idempotency(self, key_digest: str) -> str:
        """String: the id of the task a `POST /v1/tasks` with this `Idempotency-Key`
        (its SHA-256) created. TTL `IDEMPOTENCY_TTL_S`: a client's retries come within
        minutes, and the key must not pin a task id forever."""
        return f"{self.prefix}:brain:idempotency:{key_digest}"

    @property
    def recent(self) -> str:
        """Sorted set id -> created_at, trimmed to the newest `RECENT_KEEP`. Forever: it
        is bounded by the trim, and ids of expired tasks are dropped when a listing meets
        them."""
        return f"{self.prefix}:brain:tasks:recent"

    @property
    def leader(self) -> str:
        """String `epoch|brain id|URL` of the brain that leads (runs every task) while
        several brains share the prefix (`ha.enabled`), `PX ha.lease_ttl_s`, renewed by
        its holder (brain/runtime/leadership.py). Every task write checks it (fencing):
        a brain whose lease lapsed cannot write a task again."""
        return f"{self.prefix}:brain:leader"

    @property
    def leader_epoch(self) -> str:
        """Integer, incremented by each brain that takes the lead: the fencing token's
        epoch. Forever."""
        return f"{self.prefix}:brain:leader:epoch"


@dataclass(frozen=True)
class AccessKeys:
    """Who may do what, what they did, and the emergency stop. Owner: the brain's API
    (`brain/api/principals.py`, `audit.py`) and its scheduler (`brain/runtime/estop.py`)."""

    prefix: str

    def __post_init__(self) -> None:
        _checked(self.prefix)

    @property
    def tokens(self) -> str:
        """Hash SHA-256 hex digest of a token -> JSON {name, scope, created_at}. Forever:
        a token lives until it is revoked. The secret itself is never stored."""
        return f"{self.prefix}:brain:tokens"

    @property
    def token_names(self) -> str:
        """Hash token name -> its digest (names are unique). Forever, like `tokens`."""
        return f"{self.prefix}:brain:tokens:names"

    @property
    def tokens_used(self) -> str:
        """Hash token name -> when it was last used (epoch seconds, written at most every
        `LAST_USED_EVERY_S`). Forever; a revoked name's field is deleted with it."""
        return f"{self.prefix}:brain:tokens:used"

    @property
    def audit(self) -> str:
        """Stream, one entry per state-changing request (field `e`, JSON AuditEntry),
        `MAXLEN ~ api.audit_maxlen`. Forever: bounded by the trim."""
        return f"{self.prefix}:brain:audit"

    @property
    def estop(self) -> str:
        """String, JSON {by, reason, since} while the emergency stop is engaged; absent
        when released. No TTL: only a release ends a stop (it survives brain restarts)."""
        return f"{self.prefix}:brain:estop"

    @property
    def estop_robots(self) -> str:
        """Hash robot -> JSON {by, reason, since}: the robots stopped one by one (their own
        emergency stop, under the global one). No TTL: only a release of that robot ends
        its stop (it survives brain restarts)."""
        return f"{self.prefix}:brain:estop:robots"


@dataclass(frozen=True)
class AgentKeys:
    """One robot's agent's call results. Owner: that agent (nothing else writes them)."""

    prefix: str
    robot: str

    def __post_init__(self) -> None:
        _checked(self.prefix)

    def result(self, call_id: str) -> str:
        """String, JSON SkillResult of a finished call, `EX result_ttl_s`: a repeated call
        id (a restarted brain re-sends running calls) within it is answered, not rerun."""
        return f"{self.prefix}:agent:{self.robot}:result:{call_id}"

    @property
    def results(self) -> str:
        """Sorted set call_id -> finish time, the index of `result` keys (a restarted
        agent loads them in two round trips); trimmed, `EXPIRE result_ttl_s`."""
        return f"{self.prefix}:agent:{self.robot}:results"
