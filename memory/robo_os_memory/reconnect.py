"""How every Redis client of robo-os survives a Redis restart: redis-py options that
replace a dead pooled connection on the next command instead of surfacing its death once.

    client = redis.asyncio.from_url(url, decode_responses=True, **reconnecting_options())

A connection that died while Redis restarted fails its next command with ConnectionError
(`Connection closed by server`); with these options redis-py disconnects it and retries
the command on a fresh connection after a short exponential back-off, and checks a
connection idle for `health_check_s` with a PING before using it. An outage longer than
the retries still raises (the callers decide how long to wait for Redis: the brain's
runners, docs/reliability.md "Redis outage").

A retried write may run twice when Redis applied it but the reply was lost: the memory's
versioned writes and the task store's versioned save then answer with a conflict, which
their callers already handle by re-reading.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["RETRIES", "reconnecting_options"]

RETRIES = 4
"""Retries of one command (0.05, 0.1, 0.2, 0.4 s apart): they bridge a dropped
connection and a restart that takes a moment, not a long outage."""


def reconnecting_options(*, health_check_s: float = 5.0, retries: int = RETRIES) -> dict[str, Any]:
    """Keyword arguments of `redis.asyncio.from_url` / `ConnectionPool.from_url`."""
    errors = (RedisConnectionError, RedisTimeoutError)
    return {
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries, supported_errors=errors),
        "retry_on_error": list(errors),
        "health_check_interval": health_check_s,
    }
