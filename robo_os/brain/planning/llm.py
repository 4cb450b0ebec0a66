"""Model access: a pool of OpenAI-compatible endpoints (replicas of one model server).

The real `openai` client (AsyncOpenAI) talks to each endpoint; the pool adds what a
fleet's brain needs around it:

- **failover**: a call tries the healthy endpoints in turn (round-robin start, so load
  spreads over replicas), then the ones marked down;
- **health**: an endpoint that fails `failure_threshold` times in a row is marked down
  for a cool-down that doubles on each further failure; once it has cooled down it is
  probed (`GET /v1/models`) before it gets a real call again;
- **retries** with exponential backoff and jitter between rounds over all endpoints,
  for transient errors only (timeouts, connection errors, 408/409/429/5xx);
- **a concurrency limit** (one semaphore for the pool) and a **timeout** per request;
- **metrics**: every request's endpoint, latency, outcome and token counts;
- **request formats every server accepts**: a server that answers but refuses the
  request (a 4xx, or a 5xx naming validation errors, as llama-cpp-python's server does)
  is not counted as down. The request is sent again, once per step and remembered per
  endpoint, in a plainer format: the schema as llama-cpp-python's `json_object` form,
  then without it (when the refusal names `response_format`/schema/grammar), with
  earlier tool-call turns as plain text, then without tools (text mode, the tool's
  schema as `response_format`). Every step is a note on the reply; when nothing is
  accepted, `ModelRequestError` says why.

The client's own retries are off: the pool decides where the next attempt goes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from ... import tracing
from ...errors import ModelRequestError, ModelUnavailableError
from ...settings import LLMSettings
from .llm_metrics import CallRecord, EndpointHealth, LLMMetrics

__all__ = [
    "CallRecord",
    "ChatReply",
    "EndpointHealth",
    "LLMMetrics",
    "LLMPool",
    "json_schema_format",
    "plain_messages",
    "plain_schema",
]

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({408, 409, 429})
_REQUEST_STATUS = frozenset({400, 413, 415, 422})
"""Statuses that say the request is wrong, never the server."""
_VALIDATION = re.compile(
    r"validation error|input should be|field required|extra inputs|extra_forbidden|"
    r"invalid request|not supported|unsupported|response_format|json_schema|grammar|"
    r"tool_call|roles must alternate|chat template",
    re.IGNORECASE,
)
"""A 5xx whose message matches is a refused request (llama-cpp-python answers its
pydantic validation errors with 500), not a server in trouble."""
_SCHEMA = re.compile(r"response_format|json_schema|schema|grammar|guided|\$defs|anyOf", re.I)


@dataclass(frozen=True)
class ChatReply:
    """One chat completion, reduced to what planning needs."""

    text: str | None
    tool_name: str | None
    tool_arguments: str | None
    tool_call_id: str | None
    finish_reason: str | None
    endpoint: str
    model: str
    latency_s: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    notes: tuple[str, ...] = ()
    """How the request had to be changed before this endpoint accepted it."""


@dataclass
class _Endpoint:
    base_url: str
    model: str
    client: AsyncOpenAI
    failures: int = 0
    down_until: float = 0.0
    cooldown_s: float = 0.0
    last_error: str | None = None
    # what this server refused once and is not sent again (see the module docstring)
    json_schema: bool = True
    json_object: bool = True
    """`response_format` json_object with a `schema` (llama-cpp-python's own form)."""
    tool_turns: bool = True
    tools: bool = True

    @property
    def name(self) -> str:
        return self.base_url

    @property
    def adaptations(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, ok in (
                ("json_object_schema", self.json_schema or not self.json_object),
                ("no_json_schema", self.json_object),
                ("plain_tool_turns", self.tool_turns),
                ("text_mode", self.tools),
            )
            if not ok
        )


class _AttemptError(Exception):
    def __init__(self, message: str, *, retryable: bool, request: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.request = request
        """The server answered and refused the request's format."""


def _describe(e: BaseException) -> tuple[str, bool, bool]:
    """A short description of a failed request, whether trying again may help, and
    whether the server refused the request itself (its format, not its health)."""
    if isinstance(e, openai.APITimeoutError | TimeoutError):
        return "timed out", True, False
    if isinstance(e, openai.APIConnectionError):
        return f"connection failed ({e.__cause__ or e})", True, False
    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        message = str(e.message)
        body = " ".join(message.split())[:300]
        refused = status in _REQUEST_STATUS or (status >= 500 and bool(_VALIDATION.search(message)))
        retryable = not refused and (status in _RETRYABLE_STATUS or status >= 500)
        return f"HTTP {status}: {body}", retryable, refused
    return f"{type(e).__name__}: {e}", False, False


@dataclass(frozen=True)
class _Request:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    tool_choice: dict[str, Any] | str | None
    response_format: dict[str, Any] | None


def json_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """`response_format` asking for JSON that follows `schema` (OpenAI's form, which
    vLLM, SGLang and llama.cpp's server accept)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def plain_schema(schema: Any) -> Any:
    """The schema's shape without what grammar-less servers refuse: enums, consts,
    `$defs`/`$ref` (a name becomes a string) and `anyOf` (object variants are merged)."""
    if isinstance(schema, list):
        return [plain_schema(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return {"type": "string"}
    variants = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(variants, list):
        plain = [plain_schema(v) for v in variants]
        if plain and all(isinstance(v, dict) and v.get("type") == "object" for v in plain):
            props: dict[str, Any] = {}
            for v in plain:
                for k, p in (v.get("properties") or {}).items():
                    props.setdefault(k, p)
            return {"type": "object", "properties": props}
        return {}
    drop = {"enum", "const", "$defs", "anyOf", "oneOf", "not", "pattern", "format"}
    return {k: plain_schema(v) for k, v in schema.items() if k not in drop}


def plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation without tool turns: an assistant's tool call becomes its text
    (the arguments), a tool result becomes a user turn; neighbouring turns of one role
    are joined (some chat templates insist that roles alternate)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "tool":
            m = {"role": "user", "content": str(m.get("content") or "")}
        elif role == "assistant" and m.get("tool_calls"):
            calls = [c.get("function", {}) for c in m["tool_calls"] if isinstance(c, dict)]
            text = "\n".join(
                [str(m.get("content") or "")] + [str(fn.get("arguments") or "") for fn in calls]
            ).strip()
            m = {"role": "assistant", "content": text}
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.get("role") == m.get("role") != "system"
            and isinstance(prev.get("content"), str)
            and isinstance(m.get("content"), str)
        ):
            out[-1] = {**prev, "content": f"{prev['content']}\n\n{m['content']}"}
        else:
            out.append(dict(m))
    return out


def _normalised(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assistant content as a string (servers that validate refuse null)."""
    return [
        {**m, "content": ""} if m.get("role") == "assistant" and m.get("content") is None else m
        for m in messages
    ]


def _has_tool_turns(messages: list[dict[str, Any]]) -> bool:
    return any(m.get("role") == "tool" or m.get("tool_calls") for m in messages)


def _forced_tool(req: _Request) -> dict[str, Any] | None:
    """The tool the request forces (or its only tool)."""
    tools = req.tools or []
    name = None
    if isinstance(req.tool_choice, dict):
        name = (req.tool_choice.get("function") or {}).get("name")
    for t in tools:
        fn = t.get("function") or {}
        if name is None or fn.get("name") == name:
            return dict(fn)
    return None


class LLMPool:
    """Chat completions over the configured endpoints with health, failover and retries.

    Owns its `AsyncOpenAI` clients: call `close()` when done."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        failure_threshold: int = 2,
        cooldown_s: float = 5.0,
        max_cooldown_s: float = 120.0,
        backoff_s: float = 0.25,
        max_backoff_s: float = 4.0,
        probe_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.enabled:
            raise ModelUnavailableError("no model endpoint configured (set ROBO_OS_LLM__BASE_URL)")
        self.settings = settings
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.probe_timeout_s = probe_timeout_s
        self.metrics = LLMMetrics()
        self._clock = clock
        self._rng = rng or random.Random()
        self._sem = asyncio.Semaphore(settings.max_concurrency)
        self._next = 0
        specs: list[tuple[str, str | None, str | None]] = []
        if settings.base_url:
            key = settings.api_key.get_secret_value() if settings.api_key else None
            specs.append((settings.base_url, settings.model, key))
        for rep in settings.replicas:
            key = rep.api_key.get_secret_value() if rep.api_key else None
            if key is None and settings.api_key is not None:
                key = settings.api_key.get_secret_value()
            specs.append((rep.base_url, rep.model or settings.model, key))
        self.endpoints: list[_Endpoint] = []
        for base_url, model, key in specs:
            if not model:
                raise ModelUnavailableError(
                    f"endpoint {base_url}: no model name configured (ROBO_OS_LLM__MODEL)"
                )
            client = AsyncOpenAI(
                base_url=base_url,
                # OpenAI-compatible servers without auth (vLLM, llama.cpp) accept any key
                api_key=key or "not-needed",
                timeout=settings.timeout_s,
                max_retries=0,
            )
            self.endpoints.append(_Endpoint(base_url, model, client))

    @property
    def model(self) -> str:
        return self.endpoints[0].model

    async def close(self) -> None:
        for ep in self.endpoints:
            await ep.client.close()

    # -- health --------------------------------------------------------------------------
    def _healthy(self, ep: _Endpoint) -> bool:
        return ep.failures < self.failure_threshold

    def _mark_failed(self, ep: _Endpoint, error: str) -> None:
        ep.failures += 1
        ep.last_error = error
        if ep.failures >= self.failure_threshold:
            ep.cooldown_s = min(
                self.max_cooldown_s, ep.cooldown_s * 2 if ep.cooldown_s else self.cooldown_s
            )
            ep.down_until = self._clock() + ep.cooldown_s
            log.warning(
                "model endpoint %s marked down for %.1f s after %d failures: %s",
                ep.name,
                ep.cooldown_s,
                ep.failures,
                error,
            )

    def _mark_ok(self, ep: _Endpoint) -> None:
        if not self._healthy(ep):
            log.info("model endpoint %s is back", ep.name)
        ep.failures = 0
        ep.cooldown_s = 0.0
        ep.down_until = 0.0
        ep.last_error = None

    async def probe(self, ep: _Endpoint) -> bool:
        """Ask an endpoint for its models; a good answer brings it back."""
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                await ep.client.models.list(timeout=self.probe_timeout_s)
        except Exception as e:  # any failure means: still down
            error, _, _ = _describe(e)
            self.metrics.record(
                CallRecord(
                    time.time(),
                    ep.name,
                    ep.model,
                    time.perf_counter() - t0,
                    False,
                    f"probe: {error}",
                )
            )
            self._mark_failed(ep, f"probe: {error}")
            return False
        self._mark_ok(ep)
        return True

    def health(self) -> list[EndpointHealth]:
        now = self._clock()
        return [
            EndpointHealth(
                ep.name,
                ep.model,
                self._healthy(ep),
                ep.failures,
                max(0.0, ep.down_until - now),
                ep.last_error,
                ep.adaptations,
            )
            for ep in self.endpoints
        ]

    def _order(self) -> list[_Endpoint]:
        healthy = [ep for ep in self.endpoints if self._healthy(ep)]
        if healthy:
            start = self._next % len(healthy)
            self._next += 1
            healthy = healthy[start:] + healthy[:start]
        down = sorted(
            (ep for ep in self.endpoints if not self._healthy(ep)), key=lambda ep: ep.down_until
        )
        return healthy + down

    # -- calls -----------------------------------------------------------------------------
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: dict[str, Any] | str | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> ChatReply:
        """One chat completion from whichever endpoint answers; raises
        ModelRequestError when every endpoint tried refused the request's format, else
        ModelUnavailableError (naming every endpoint's last error) if none answers."""
        request = _Request(_normalised(messages), tools, tool_choice, response_format)
        errors: dict[str, str] = {}
        refused: set[str] = set()
        now = self._clock()
        for ep in self.endpoints:
            # half-open: a down endpoint whose cool-down is over is probed, so it rejoins
            # the rotation as soon as it answers again (not only when the others fail)
            if not self._healthy(ep) and now >= ep.down_until:
                await self.probe(ep)
        rounds = self.settings.max_retries + 1
        for round_no in range(rounds):
            if round_no:
                self.metrics.retries += 1
                cap = min(self.max_backoff_s, self.backoff_s * 2 ** (round_no - 1))
                # equal jitter: replicas that failed together are not retried in lockstep
                await asyncio.sleep(cap / 2 + self._rng.random() * cap / 2)
            retryable = False
            for i, ep in enumerate(self._order()):
                if i:
                    self.metrics.failovers += 1
                if not self._healthy(ep):
                    if self._clock() < ep.down_until and any(
                        self._healthy(e) for e in self.endpoints
                    ):
                        continue  # still cooling down and others are up: leave it alone
                    if not await self.probe(ep):
                        errors[ep.name] = ep.last_error or "down"
                        retryable = True
                        continue
                try:
                    return await self._call_adapting(ep, request)
                except _AttemptError as e:
                    errors[ep.name] = str(e)
                    retryable = retryable or e.retryable
                    if e.request:
                        refused.add(ep.name)
                    else:
                        refused.discard(ep.name)
            if not retryable:
                break
        detail = (
            "; ".join(f"{name}: {err}" for name, err in errors.items())
            or "no endpoint could be tried"
        )
        if errors and refused >= set(errors):
            raise ModelRequestError(
                f"the model server refused the request's format in every form tried ({detail})"
            )
        raise ModelUnavailableError(f"no model endpoint answered ({detail})")

    # -- request formats -----------------------------------------------------------------
    def _adapted(self, ep: _Endpoint, req: _Request) -> _Request:
        """The request in the plainest form this endpoint has asked for so far."""
        messages, tools, choice, fmt = req.messages, req.tools, req.tool_choice, req.response_format
        if tools and not ep.tools:
            fn = _forced_tool(req)
            tools = choice = None
            if fn is not None:
                if fmt is None and isinstance(fn.get("parameters"), dict):
                    fmt = json_schema_format(str(fn.get("name")), fn["parameters"])
                hint = (
                    f"(Tool calls are not available: reply with only the JSON object you would"
                    f" pass to {fn.get('name')}, and nothing else.)"
                )
                messages = [*messages, {"role": "user", "content": hint}]
        if not ep.tool_turns or not ep.tools:
            messages = plain_messages(messages)
        if not ep.json_schema and fmt is not None and fmt.get("type") == "json_schema":
            # llama-cpp-python's server takes the schema this way (and grammar-constrains)
            schema = (fmt.get("json_schema") or {}).get("schema")
            fmt = {"type": "json_object", "schema": schema} if ep.json_object else None
        if not ep.json_object:
            if fmt is not None and "schema" in fmt:
                fmt = None
            if tools:
                tools = [
                    {
                        **t,
                        "function": {
                            **t["function"],
                            "parameters": plain_schema(t["function"].get("parameters") or {}),
                        },
                    }
                    for t in tools
                ]
        return _Request(messages, tools, choice, fmt)

    def _learn(self, ep: _Endpoint, sent: _Request, e: _AttemptError) -> str | None:
        """After a refused request: the next plainer format to try on this endpoint (a
        note saying so), or None when there is none left."""
        error = str(e)
        fmt = sent.response_format or {}
        schema_in_tools = any(
            isinstance(t.get("function", {}).get("parameters"), dict) for t in sent.tools or []
        )
        if ep.json_schema and fmt.get("type") == "json_schema" and _SCHEMA.search(error):
            ep.json_schema = False
            step = "sent again with the schema as response_format json_object (llama-cpp-python's form)"
        elif ep.json_object and ("schema" in fmt or schema_in_tools) and _SCHEMA.search(error):
            ep.json_schema = ep.json_object = False
            step = "sent again without the JSON schema (output not constrained)"
        elif ep.tool_turns and ep.tools and _has_tool_turns(sent.messages):
            ep.tool_turns = False
            step = "sent again with the earlier tool-call turns as plain text"
        elif ep.tools and sent.tools:
            ep.tools = False
            step = "sent again in text mode (no tools)"
        else:
            return None
        self.metrics.format_fallbacks += 1
        log.warning(
            "model endpoint %s refused the request (%s); %s, from now on for this endpoint",
            ep.name,
            error,
            step,
        )
        return f"{ep.name} refused the request ({error[:160]}); {step}"

    async def _call_adapting(self, ep: _Endpoint, request: _Request) -> ChatReply:
        notes: list[str] = []
        while True:
            sent = self._adapted(ep, request)
            try:
                reply = await self._call(ep, sent)
            except _AttemptError as e:
                if not e.request:
                    raise
                self.metrics.request_errors += 1
                note = self._learn(ep, sent, e)
                if note is None:
                    raise
                notes.append(note)
                continue
            return dataclasses.replace(reply, notes=tuple(notes)) if notes else reply

    async def _call(self, ep: _Endpoint, req: _Request) -> ChatReply:
        """One request to one endpoint, as a `model_call` span (a child of the plan's)."""
        with tracing.span("model_call", endpoint=ep.name, model=ep.model) as span:
            reply = await self._call_once(ep, req)
            span.set_attribute("gen_ai.usage.input_tokens", reply.prompt_tokens or 0)
            span.set_attribute("gen_ai.usage.output_tokens", reply.completion_tokens or 0)
            span.set_attribute("robo_os.finish_reason", reply.finish_reason or "")
            return reply

    async def _call_once(self, ep: _Endpoint, req: _Request) -> ChatReply:
        kwargs: dict[str, Any] = {
            "model": ep.model,
            "messages": req.messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if req.tools:
            kwargs["tools"] = req.tools
            if req.tool_choice is not None:
                kwargs["tool_choice"] = req.tool_choice
        if req.response_format is not None:
            kwargs["response_format"] = req.response_format
        async with self._sem:
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(self.settings.timeout_s + 1.0):
                    resp = await ep.client.chat.completions.create(**kwargs)
                if not resp.choices:
                    raise _AttemptError("the response has no choices", retryable=True)
            except _AttemptError as e:
                self._fail(ep, t0, str(e))
                raise
            except Exception as e:  # every client/transport error becomes an attempt error
                error, retryable, refused = _describe(e)
                # a request the server rejects (400, 401, 404, a 500 naming validation
                # errors, ...) says nothing about its health
                self._fail(ep, t0, error, unhealthy=retryable)
                raise _AttemptError(error, retryable=retryable, request=refused) from e
            latency = time.perf_counter() - t0
        choice = resp.choices[0]
        msg = choice.message
        name = args = call_id = None
        for call in msg.tool_calls or []:
            fn = getattr(call, "function", None)
            if fn is not None:
                name, args, call_id = fn.name, fn.arguments, call.id
                break
        usage = resp.usage
        rec = CallRecord(
            time.time(),
            ep.name,
            ep.model,
            latency,
            True,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=choice.finish_reason,
        )
        self.metrics.record(rec)
        self._mark_ok(ep)
        log.debug(
            "model call to %s took %.3f s (%s prompt / %s completion tokens)",
            ep.name,
            latency,
            rec.prompt_tokens,
            rec.completion_tokens,
        )
        return ChatReply(
            text=msg.content,
            tool_name=name,
            tool_arguments=args,
            tool_call_id=call_id,
            finish_reason=choice.finish_reason,
            endpoint=ep.name,
            model=ep.model,
            latency_s=latency,
            prompt_tokens=rec.prompt_tokens,
            completion_tokens=rec.completion_tokens,
        )

    def _fail(self, ep: _Endpoint, t0: float, error: str, *, unhealthy: bool = True) -> None:
        self.metrics.record(
            CallRecord(time.time(), ep.name, ep.model, time.perf_counter() - t0, False, error)
        )
        if unhealthy:
            self._mark_failed(ep, error)
        else:
            ep.last_error = error
        log.warning("model call to %s failed: %s", ep.name, error)
