"""The emergency stop's state: engaged or not, by whom, why, since when; globally (every
robot) and for single robots (`robots`: one robot stopped while the others work).

Kept in Redis (`AccessKeys.estop`, `AccessKeys.estop_robots`) so that a restarted brain
comes back stopped, and in memory (`engaged`, `stopped(robot)`) so that the runners check
it without a round trip before every dispatch. The two are independent: the global stop
wins while engaged, and releasing it leaves the robots stopped one by one stopped.
What a stop does to the tasks is the scheduler's and the runners' business
(scheduler.py `engage_estop` / `release_estop`; executor.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from ...errors import ServiceUnavailableError
from ...keys import AccessKeys

__all__ = ["EStop", "EStopState", "RobotStop"]


class RobotStop(BaseModel):
    """One robot's own emergency stop."""

    by: str
    """Who engaged it (a token's name)."""
    reason: str = ""
    since: float
    """When it was engaged (epoch seconds)."""


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
    robots: dict[str, RobotStop] = Field(default_factory=dict)
    """The robots stopped one by one (whatever `engaged` says): they run nothing until
    each is released."""


class EStop:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._r: Any = redis
        keys = AccessKeys(prefix)
        self.key = keys.estop
        self.robots_key = keys.estop_robots
        self.state = EStopState()

    @property
    def engaged(self) -> bool:
        """The global stop (every robot)."""
        return self.state.engaged

    def stopped(self, robot: str) -> bool:
        """Whether `robot` may run nothing now: the global stop, or its own."""
        return self.state.engaged or robot in self.state.robots

    async def load(self) -> EStopState:
        """Read the stored state (a brain starting finds a stop engaged before it)."""
        try:
            raw = await self._r.get(self.key)
            per_robot = await self._r.hgetall(self.robots_key)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read the emergency stop: {e}") from e
        state = EStopState.model_validate_json(raw) if raw else EStopState()
        self.state = state.model_copy(update={"robots": _robots(per_robot)})
        return self.state

    async def engage(self, by: str, reason: str) -> EStopState:
        """Engage (the first engagement's who and when stay while it is engaged)."""
        since = round(time.time(), 3)
        state = EStopState(
            engaged=True, by=by, reason=reason, since=since, robots=self.state.robots
        )
        body = state.model_dump_json(include={"engaged", "by", "reason", "since"})
        # the in-memory flag first: a dispatch decided while Redis is written is refused
        previous, self.state = self.state, (self.state if self.state.engaged else state)
        try:
            if not await self._r.set(self.key, body, nx=True):
                raw = await self._r.get(self.key)
                if raw:
                    stored = EStopState.model_validate_json(raw)
                    self.state = stored.model_copy(update={"robots": self.state.robots})
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
        self.state = EStopState(
            released_by=by, released_at=round(time.time(), 3), robots=self.state.robots
        )
        return self.state

    async def engage_robots(self, robots: Iterable[str], by: str, reason: str) -> EStopState:
        """Stop these robots (one already stopped keeps its first who and when)."""
        now = round(time.time(), 3)
        new = {r: RobotStop(by=by, reason=reason, since=now) for r in robots}
        # in memory first, as for the global stop: a dispatch decided meanwhile is refused
        self._set_robots({**new, **self.state.robots})
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                for robot, stop in new.items():
                    pipe.hsetnx(self.robots_key, robot, stop.model_dump_json())
                pipe.hgetall(self.robots_key)
                stored = (await pipe.execute())[-1]
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(
                f"robots {', '.join(sorted(new))} are stopped in this brain but the stop"
                f" could not be stored: {e}"
            ) from e
        self._set_robots(_robots(stored))
        return self.state

    async def release_robots(self, robots: Iterable[str]) -> EStopState:
        """Release these robots' own stops (the global stop, if engaged, still holds)."""
        names = sorted(set(robots))
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hdel(self.robots_key, *names)
                pipe.hgetall(self.robots_key)
                stored = (await pipe.execute())[-1]
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot release the robots' stop: {e}") from e
        self._set_robots(_robots(stored))
        return self.state

    def _set_robots(self, robots: dict[str, RobotStop]) -> None:
        self.state = self.state.model_copy(update={"robots": dict(sorted(robots.items()))})


def _robots(raw: dict[Any, Any]) -> dict[str, RobotStop]:
    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    return {text(k): RobotStop.model_validate_json(v) for k, v in sorted(raw.items())}
