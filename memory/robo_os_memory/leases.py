"""Leases: time-limited reservations of an object or place, with fencing tokens.

`acquire` is SET NX PX in a script that also hands out the next fencing token (INCR on a
per-resource counter that is never reset) and records the lease in the history; when the
holder dies the key expires by itself. Only the current holder with the current token
renews or releases.
"""

from __future__ import annotations

import json
import math

from .errors import InvalidUpdateError
from .keys import Keys
from .models import Lease
from .scripts import RedisClient, Scripts

__all__ = ["acquire", "lease_of", "release", "renew"]


def _ttl_ms(ttl_s: float) -> int:
    if not math.isfinite(ttl_s) or ttl_s <= 0:
        raise InvalidUpdateError(f"lease ttl must be a positive number of seconds, not {ttl_s}")
    return max(1, round(ttl_s * 1000))


def _check_resource(resource: str) -> None:
    if not resource:
        raise InvalidUpdateError("a lease needs a resource name")


def _lease(resource: str, reply: list[object]) -> Lease:
    holder, token, expires_ms = reply
    return Lease(
        resource=resource,
        holder=str(holder),
        token=int(str(token)),
        expires_at=int(str(expires_ms)) / 1000.0,
    )


async def acquire(scripts: Scripts, resource: str, holder: str, ttl_s: float) -> Lease:
    _check_resource(resource)
    if not holder:
        raise InvalidUpdateError("a lease needs a holder")
    reply = await scripts.run("lease", holder, ["acquire", resource, holder, "", _ttl_ms(ttl_s)])
    return _lease(resource, reply)


async def renew(scripts: Scripts, lease: Lease, ttl_s: float) -> Lease:
    reply = await scripts.run(
        "lease", lease.holder, ["renew", lease.resource, lease.holder, lease.token, _ttl_ms(ttl_s)]
    )
    return _lease(lease.resource, reply)


async def release(scripts: Scripts, lease: Lease) -> None:
    await scripts.run(
        "lease", lease.holder, ["release", lease.resource, lease.holder, lease.token, ""]
    )


async def lease_of(r: RedisClient, keys: Keys, resource: str) -> Lease | None:
    _check_resource(resource)
    value = await r.get(keys.lease(resource))
    if value is None:
        return None
    data = json.loads(value)
    return Lease(
        resource=resource, holder=data["h"], token=int(data["t"]), expires_at=data["e"] / 1000.0
    )
