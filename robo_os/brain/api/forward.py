"""With several brains (`ha.enabled`), every brain serves the whole API: a brain that does
not lead forwards each /v1 request to the one that does (brain/runtime/leadership.py),
streams included, and answers with the leader's response, so an app may talk to any
brain behind one load balancer.

While no brain leads, or the leader does not answer (it died and its lease has not lapsed
yet: a few seconds), reads (GET, HEAD) are answered here from Redis, where every task
lives; a request that changes something gets 503 with `Retry-After`, and nothing of it
is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .handlers import error_response

__all__ = ["BRAIN_HEADER", "FORWARDED_BY", "LeaderForward", "forwarded_by", "forwarding_client"]

log = logging.getLogger(__name__)

FORWARDED_BY = "x-robo-os-forwarded-by"
"""Set on a forwarded request (the brain that forwarded it): forwarded once, never again."""
BRAIN_HEADER = "x-robo-os-brain"
"""On a forwarded response: the brain that answered it."""
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade",
    }
)
"""Headers of one connection, not of the request or response: not passed on."""
_NOT_SENT = _HOP_BY_HOP | {"host", "content-length"}
"""Request headers httpx sets itself for the forwarded request."""
_READS = ("GET", "HEAD")


class LeaderForward:
    """ASGI middleware: /v1 requests to a follower go to the leader."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        runtime = getattr(scope["app"].state, "runtime", None)
        lead = None if runtime is None else runtime.leadership
        if runtime is None or lead is None or lead.leading:
            await self.app(scope, receive, send)
            return
        leader = lead.leader
        forwarded = forwarded_by(scope) is not None
        if leader is None or leader.brain_id == lead.brain or forwarded:
            if scope["method"] in _READS:
                await self.app(scope, receive, send)  # read from Redis, here
                return
            who = "no brain leads yet" if leader is None or leader.brain_id == lead.brain else (
                f"{leader.brain_id} is not leading any more"
            )
            response = error_response(
                503,
                "service_unavailable",
                f"brain {lead.brain} does not lead and {who}: another brain takes over within"
                f" {lead.ttl_s:g} s; retry",
                headers={"Retry-After": str(max(1, round(lead.ttl_s)))},
            )
            await response(scope, receive, send)
            return
        await self._forward(
            runtime.forwarder, scope, receive, send, leader.url, leader.brain_id, lead.brain
        )

    async def _forward(
        self,
        client: httpx.AsyncClient,
        scope: Scope,
        receive: Receive,
        send: Send,
        url: str,
        leader: str,
        me: str,
    ) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _NOT_SENT
        ]
        headers.append((FORWARDED_BY, me))
        query = scope.get("query_string", b"").decode("latin-1")
        target = f"{url}{scope.get('root_path', '')}{scope['path']}" + (f"?{query}" if query else "")
        request = client.build_request(scope["method"], target, headers=headers, content=bytes(body))
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as e:
            log.warning(
                "forwarding %s %s to %s (%s) failed: %s", scope["method"], scope["path"], leader, url, e
            )
            if scope["method"] in _READS:  # answered here, from Redis

                async def replay() -> Message:
                    return {"type": "http.request", "body": bytes(body), "more_body": False}

                await self.app(scope, replay, send)
                return
            refused = error_response(
                503,
                "service_unavailable",
                f"the leading brain {leader} ({url}) did not answer: {type(e).__name__}: {e};"
                " another brain takes over if it is gone; retry",
                headers={"Retry-After": "1"},
            )
            await refused(scope, receive, send)
            return
        try:
            await self._relay(response, receive, send, leader)
        finally:
            await response.aclose()

    async def _relay(
        self, response: httpx.Response, receive: Receive, send: Send, leader: str
    ) -> None:
        out = [
            (k, v) for k, v in response.headers.raw if k.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        out.append((BRAIN_HEADER.encode(), leader.encode("latin-1")))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})

        async def body() -> None:
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def gone() -> None:
            # the client hung up (an event stream it stopped reading): stop relaying
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    return

        relaying = asyncio.create_task(body())
        watching = asyncio.create_task(gone())
        try:
            await asyncio.wait({relaying, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for job in (relaying, watching):
                job.cancel()
            for job in (relaying, watching):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await job
        if relaying.done() and not relaying.cancelled() and relaying.exception() is not None:
            log.warning("relaying the leader's response failed: %s", relaying.exception())


def forwarding_client() -> httpx.AsyncClient:
    """The client a follower forwards with (`BrainRuntime.forwarder`). No overall timeout:
    /wait and /events hold a response open as long as the client asks; connecting must
    be quick."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(None, connect=3.0),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
    )


def forwarded_by(scope: Scope) -> str | None:
    """The brain that forwarded this request, if one did."""
    for k, v in scope["headers"]:
        if k.decode("latin-1").lower() == FORWARDED_BY:
            return str(v.decode("latin-1"))
    return None
