"""A scripted OpenAI-compatible HTTP server: real HTTP, for the real `openai` client.

For testing planners and apps without a model: the brain (or any OpenAI client) talks to
it exactly as to vLLM or a hosted model, and the test decides every answer.

    server = ScriptedModelServer().start()       # or `with ScriptedModelServer() as server:`
    server.script(Reply.tool_call({"subtasks": [...]}), Reply.text("oops"), Reply.error(503))
    ... AsyncOpenAI(base_url=server.base_url, api_key="x") ...
    server.chat_requests[0]["messages"]          # what the client sent
    server.stop()

Serves `POST /v1/chat/completions` (scripted replies, in order; then `default`, or a
`responder(request) -> Reply` callable), `GET /v1/models`. Every request is recorded
(path, JSON body, headers). `Reply.stall()` holds a request open until `release()` or
`stop()` (for client timeouts, without any sleeping in the test); `set_down(True)`
makes every endpoint answer 503; `stop()` closes the port (connection refused).

The server runs uvicorn in a thread on a socket bound before the thread starts, so it
is reachable as soon as `start()` returns: connections wait in the listen backlog.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["RecordedRequest", "Reply", "ScriptedModelServer"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer to a chat completion request."""

    kind: str
    content: str | None = None
    tool_name: str = "submit_plan"
    arguments: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    message: str = ""
    delay_s: float = 0.0
    """Server-side delay before answering (latency simulation; tests never wait on it)."""
    usage: tuple[int, int] = (120, 40)

    @classmethod
    def tool_call(
        cls,
        arguments: str | dict[str, Any],
        *,
        name: str = "submit_plan",
        content: str | None = None,
        **kw: Any,
    ) -> Reply:
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        kw.setdefault("finish_reason", "tool_calls")
        return cls("tool", content=content, tool_name=name, arguments=args, **kw)

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        return cls("text", content=content, **kw)

    @classmethod
    def error(cls, status: int = 500, message: str = "scripted failure", **kw: Any) -> Reply:
        return cls("error", status=status, message=message, **kw)

    @classmethod
    def stall(cls) -> Reply:
        """Never answer on its own: the request stays open until release() or stop()."""
        return cls("stall")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    ts: float = field(default_factory=time.time)


class ScriptedModelServer:
    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("fake-model",),
        default: Reply | None = None,
        responder: Callable[[RecordedRequest], Reply | None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.models = models
        self.default = default
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self._queue: list[Reply] = []
        self._lock = threading.Condition()
        self._release = threading.Event()
        self._down = False
        self._ids = itertools.count(1)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.host, self.port = self._sock.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ScriptedModelServer:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._sock.listen(64)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"scripted-model-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled requests, stop serving and close the port."""
        self._release.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self._server = self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------
    def script(self, *replies: Reply) -> ScriptedModelServer:
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def set_down(self, down: bool = True) -> None:
        """While down, every request gets HTTP 503 (the port stays open)."""
        self._down = down

    def release(self) -> None:
        """Let stalled requests finish (they answer 504)."""
        self._release.set()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_for_requests(self, n: int, timeout_s: float = 30.0) -> list[RecordedRequest]:
        """Block until at least n requests arrived (raises TimeoutError after timeout_s)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= n, timeout=timeout_s):
                raise TimeoutError(
                    f"{len(self.requests)} of {n} requests arrived within {timeout_s} s"
                )
            return list(self.requests)

    async def await_requests(self, n: int, timeout_s: float = 30.0) -> list[RecordedRequest]:
        return await asyncio.to_thread(self.wait_for_requests, n, timeout_s)

    # -- handlers ------------------------------------------------------------------------------
    def _record(self, request: Request, body: Any) -> RecordedRequest:
        rec = RecordedRequest(
            request.method,
            request.url.path,
            body,
            {k.lower(): v for k, v in request.headers.items()},
        )
        with self._lock:
            self.requests.append(rec)
            self._lock.notify_all()
        return rec

    @staticmethod
    def _error(status: int, message: str) -> JSONResponse:
        return JSONResponse(
            {"error": {"message": message, "type": "server_error", "param": None, "code": None}},
            status_code=status,
        )

    async def _models(self, request: Request) -> JSONResponse:
        self._record(request, None)
        if self._down:
            return self._error(503, "server is down (scripted)")
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                    for m in self.models
                ],
            }
        )

    def _next_reply(self, rec: RecordedRequest) -> Reply | None:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        if self.responder is not None:
            reply = self.responder(rec)
            if reply is not None:
                return reply
        return self.default

    async def _chat(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        rec = self._record(request, body)
        if self._down:
            return self._error(503, "server is down (scripted)")
        if not isinstance(body, dict) or "messages" not in body or "model" not in body:
            return self._error(400, "request must be a JSON object with 'model' and 'messages'")
        reply = self._next_reply(rec)
        if reply is None:
            return self._error(500, "the fake server has no scripted reply left for this request")
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.kind == "stall":
            await asyncio.to_thread(self._release.wait)
            return self._error(504, "stalled request released")
        if reply.kind == "error":
            return self._error(reply.status, reply.message)
        n = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.kind == "tool":
            message["tool_calls"] = [
                {
                    "id": f"call_{n}",
                    "type": "function",
                    "function": {"name": reply.tool_name, "arguments": reply.arguments or ""},
                }
            ]
        prompt_tokens, completion_tokens = reply.usage
        return JSONResponse(
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": reply.finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )
