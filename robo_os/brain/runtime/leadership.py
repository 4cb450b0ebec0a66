"""Several brains on one Redis: one leads and runs every task; the others serve the same
API by forwarding to it (brain/api/forward.py) and take over when its lease lapses.

The lead is a lease in Redis (`TaskKeys.leader`): the string `epoch|brain id|URL`, with
a time to live of `ha.lease_ttl_s`, renewed by its holder every third of that. A brain
that finds no lease takes it in one script, with the next epoch (`TaskKeys.leader_epoch`),
and only then starts its scheduler, which resumes every active task from its stored
record: finished subtasks are not run again, a call in flight is re-sent under the same
call id and the agent answers it from its own record (docs/execution.md, Durability).

Fencing: the lease a brain holds is its task store's fence. Every task write checks it
against the lease in Redis in the same script that writes (store.py), so a brain that
stalled past its lease (a long pause, a partition) and still believes it leads cannot
write a task once another brain took over: the write fails with FencedOff, its runner
lets the task go, and at its next renewal it finds out and stops its scheduler.

    leadership = Leadership(lease, store, new_scheduler, on_change)
    await leadership.start()       # campaigns in the background
    ...
    await leadership.close()       # stops the scheduler, hands the lease over at once
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ...errors import ConfigError
from .tasks_util import cancel_and_wait

if TYPE_CHECKING:
    from ...keys import TaskKeys
    from ...settings import Settings
    from .scheduler import Scheduler
    from .store import TaskStore

__all__ = ["NOT_LEADING", "Leader", "LeaderLease", "Leadership", "advertised_url", "brain_id"]

log = logging.getLogger(__name__)

NOT_LEADING = "-"
"""The fence of a brain that does not lead: no lease ever equals it, so it writes no task."""

# KEYS: lease, epoch counter. ARGV: brain id, URL, ttl ms.
# -> {1, lease} taken, or {0, the current lease}
_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
local epoch = redis.call('INCR', KEYS[2])
local lease = epoch .. '|' .. ARGV[1] .. '|' .. ARGV[2]
redis.call('SET', KEYS[1], lease, 'PX', ARGV[3])
return {1, lease}
"""

# KEYS: lease. ARGV: the lease held, ttl ms. -> 1 renewed, 0 lost
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease. ARGV: the lease held. -> 1 released, 0 not ours
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Leader:
    """Who leads, as the lease says."""

    epoch: int
    brain_id: str
    url: str
    lease: str
    """The raw lease value (the leader's fence)."""

    @classmethod
    def parse(cls, raw: str | None) -> Leader | None:
        if not raw:
            return None
        epoch, brain, url = [*raw.split("|", 2), "", ""][:3]
        try:
            return cls(int(epoch), brain, url, raw)
        except ValueError:
            return None


def brain_id(settings: Settings) -> str:
    """`ha.brain_id`, or the host name and process id."""
    name = settings.ha.brain_id or f"{socket.gethostname()}-{os.getpid()}"
    if "|" in name or not name.strip():
        raise ConfigError(f"ha.brain_id {name!r}: must be non-empty and must not contain '|'")
    return name


def advertised_url(settings: Settings) -> str:
    """Where the other brains forward requests to this one."""
    if settings.ha.advertise_url:
        return settings.ha.advertise_url.rstrip("/")
    host = settings.api.host
    if host in ("0.0.0.0", "::", ""):
        # every interface: the address this host's name resolves to (a container's own
        # address on its network), else the loopback
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api.port}"


class LeaderLease:
    """The lease's three operations, each one atomic script."""

    def __init__(self, redis: Any, keys: TaskKeys, brain: str, url: str, ttl_s: float) -> None:
        self.keys = keys
        self.brain = brain
        self.url = url
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._r = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> tuple[bool, Leader | None]:
        """Take the lease if nobody holds it: (taken, who leads now)."""
        won, lease = await self._acquire(
            keys=[self.keys.leader, self.keys.leader_epoch],
            args=[self.brain, self.url, self.ttl_ms],
        )
        return int(won) == 1, Leader.parse(lease)

    async def renew(self, lease: str) -> bool:
        """Extend the lease; False if it is no longer this one (lapsed or taken)."""
        return int(await self._renew(keys=[self.keys.leader], args=[lease, self.ttl_ms])) == 1

    async def release(self, lease: str) -> None:
        """Give the lease up now (a follower takes over at its next look)."""
        await self._release(keys=[self.keys.leader], args=[lease])

    async def leader(self) -> Leader | None:
        return Leader.parse(await self._r.get(self.keys.leader))


