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

`strict=True` validates every chat request as llama.cpp's server (llama-cpp-python
0.3.x), vLLM and SGLang do and answers HTTP 500 with a pydantic-style "N validation
errors" message otherwise (`validate_chat_request` lists the rules);
`json_schema=False` makes it refuse `response_format` JSON schemas and schema-bearing
tool parameters as a server without grammar support does; `tool_messages=False`
refuses `tool` turns and assistant `tool_calls` in the history (a server whose chat
template has no tool role).

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

__all__ = ["RecordedRequest", "Reply", "ScriptedModelServer", "validate_chat_request"]


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


_ROLES = ("system", "user", "assistant", "tool")
_FORMATS = ("text", "json_object", "json_schema")


def _content_errors(where: str, content: Any, *, parts: bool) -> list[str]:
    if isinstance(content, str):
        return []
    if parts and isinstance(content, list):
        errors = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url" and isinstance(part.get("image_url"), dict):
                continue
            errors.append(f"{where}.content.{j}: Input should be a text or image_url content part")
        return errors
    return [f"{where}.content: Input should be a valid string"]


def validate_chat_request(
    body: dict[str, Any], *, json_schema: bool = True, tool_messages: bool = True
) -> list[str]:
    """What llama.cpp's server (and vLLM, SGLang) would refuse in a chat request, one
    line per problem: roles only system/user/assistant/tool; a system message only
    first; string content (user content may be text/image parts); after an assistant
    message with `tool_calls`, one `tool` message per call with the matching
    `tool_call_id`, before any other turn; a `tool` message only answering such a call;
    `response_format` of type text/json_object/json_schema, a json_schema with a `name`
    and an object `schema`; tools of type function with object parameters;
    `tool_choice` naming an offered tool."""
    errors: list[str] = []
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["messages: Input should be a non-empty list"]
    pending: list[str] = []
    for i, m in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(m, dict):
            errors.append(f"{where}: Input should be an object")
            continue
        role = m.get("role")
        if role not in _ROLES or (not tool_messages and role == "tool"):
            allowed = [r for r in _ROLES if tool_messages or r != "tool"]
            errors.append(f"{where}.role: Input should be " + ", ".join(repr(r) for r in allowed))
            continue
        if pending and role != "tool":
            errors.append(
                f"{where}: tool call(s) {', '.join(pending)} of the assistant message before"
                " have no tool result message"
            )
            pending = []
        if role == "system":
            if i != 0:
                errors.append(f"{where}.role: a system message is only allowed first")
            errors += _content_errors(where, m.get("content"), parts=False)
        elif role == "user":
            errors += _content_errors(where, m.get("content"), parts=True)
        elif role == "assistant":
            calls = m.get("tool_calls")
            if "content" not in m:  # llama-cpp-python requires the key, tool calls or not
                errors.append(f"{where}.content: Field required")
            else:
                errors += _content_errors(where, m.get("content"), parts=False)
            if calls is not None:
                if not tool_messages:
                    errors.append(f"{where}.tool_calls: Extra inputs are not permitted")
                elif not isinstance(calls, list) or not calls:
                    errors.append(f"{where}.tool_calls: Input should be a non-empty list")
                else:
                    for j, c in enumerate(calls):
                        fn = c.get("function") if isinstance(c, dict) else None
                        if (
                            not isinstance(c, dict)
                            or not isinstance(c.get("id"), str)
                            or c.get("type") != "function"
                            or not isinstance(fn, dict)
                            or not isinstance(fn.get("name"), str)
                            or not isinstance(fn.get("arguments"), str)
                        ):
                            errors.append(
                                f"{where}.tool_calls.{j}: Input should be"
                                " {id: str, type: 'function', function: {name: str, arguments: str}}"
                            )
                        else:
                            pending.append(c["id"])
        else:  # tool
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str):
                errors.append(f"{where}.tool_call_id: Field required")
            elif call_id not in pending:
                errors.append(
                    f"{where}.tool_call_id: {call_id!r} answers no tool call of the assistant"
                    " message before"
                )
            else:
                pending.remove(call_id)
            errors += _content_errors(where, m.get("content"), parts=False)
    if pending:
        errors.append(f"messages: tool call(s) {', '.join(pending)} have no tool result message")
    errors += _format_errors(body.get("response_format"), json_schema=json_schema)
    errors += _tool_errors(body, json_schema=json_schema)
    return errors


