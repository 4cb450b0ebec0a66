"""The Lua scripts that make every write atomic, and the mapping of their errors.

Each script is `lua/common.lua` + `lua/<name>.lua`; common.lua reads the two arguments
every script gets first (this client's setting: prefix and stream limits, in one; the
writer) and defines the helpers that bump versions, append history and keep the contents
and geo indexes in step.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, ParamSpec, TypeAlias, TypeVar

from redis import exceptions as rexc

from .deadline import call_deadline
from .errors import (
    ConflictError,
    InvalidUpdateError,
    LeaseHeldError,
    LeaseLostError,
    MemoryStoreError,
    NotFoundError,
    StoreUnavailableError,
    VersionConflictError,
)

__all__ = ["RedisClient", "ScriptEnv", "Scripts", "map_redis_errors"]

RedisClient: TypeAlias = Any
"""A `redis.asyncio.Redis` opened with decode_responses=True. redis-py's overloads type
every reply as bytes | str whatever the option; with decoding on, replies are str."""

_NAMES = (
    "write",
    "move",
    "delete",
    "lease",
    "heartbeat",
    "heartbeats",
    "sweep",
    "snapshot",
    "skills",
    "reconcile",
    "release_holder",
)
_ERR_TAG = "ROBOOS "

P = ParamSpec("P")
T = TypeVar("T")


def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ScriptEnv:
    prefix: str
    history_maxlen: int
    entity_history_maxlen: int
    history_max_age_ms: int
    """0: no age limit."""
    timeout_s: float | None = 5.0
    """Deadline of one call to Redis; None: none."""


def _error_from(e: rexc.ResponseError) -> MemoryStoreError:
    text = str(e)
    if not text.startswith(_ERR_TAG):
        return MemoryStoreError(f"redis refused a memory script: {text}")
    # Redis appends " script: <sha>, on @user_script:N." to errors raised with error().
    info, _ = json.JSONDecoder().raw_decode(text[len(_ERR_TAG) :])
    code = info.get("code")
    if code == "not_found":
        return NotFoundError(info["kind"], info["name"])
    if code == "version":
        return VersionConflictError(
            info["kind"], info["name"], int(info["expected"]), int(info["actual"])
        )
    if code == "conflict":
        return ConflictError(info["message"])
    if code == "invalid":
        return InvalidUpdateError(info["message"])
    if code == "lease_held":
        return LeaseHeldError(info["resource"], info["holder"], float(info["until_ms"]) / 1000.0)
    if code == "lease_lost":
        holder = info.get("holder")
        now = f"now held by {holder}" if holder else "no longer held"
        return LeaseLostError(
            f"lease on {info['resource']} with token {info.get('token')} is not current ({now})"
        )
    return MemoryStoreError(f"memory script failed: {info}")


def map_redis_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Give a Memory method the memory's deadline and turn connection-level redis errors
    into StoreUnavailableError (operator must act)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        timeout_s: float | None = getattr(args[0], "command_timeout_s", None)
        try:
            async with call_deadline(timeout_s):
                return await fn(*args, **kwargs)
        except (rexc.ConnectionError, rexc.TimeoutError) as e:
            raise StoreUnavailableError(f"redis unavailable: {e}") from e
        except TimeoutError as e:
            raise StoreUnavailableError(f"redis did not answer within {timeout_s} s") from e

    return wrapper


class Scripts:
    """The loaded scripts of one client. Redis caches them by SHA; redis-py reloads one
    after a server restart (NOSCRIPT) by itself."""

    def __init__(self, client: RedisClient, env: ScriptEnv) -> None:
        self._env = env
        self._setting = " ".join(
            str(v)
            for v in (
                env.prefix,
                env.history_maxlen,
                env.entity_history_maxlen,
                env.history_max_age_ms,
            )
        )
        common = _source("common")
        self._scripts = {
            name: client.register_script(common + "\n" + _source(name)) for name in _NAMES
        }

    async def run(self, name: str, by: str, args: Sequence[str | int | float]) -> Any:
        try:
            async with call_deadline(self._env.timeout_s):
                return await self._scripts[name](keys=[], args=[self._setting, by, *args])
        except rexc.ResponseError as e:
            raise _error_from(e) from e