class Leadership:
    """Campaigns for the lead; runs a scheduler while holding it, none otherwise.

    `new_scheduler()` builds a scheduler (not started); `on_change(scheduler)` is told of
    the one that now serves the routes: a started one on taking the lead, a fresh idle
    one on losing it."""

    def __init__(
        self,
        lease: LeaderLease,
        store: TaskStore,
        new_scheduler: Callable[[], Scheduler],
        on_change: Callable[[Scheduler], None],
        *,
        ttl_s: float,
    ) -> None:
        self.lease = lease
        self.store = store
        self.ttl_s = ttl_s
        self._new_scheduler = new_scheduler
        self._on_change = on_change
        self.scheduler = new_scheduler()
        """The scheduler the routes use: started while this brain leads."""
        self.leader: Leader | None = None
        """Who leads, as last seen (this brain too)."""
        self.leading = False
        """True once this brain holds the lease and its scheduler has resumed the tasks."""
        self.terms = 0
        """How many times this brain took the lead."""
        self._held: str | None = None
        self._renewed_at = 0.0
        self._campaign: asyncio.Task[None] | None = None
        self._taking: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def brain(self) -> str:
        return self.lease.brain

    @property
    def holds_lease(self) -> bool:
        return self._held is not None

    async def start(self) -> None:
        self.store.fence = NOT_LEADING
        await self._look()  # a brain that finds no leader starts taking over at once
        self._campaign = asyncio.create_task(self._run(), name="robo-os-leadership")

    async def close(self) -> None:
        """Stop campaigning; a leader stops its scheduler (its tasks stay as stored) and
        releases the lease, so another brain takes over without waiting for it to lapse."""
        if self._campaign is not None:
            await cancel_and_wait([self._campaign])
            self._campaign = None
        held = self._held
        await self._step_down("this brain stops", fresh=False)
        if held is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release(held)

    async def wait_change(self, timeout_s: float) -> bool:
        """Wait until the lead changes hands here (taken or lost); False on timeout."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # -- the campaign --------------------------------------------------------------------
    async def _run(self) -> None:
        renew_every = self.ttl_s / 3
        look_every = self.ttl_s / 6
        while True:
            # a timer: the lease is renewed, and looked for, on a period
            await asyncio.sleep(renew_every if self._held is not None else look_every)
            try:
                await self._look()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as e:
                if self._held is not None and time.monotonic() - self._renewed_at > self.ttl_s:
                    # Redis unreachable for longer than the lease: another brain may
                    # hold it by now (the fence refuses our writes meanwhile anyway)
                    await self._step_down(f"its lease could not be renewed: {e}")
                else:
                    log.warning("brain %s: leader lease: Redis: %s", self.brain, e)
            except Exception:
                log.exception("brain %s: leader lease", self.brain)

    async def _look(self) -> None:
        if self._held is not None:
            if await self.lease.renew(self._held):
                self._renewed_at = time.monotonic()
                return
            self.leader = await self.lease.leader()
            await self._step_down(
                "its lease lapsed"
                + (f"; {self.leader.brain_id} leads now" if self.leader is not None else "")
            )
            return
        won, leader = await self.lease.acquire()
        self.leader = leader
        if won and leader is not None:
            self._take_lead(leader)

    def _take_lead(self, leader: Leader) -> None:
        self._held = leader.lease
        self._renewed_at = time.monotonic()
        self.store.fence = leader.lease
        self.terms += 1
        log.info("brain %s leads (epoch %d); resuming the active tasks", self.brain, leader.epoch)
        # started beside the campaign, so that renewing the lease never waits for it
        self._taking = asyncio.create_task(self._start_scheduler(leader), name="robo-os-take-lead")

    async def _start_scheduler(self, leader: Leader) -> None:
        resumed = await self.scheduler.start(resume=True)
        self.leading = True
        self._on_change(self.scheduler)
        self._changed.set()
        log.info(
            "brain %s: took over as leader (epoch %d): %d active task(s) resumed",
            self.brain, leader.epoch, len(resumed),
        )

    async def _step_down(self, why: str, *, fresh: bool = True) -> None:
        if self._held is None and not self.leading:
            return
        self.store.fence = NOT_LEADING  # first: from now on no write of ours lands
        self._held = None
        was_leading, self.leading = self.leading, False
        if self._taking is not None:
            await cancel_and_wait([self._taking])
            self._taking = None
        await self.scheduler.close()
        (log.warning if fresh else log.info)("brain %s no longer leads: %s", self.brain, why)
        if fresh:
            self.scheduler = self._new_scheduler()
            self._on_change(self.scheduler)
        if was_leading:
            self._changed.set()

    def describe(self) -> dict[str, Any]:
        """For /healthz: this brain, its role and who leads."""
        leader = self.leader
        return {
            "brain": self.brain,
            "role": "leader" if self.leading else ("taking over" if self._held else "follower"),
            "leader": None if leader is None else {
                "brain": leader.brain_id, "epoch": leader.epoch, "url": leader.url,
            },
            "terms": self.terms,
        }
