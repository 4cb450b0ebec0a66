"""The emergency stop's state: engaged or not, by whom, why, since when.

Kept in Redis (`AccessKeys.estop`) so that a restarted brain comes back stopped, and in
memory (`engaged`) so that the runners check it without a round trip before every
dispatch. What a stop does to the tasks is the scheduler's and the runners' business
(scheduler.py `engage_estop` / `release_estop`; executor.py).
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.exceptions import RedisError

from ...errors import ServiceUnavailableError
from ...keys import AccessKeys

__all__ = ["EStop", "EStopState"]


class EStopState(BaseModel):
    engaged: bool = False
    by: str | None = None
    """Who engaged it (a token's name)."""
    reason: str = ""
    since: float | None = None
    """When it was engaged (epoch seconds)."""
    released_by: str | None = None
    """Who released the last stop (while not engaged; this brain's memory only)."""
    released_at: float | None = None


class EStop:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._r: Any = redis
        self.key = AccessKeys(prefix).estop
        self.state = EStopState()

    @property
    def engaged(self) -> bool:
        return self.state.engaged

    async def load(self) -> EStopState:
        """Read the stored state (a brain starting finds a stop engaged before it)."""
        try:
            raw = await self._r.get(self.key)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read the emergency stop: {e}") from e
        self.state = EStopState.model_validate_json(raw) if raw else EStopState()
        return self.state

    async def engage(self, by: str, reason: str) -> EStopState:
        """Engage (the first engagement's who and when stay while it is engaged)."""
        state = EStopState(engaged=True, by=by, reason=reason, since=round(time.time(), 3))
        body = state.model_dump_json(include={"engaged", "by", "reason", "since"})
        # the in-memory flag first: a dispatch decided while Redis is written is refused
        previous, self.state = self.state, (self.state if self.state.engaged else state)
        try:
            if not await self._r.set(self.key, body, nx=True):
                raw = await self._r.get(self.key)
                if raw:
                    self.state = EStopState.model_validate_json(raw)
        except (RedisError, OSError) as e:
            # not stored: a restarted brain would not know; keep it engaged here anyway
            if not previous.engaged:
                self.state = state
            raise ServiceUnavailableError(
                f"the emergency stop is engaged in this brain but could not be stored: {e}"
            ) from e
        return self.state

    async def release(self, by: str) -> EStopState:
        try:
            await self._r.delete(self.key)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot release the emergency stop: {e}") from e
        self.state = EStopState(released_by=by, released_at=round(time.time(), 3))
        return self.state
