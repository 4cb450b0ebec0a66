"""Request size limits, enforced while the body is read (a 50 MB body is refused after
the first `max_body_bytes`, never parsed whole)."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .handlers import error_response

__all__ = ["BodySizeLimit"]

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Answers 413 naming the limit when a request body is larger than `max_bytes`.

    A declared `Content-Length` over the limit is refused before any byte is read; any
    other body is read here up to the limit (so at most `max_bytes` are ever buffered)
    and then handed to the app unchanged.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, declared)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, None)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, declared: int | None
    ) -> None:
        size = f"{declared} bytes" if declared is not None else "more"
        log.warning(
            "%s %s: body of %s refused (limit %d bytes)",
            scope.get("method"),
            scope.get("path"),
            size,
            self.max_bytes,
        )
        response = error_response(
            413,
            "body_too_large",
            f"request body too large: {size} > api.max_body_bytes = {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
