"""Admission slots without Redis: first come first served, refused past the queue or the
wait, a cancelled waiter leaks no slot, resumed tasks are never refused."""

from __future__ import annotations

import asyncio

import pytest

from robo_os.brain.runtime.admission import Admission
from robo_os.errors import OverloadedError


async def test_over_the_limit_without_a_wait_is_refused_naming_the_limit() -> None:
    a = Admission(2, retry_after_s=5)
    await a.acquire()
    await a.acquire()
    with pytest.raises(OverloadedError) as e:
        await a.acquire()
    assert (e.value.limit, e.value.value, e.value.retry_after_s) == (
        "scheduler.max_active_tasks",
        2,
        5,
    )
    assert a.refused == 1 and a.held == 2
    a.release()
    await a.acquire()  # the slot given back is taken again
    assert a.held == 2


async def test_waiters_are_served_in_order_and_the_queue_is_bounded() -> None:
    a = Admission(1, wait_s=10.0, queue=2)
    await a.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        await a.acquire()
        order.append(n)

    first = asyncio.ensure_future(wait(1))
    second = asyncio.ensure_future(wait(2))
    await a.until_waiting(2, 5.0)
    with pytest.raises(OverloadedError):  # a third waiter: past the queue
        await a.acquire()
    a.release()
    await asyncio.wait_for(first, 5.0)
    assert order == [1] and not second.done()
    a.release()
    await asyncio.wait_for(second, 5.0)
    assert order == [1, 2] and a.held == 1


async def test_a_wait_that_times_out_or_is_cancelled_leaks_no_slot() -> None:
    a = Admission(1, wait_s=0.05, queue=5)
    await a.acquire()
    with pytest.raises(OverloadedError):
        await a.acquire()  # waited 0.05 s
    slow = Admission(1, wait_s=10.0, queue=5)
    await slow.acquire()
    gone = asyncio.ensure_future(slow.acquire())
    await slow.until_waiting(1, 5.0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    slow.release()
    assert slow.held == 0 and slow.waiting == 0
    await slow.acquire()
    assert slow.held == 1


async def test_resumed_tasks_take_a_slot_even_over_the_limit() -> None:
    a = Admission(1)
    a.take()
    a.take()
    assert a.held == 2
    with pytest.raises(OverloadedError):
        await a.acquire()
    a.release()
    a.release()
    await a.acquire()
    assert a.held == 1
