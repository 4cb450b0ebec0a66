"""The temporal side: change feed, per-entity history, "as it was at t", subscriptions.

Every write appends to the global stream `{prefix}:changes` and, with the same id, to the
entity's own stream `{prefix}:hist:{kind}:{name}` (lua/common.lua `emit`). A cursor is a
stream id, so it means the same point in time in both: a name-filtered query reads only
the named entities' streams, a kind-filtered one scans the global stream.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .codec import decode_change, decode_record
from .errors import InvalidUpdateError
from .keys import Keys
from .models import Change, EntityKind, ObjectState
from .scripts import RedisClient

__all__ = [
    "changes_since",
    "check_cursor",
    "entity_history",
    "entity_streams",
    "id_key",
    "latest_cursor",
    "object_at",
]

_ALL_KINDS = tuple(EntityKind)
_PAGE = 1000


def id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def check_cursor(cursor: str) -> str:
    if cursor in ("0", "-", ""):
        return "0-0"
    try:
        id_key(cursor)
    except ValueError as e:
        raise InvalidUpdateError(
            f"not a memory cursor: {cursor!r} (use a Change.cursor or '0')"
        ) from e
    return cursor


def _after(cursor: str) -> str:
    return "-" if cursor == "0-0" else "(" + cursor


def _ms(t: float) -> int:
    if not math.isfinite(t):
        raise InvalidUpdateError(f"not a time: {t}")
    return math.floor(t * 1000)


async def latest_cursor(r: RedisClient, keys: Keys) -> str:
    last = await r.xrevrange(keys.changes, count=1)
    return str(last[0][0]) if last else "0-0"


def entity_streams(
    keys: Keys, kinds: Iterable[EntityKind] | None, names: Iterable[str]
) -> dict[str, tuple[EntityKind, str]]:
    return {
        keys.entity_history(k, n): (k, n)
        for k in (tuple(kinds) if kinds else _ALL_KINDS)
        for n in names
    }


async def changes_since(
    r: RedisClient,
    keys: Keys,
    cursor: str,
    *,
    kinds: Iterable[EntityKind] | None,
    names: Iterable[str] | None,
    count: int,
) -> tuple[list[Change], str]:
    if count < 1:
        raise InvalidUpdateError(f"count must be >= 1, not {count}")
    cursor = check_cursor(cursor)
    kind_set = {EntityKind(k) for k in kinds} if kinds is not None else None
    if names is not None:
        return await _named_since(
            r, keys, cursor, entity_streams(keys, kind_set, list(names)), count
        )
    out: list[Change] = []
    position = cursor
    # the kind filter is applied here: keep reading pages until `count` matched or the
    # stream is exhausted, so a caller paging until empty never stops early
    while len(out) < count:
        page = await r.xrange(keys.changes, min=_after(position), count=max(count, 100))
        for entry_id, fields in page:
            position = entry_id
            if kind_set is None or fields.get("k") in kind_set:
                out.append(decode_change(entry_id, fields))
                if len(out) == count:
                    break
        if len(page) < max(count, 100):
            break
    return out, position


async def _named_since(
    r: RedisClient, keys: Keys, cursor: str, streams: dict[str, tuple[EntityKind, str]], count: int
) -> tuple[list[Change], str]:
    async with r.pipeline(transaction=True) as pipe:
        for stream in streams:
            pipe.xrange(stream, min=_after(cursor), count=count)
        pipe.xrevrange(keys.changes, count=1)
        *pages, last = await pipe.execute()
    merged: list[Change] = []
    full = False
    for (kind, name), page in zip(streams.values(), pages, strict=True):
        full = full or len(page) == count
        merged += [decode_change(i, f, kind=kind, name=name) for i, f in page]
    merged.sort(key=lambda c: id_key(c.cursor))
    merged = merged[:count]
    if full or len(merged) == count:
        return merged, merged[-1].cursor if merged else cursor
    # every matching change up to the newest one has been returned: resume after it
    newest = str(last[0][0]) if last else cursor
    return merged, max(newest, merged[-1].cursor if merged else cursor, cursor, key=id_key)


async def entity_history(
    r: RedisClient, keys: Keys, kind: EntityKind, name: str, t0: float | None, t1: float | None
) -> list[Change]:
    stream = keys.entity_history(kind, name)
    # stream ids carry the server's ms clock; widen by a few ms and filter on the exact
    # time stamp each entry carries
    lo = "-" if t0 is None else str(max(0, _ms(t0) - 2))
    hi = "+" if t1 is None else str(_ms(t1) + 2)
    out: list[Change] = []
    while True:
        page = await r.xrange(stream, min=lo, max=hi, count=_PAGE)
        for entry_id, fields in page:
            c = decode_change(entry_id, fields, kind=kind, name=name)
            if (t0 is None or c.ts >= t0) and (t1 is None or c.ts <= t1):
                out.append(c)
        if len(page) < _PAGE:
            return out
        lo = "(" + page[-1][0]


async def object_at(r: RedisClient, keys: Keys, name: str, t: float) -> ObjectState | None:
    stream = keys.entity_history(EntityKind.object, name)
    hi = str(_ms(t) + 2)
    while True:
        page = await r.xrevrange(stream, max=hi, min="-", count=16)
        for _, fields in page:
            if float(fields["t"]) > t:
                continue
            if fields["op"] == "delete" or "s" not in fields:
                return None
            return decode_record(ObjectState, fields["s"])
        if len(page) < 16:
            return None
        hi = "(" + page[-1][0]