def _format_errors(fmt: Any, *, json_schema: bool) -> list[str]:
    if fmt is None:
        return []
    if not isinstance(fmt, dict) or fmt.get("type") not in _FORMATS:
        return [f"response_format.type: Input should be {', '.join(map(repr, _FORMATS))}"]
    if fmt["type"] != "json_schema":
        if not json_schema and fmt.get("schema") is not None:
            return ["response_format.schema: JSON schemas are not supported by this server"]
        return []
    if not json_schema:
        return ["response_format: json_schema is not supported by this server"]
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        return ["response_format.json_schema: Field required"]
    errors = []
    if not isinstance(spec.get("name"), str) or not spec["name"]:
        errors.append("response_format.json_schema.name: Field required")
    if not isinstance(spec.get("schema"), dict):
        errors.append("response_format.json_schema.schema: Input should be a valid dictionary")
    return errors


def _tool_errors(body: dict[str, Any], *, json_schema: bool) -> list[str]:
    tools = body.get("tools")
    errors = []
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            return ["tools: Input should be a valid list"]
        for j, t in enumerate(tools):
            fn = t.get("function") if isinstance(t, dict) else None
            if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
                errors.append(f"tools.{j}: Input should be {{type: 'function', function: {{...}}}}")
                continue
            if not isinstance(fn.get("name"), str):
                errors.append(f"tools.{j}.function.name: Field required")
                continue
            names.append(fn["name"])
            params = fn.get("parameters")
            if params is not None and not isinstance(params, dict):
                errors.append(f"tools.{j}.function.parameters: Input should be a valid dictionary")
            elif not json_schema and isinstance(params, dict) and _constrains(params):
                errors.append(
                    f"tools.{j}.function.parameters: schema keywords enum/anyOf/$defs are not"
                    " supported by this server's grammar"
                )
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if name not in names:
            errors.append(f"tool_choice: {name!r} is not one of the tools offered")
    elif choice is not None and choice not in ("none", "auto", "required"):
        errors.append("tool_choice: Input should be 'none', 'auto', 'required' or a function")
    return errors


def _constrains(schema: Any) -> bool:
    """Whether a schema uses what grammar-less servers refuse (enum, anyOf, $defs, const)."""
    if isinstance(schema, dict):
        if {"enum", "anyOf", "$defs", "const", "$ref"} & set(schema):
            return True
        return any(_constrains(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_constrains(v) for v in schema)
    return False


class ScriptedModelServer:
    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("fake-model",),
        default: Reply | None = None,
        responder: Callable[[RecordedRequest], Reply | None] | None = None,
        host: str = "127.0.0.1",
        strict: bool = False,
        json_schema: bool = True,
        tool_messages: bool = True,
    ) -> None:
        self.models = models
        self.strict = strict
        self.json_schema = json_schema
        self.tool_messages = tool_messages
        self.rejected: list[list[str]] = []
        """The validation errors of each request strict mode refused, in order."""
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
        if self.strict:
            errors = validate_chat_request(
                body, json_schema=self.json_schema, tool_messages=self.tool_messages
            )
            if errors:
                with self._lock:
                    self.rejected.append(errors)
                # llama-cpp-python answers pydantic's validation errors with a 500
                return self._error(
                    500,
                    f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} for"
                    " CreateChatCompletionRequest\n" + "\n".join(errors),
                )
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
