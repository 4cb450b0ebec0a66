"""The state every part of `Memory` shares: the client, keys, scripts, who writes."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from .keys import Keys
from .models import EntityKind
from .scripts import RedisClient, ScriptEnv, Scripts

__all__ = ["BLOCK_MS", "MemoryBase", "blocking_deadline"]

BLOCK_MS = 5_000
"""How long one blocking read (XREAD BLOCK) waits before it is reissued."""


def blocking_deadline(timeout_s: float | None) -> float | None:
    """The deadline of one blocking read: BLOCK_MS, plus the usual deadline of a call
    (Redis ends a BLOCK late by up to its timer tick)."""
    return None if timeout_s is None else BLOCK_MS / 1000 + timeout_s


class MemoryBase:
    """Wiring only; `Memory.connect` builds it. The API lives in records.py (robots,
    objects, places), moves.py (pick/place/transfer) and store.py (the rest)."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        env: ScriptEnv,
        *,
        blocking: aioredis.Redis,
        writer: str,
        heartbeat_interval_s: float,
        heartbeat_ttl_s: float,
    ) -> None:
        """Use `Memory.connect`; this only wires an already opened client."""
        self._r: RedisClient = client
        self._keys = keys
        self._blocking: RedisClient = blocking
        self._env = env
        self._scripts = Scripts(client, env)
        self.writer = writer
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_ttl_s = heartbeat_ttl_s
        self._shared_pools = False
        """True for a client made by `as_writer`: its pools are another's to close."""
        self._skills_decoded: dict[str, Any] = {}
        """Published skill JSON -> its decoded value (robots publishing the same specs
        share one; `robot_skills` decodes only what changed)."""

    @property
    def command_timeout_s(self) -> float | None:
        """The deadline of one call to Redis (StoreUnavailableError after it)."""
        return self._env.timeout_s

    @property
    def keys(self) -> Keys:
        """The key builder of this memory (for tools and tests that inspect Redis)."""
        return self._keys

    @property
    def redis(self) -> aioredis.Redis:
        """The underlying client (benchmarks, footprint inspection)."""
        client: aioredis.Redis = self._r
        return client

    async def _records(self, *kinds: EntityKind) -> list[list[str]]:
        reply = await self._scripts.run("snapshot", self.writer, [k.value for k in kinds])
        return [list(group) for group in reply]
