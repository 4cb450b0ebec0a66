"""The audit stream: one entry per state-changing request, who / what / when / result.

`AuditMiddleware` records every authenticated request to a /v1 route with a method
other than GET, HEAD or OPTIONS (submit, cancel, approve, reject, e-stop and release,
token create and revoke, robot restart, and any route added later), after it was
answered, refused (403) or failed, to the Redis stream `AccessKeys.audit`
(`XADD MAXLEN ~ api.audit_maxlen`). A route adds what only it knows (the id of the task
it created) with `audit_note`. Requests without a valid token (401) are logged, not
streamed: an unauthenticated client must not be able to push real entries out of a
bounded stream. A failed audit write is logged and never fails the request.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from fastapi import Request
from pydantic import BaseModel, JsonValue
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...errors import ServiceUnavailableError
from ...keys import AccessKeys

__all__ = ["AuditEntry", "AuditLog", "AuditMiddleware", "AuditPage", "audit_note"]

log = logging.getLogger(__name__)

_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_KEEP = 4096
"""Bytes of an error answer kept to find its message."""


class AuditEntry(BaseModel):
    id: str | None = None
    """The entry's stream id: pass it as `cursor` to read what came after it."""
    ts: float
    who: str
    """The token's name (`root`: the configured token; `anonymous`: auth off)."""
    scope: str
    action: str
    """The route's operation: submit_task, cancel_task, approve_subtask, engage_estop, ..."""
    method: str
    path: str
    target: dict[str, str]
    """The route's path parameters (task_id, subtask_id, name, ...)."""
    status: int
    """The HTTP status answered."""
    result: str
    """`ok` (2xx), `refused` (4xx) or `error` (5xx)."""
    message: str = ""
    """The error message of a refused or failed request."""
    detail: dict[str, JsonValue] = {}
    """What the route added (e.g. `task_id` of a submitted task)."""


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    cursor: str
    """Pass it back as `?cursor=` for the entries after this page."""


def audit_note(request: Request, **fields: JsonValue) -> None:
    """Add fields to this request's audit entry."""
    note: dict[str, JsonValue] = request.scope.setdefault("state", {}).setdefault("audit", {})
    note.update(fields)


class AuditLog:
    """Appends to and pages through one key prefix's audit stream."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, maxlen: int = 100_000) -> None:
        self._r: Any = redis
        self.key = AccessKeys(prefix).audit
        self.maxlen = maxlen

    async def record(self, entry: AuditEntry) -> str:
        try:
            return str(
                await self._r.xadd(
                    self.key,
                    {"e": entry.model_dump_json(exclude={"id"})},
                    maxlen=self.maxlen,
                    approximate=True,
                )
            )
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot append to the audit stream: {e}") from e

    async def page(self, after: str = "0-0", limit: int = 100) -> AuditPage:
        """Entries after the cursor (exclusive), oldest first."""
        low = f"({after}" if after != "0-0" else "-"
        try:
            rows = await self._r.xrange(self.key, min=low, count=limit)
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read the audit stream: {e}") from e
        entries = [
            AuditEntry.model_validate_json(fields["e"]).model_copy(update={"id": entry_id})
            for entry_id, fields in rows
        ]
        last = entries[-1].id if entries else None
        return AuditPage(entries=entries, cursor=last or after)


class AuditMiddleware:
    """Records each state-changing /v1 request once it was answered (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method", "GET") in _READ_ONLY
            or not str(scope.get("path", "")).startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status = 500
        body = bytearray()

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status >= 400:
                if len(body) < _BODY_KEEP:
                    body.extend(message.get("body", b"")[: _BODY_KEEP - len(body)])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            await self._record(scope, state, status, bytes(body))

    async def _record(self, scope: Scope, state: dict[str, Any], status: int, body: bytes) -> None:
        principal = state.get("principal")
        method, path = str(scope.get("method")), str(scope.get("path"))
        if principal is None:
            log.warning("unauthenticated %s %s answered %d", method, path, status)
            return
        app = scope.get("app")
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        audit: AuditLog | None = getattr(runtime, "audit", None)
        if audit is None:
            return
        route = scope.get("route")
        entry = AuditEntry(
            ts=round(time.time(), 3),
            who=principal.name,
            scope=principal.scope.value,
            action=str(getattr(route, "name", None) or "unknown"),
            method=method,
            path=path,
            target={k: str(v) for k, v in (scope.get("path_params") or {}).items()},
            status=status,
            result="ok" if status < 400 else "refused" if status < 500 else "error",
            message=_message(body) if status >= 400 else "",
            detail=dict(state.get("audit") or {}),
        )
        try:
            await audit.record(entry)
        except ServiceUnavailableError as e:
            log.warning("audit entry of %s %s by %s lost: %s", method, path, entry.who, e)


def _message(body: bytes) -> str:
    try:
        err = json.loads(body).get("error") or {}
        return str(err.get("message", ""))[:500]
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")
