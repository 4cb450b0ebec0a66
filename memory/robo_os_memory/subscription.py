"""Real-time change feed: an async iterator over blocking XREADs (no polling).

Without a name filter it reads the global stream and filters kinds here; with names it
reads only those entities' own streams. "$" (the default cursor) is resolved to the
newest change when the subscription starts: on `async with`, `await sub.start()`, or the
first `__anext__`; start it before making the changes you want to see. A lost
connection ends the iteration with StoreUnavailableError; `sub.cursor` resumes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from redis import exceptions as rexc

from .base import BLOCK_MS, blocking_deadline
from .codec import decode_change
from .deadline import call_deadline
from .errors import StoreUnavailableError
from .history import check_cursor, entity_streams, id_key, latest_cursor
from .keys import Keys
from .models import Change, EntityKind
from .scripts import RedisClient

__all__ = ["Subscription"]

_COUNT = 500


class Subscription:
    """Changes as they happen, oldest first. `cursor` is the last delivered change's
    cursor: pass it to a new subscription (or `changes_since`) to resume after a
    reconnect without losing or repeating anything."""

    def __init__(
        self,
        r: RedisClient,
        keys: Keys,
        *,
        kinds: Iterable[EntityKind] | None,
        names: Iterable[str] | None,
        cursor: str,
        timeout_s: float | None = 5.0,
    ) -> None:
        """`r` is the memory's pool for blocking reads; `timeout_s` the memory's deadline
        of a call, added to each BLOCK_MS read's."""
        self._r = r
        self._deadline = blocking_deadline(timeout_s)
        self._keys = keys
        self._kinds = {EntityKind(k) for k in kinds} if kinds is not None else None
        self._named = entity_streams(keys, self._kinds, list(names)) if names is not None else None
        self._start = cursor if cursor == "$" else check_cursor(cursor)
        self._positions: dict[str, str] | None = None
        self._pending: deque[Change] = deque()
        self._closed = False
        self.cursor = self._start

    async def start(self) -> Subscription:
        """Fix the starting point now (resolves "$"). Idempotent."""
        if self._positions is None:
            start = await latest_cursor(self._r, self._keys) if self._start == "$" else self._start
            self.cursor = start
            streams = list(self._named) if self._named is not None else [self._keys.changes]
            self._positions = dict.fromkeys(streams, start)
        return self

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Change:
        await self.start()
        assert self._positions is not None
        while not self._pending:
            if self._closed or not self._positions:
                raise StopAsyncIteration
            try:
                async with call_deadline(self._deadline):
                    reply = await self._r.xread(self._positions, count=_COUNT, block=BLOCK_MS)
            except (rexc.ConnectionError, rexc.TimeoutError) as e:
                raise StoreUnavailableError(f"subscription lost redis at {self.cursor}: {e}") from e
            except TimeoutError as e:
                raise StoreUnavailableError(
                    f"subscription: redis did not answer (at {self.cursor})"
                ) from e
            self._take(reply or ())
        change = self._pending.popleft()
        self.cursor = change.cursor
        return change

    def _take(self, reply: Iterable[Any]) -> None:
        assert self._positions is not None
        batch: list[Change] = []
        for stream, entries in reply:
            for entry_id, fields in entries:
                self._positions[stream] = entry_id
                if self._named is not None:
                    kind, name = self._named[stream]
                    batch.append(decode_change(entry_id, fields, kind=kind, name=name))
                elif self._kinds is None or fields.get("k") in self._kinds:
                    batch.append(decode_change(entry_id, fields))
        batch.sort(key=lambda c: id_key(c.cursor))
        self._pending.extend(batch)

    async def aclose(self) -> None:
        """Stop: the iteration ends. Nothing is held between reads, so nothing leaks."""
        self._closed = True
        self._pending.clear()

    async def __aenter__(self) -> Subscription:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
