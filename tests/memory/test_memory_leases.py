"""Leases: SET NX PX with fencing tokens; contention names holder and expiry; only the
holder's current lease renews or releases."""

from __future__ import annotations

import pytest
from robo_os_memory import LeaseHeldError, LeaseLostError, Memory


async def test_contention_between_two_robots(memory: Memory) -> None:
    lease = await memory.acquire("table", "r1", ttl_s=10)
    assert lease.holder == "r1" and lease.token >= 1
    with pytest.raises(LeaseHeldError) as e:
        await memory.acquire("table", "r2", ttl_s=10)
    assert e.value.holder == "r1" and e.value.resource == "table"
    assert abs(e.value.until - lease.expires_at) < 0.05
    assert "held by r1 until" in str(e.value)
    assert await memory.lease_of("table") == lease

    # r2 cannot release or renew what r1 holds
    forged = lease.model_copy(update={"holder": "r2"})
    with pytest.raises(LeaseLostError):
        await memory.release(forged)
    with pytest.raises(LeaseLostError):
        await memory.renew(forged, ttl_s=10)

    renewed = await memory.renew(lease, ttl_s=20)
    assert renewed.token == lease.token and renewed.expires_at > lease.expires_at
    await memory.release(renewed)
    assert await memory.lease_of("table") is None
    with pytest.raises(LeaseLostError):
        await memory.release(renewed)

    second = await memory.acquire("table", "r2", ttl_s=10)
    assert second.token > lease.token


async def test_reacquire_by_holder_extends_and_keeps_token(memory: Memory) -> None:
    first = await memory.acquire("cup", "r1", ttl_s=5)
    again = await memory.acquire("cup", "r1", ttl_s=50)
    assert again.token == first.token and again.expires_at > first.expires_at


async def test_bad_lease_requests(memory: Memory) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await memory.acquire("cup", "r1", ttl_s=0)
    with pytest.raises(ValueError, match="holder"):
        await memory.acquire("cup", "", ttl_s=1)
    assert await memory.lease_of("never-leased") is None
