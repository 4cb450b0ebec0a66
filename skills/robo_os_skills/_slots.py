"""Docking slots as leases: a robot reserves one slot of a place before it drives there.

The lease (`slot_resource(place, i)`, SET NX PX with a fencing token) is held from before
the drive until the robot has docked; from then on its record's `place`/`slot` say that
it occupies the slot, until it drives away. So a slot is taken while someone leases it
or is docked at it. A slot that leaves its neighbours no room (`DockSlot.blocks`) is
reserved with them: their leases are taken in ascending order (so two robots never hold
half of each other's), and a robot docked at any of them makes it taken. When every
slot that fits the robot is taken, it waits on the memory's change feed (a lease
released or expired, a docked robot leaving) up to the call's deadline: no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from robo_os_memory import EntityKind, Lease, LeaseHeldError, LeaseLostError, slot_resource
from robo_os_memory.subscription import Subscription

from robo_os.contracts import ErrorCode
from robo_os.skill.context import SkillAborted, SkillContext
from robo_os.skill.parts import DockingBase, DockSlot

from ._support import LEASE_MARGIN_S

__all__ = ["GIVE_UP_S", "Reservation", "next_change", "occupants", "reserve_slot"]

log = logging.getLogger(__name__)

_LEAVES = frozenset({"place", "slot"})
GIVE_UP_S = 0.1
"""A robot waiting for a slot gives up this long before the call's deadline, so that its
failure says who holds the slots rather than only that time ran out."""


async def occupants(ctx: SkillContext, place: str) -> dict[int, str]:
    """slot -> the robot docked there, as memory records it (this robot left out)."""
    return {
        r.slot: r.id
        for r in await ctx.memory.list_robots()
        if r.place == place and r.slot is not None and r.id != ctx.robot_id
    }


async def next_change(
    ctx: SkillContext, sub: Subscription, timeout_s: float, relevant: Iterable[str] = ()
) -> bool:
    """Wait for the next change on `sub` (of a lease, or of a robot's fields named in
    `relevant`), the call's cancellation, or `timeout_s`; True when a change came."""
    wanted = frozenset(relevant)
    loop = asyncio.get_running_loop()
    until = loop.time() + max(timeout_s, 0.0)
    cancelled = asyncio.ensure_future(ctx.cancel.wait())
    try:
        while (left := until - loop.time()) > 0:
            nxt = asyncio.ensure_future(anext(sub))
            try:
                done, _ = await asyncio.wait(
                    {nxt, cancelled}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                nxt.cancel()
            if cancelled in done:
                raise SkillAborted(ErrorCode.cancelled, ctx.cancel.reason or "cancelled")
            if nxt not in done:
                return False
            change = nxt.result()
            if change.kind != EntityKind.robot or not wanted or wanted & set(change.fields):
                return True
            if change.op in ("offline", "delete"):
                return True
        return False
    finally:
        cancelled.cancel()


@dataclass(frozen=True)
class Reservation:
    """A slot held for one drive: its lease (which fences the docking write)."""

    lease: Lease
    index: int
    waited_s: float
    """How long the robot waited for a slot to free up."""


@dataclass(frozen=True)
class _Attempt:
    lease: Lease | None
    """The slot's lease when one was free."""
    index: int = -1
    also: tuple[Lease, ...] = ()
    """The leases of the neighbours it blocks."""
    taken: dict[int, str] = field(default_factory=dict)
    """Otherwise: slot -> who holds or occupies it."""
    earliest: float | None = None
    """When the first of those leases ends (unix s), if any is leased."""


async def _release(ctx: SkillContext, leases: Iterable[Lease]) -> None:
    for lease in leases:
        with contextlib.suppress(LeaseLostError):  # expired or taken over: nothing to free
            await ctx.memory.release(lease)


async def _try_slots(
    ctx: SkillContext, place: str, slots: list[DockSlot], ttl_s: float
) -> _Attempt:
    """Lease the best free slot (with its neighbours), or say who holds them all and
    when the first of their leases ends."""
    taken = await occupants(ctx, place)
    earliest: float | None = None
    for slot in slots:
        group = sorted({slot.index, *slot.blocks})
        if busy := next((taken[i] for i in group if i in taken), None):
            taken.setdefault(slot.index, busy)
            continue
        held: dict[int, Lease] = {}
        for index in group:
            try:
                held[index] = await ctx.memory.acquire(
                    slot_resource(place, index), ctx.robot_id, ttl_s
                )
            except LeaseHeldError as e:
                taken.setdefault(slot.index, e.holder)
                earliest = e.until if earliest is None else min(earliest, e.until)
                break
        else:
            # a robot may have docked there and released its lease since we looked
            now = await occupants(ctx, place)
            busy = next((now[i] for i in group if i in now), None)
            if busy is None:
                main = held.pop(slot.index)
                return _Attempt(main, slot.index, tuple(held.values()))
            taken.setdefault(slot.index, busy)
        await _release(ctx, held.values())
    return _Attempt(None, taken=taken, earliest=earliest)


@contextlib.asynccontextmanager
async def reserve_slot(
    ctx: SkillContext,
    base: DockingBase,
    place: str,
    *,
    among: list[DockSlot] | None = None,
    wait: bool = True,
) -> AsyncIterator[Reservation]:
    """Hold the lease of one slot of `place` (the best free one for this robot, or the
    first free one of `among`) for the block, waiting until one is free; `timeout` if
    none frees up before the deadline (at once with `wait=False`), `unreachable` if none
    fits the robot at all."""
    slots = among if among is not None else await base.slots(place)
    every = sorted({i for s in slots for i in (s.index, *s.blocks)})
    if not slots:
        raise SkillAborted(ErrorCode.unreachable, f"{ctx.robot_id} fits no docking slot of {place}")
    robots = [r.id for r in await ctx.memory.list_robots() if r.id != ctx.robot_id]
    names = [*(slot_resource(place, i) for i in every), *robots]
    waited_since: float | None = None
    sub = ctx.memory.subscribe(kinds=[EntityKind.lease, EntityKind.robot], names=names)
    async with sub:  # started before the first look, so no release between is missed
        while True:
            ttl = max(ctx.remaining(), 0.0) + LEASE_MARGIN_S
            got = await _try_slots(ctx, place, slots, ttl)
            if got.lease is not None:
                lease, index, also = got.lease, got.index, got.also
                break
            who = ", ".join(f"slot {i}: {h}" for i, h in sorted(got.taken.items()))
            left = ctx.remaining() - GIVE_UP_S
            if left <= 0 or not wait:
                raise SkillAborted(
                    ErrorCode.timeout,
                    f"every slot of {place} that fits {ctx.robot_id} stayed taken"
                    + (" until the deadline" if wait else "") + f" ({who})",
                )
            if waited_since is None:
                waited_since = time.monotonic()
                log.info("%s waits for a slot at %s (taken: %s)", ctx.robot_id, place, who)
                await ctx.report_progress(0.0, f"waiting for a slot at {place} ({who})")
            # a lease whose holder died ends at its expiry even with no watcher to say so
            pause = left if got.earliest is None else min(left, got.earliest - time.time() + 0.05)
            await next_change(ctx, sub, pause, relevant=_LEAVES)
    waited = 0.0 if waited_since is None else time.monotonic() - waited_since
    if waited_since is not None:
        log.info("%s got slot %d of %s after %.2f s", ctx.robot_id, index, place, waited)
    try:
        yield Reservation(lease, index, waited)
    finally:
        await _release(ctx, (lease, *also))
