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
- **metrics**: every request's endpoint, latency, outcome and token counts.

The client's own retries are off: the pool decides where the next attempt goes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from ...errors import ModelUnavailableError
from ...settings import LLMSettings
from .llm_metrics import CallRecord, EndpointHealth, LLMMetrics

__all__ = ["CallRecord", "ChatReply", "EndpointHealth", "LLMMetrics", "LLMPool"]

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({408, 409, 429})


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


@dataclass
class _Endpoint:
    base_url: str
    model: str
    client: AsyncOpenAI
    failures: int = 0
    down_until: float = 0.0
    cooldown_s: float = 0.0
    last_error: str | None = None

    @property
    def name(self) -> str:
        return self.base_url


class _AttemptError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _describe(e: BaseException) -> tuple[str, bool]:
    """A short description of a failed request and whether trying again may help."""
    if isinstance(e, openai.APITimeoutError | TimeoutError):
        return "timed out", True
    if isinstance(e, openai.APIConnectionError):
        return f"connection failed ({e.__cause__ or e})", True
    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        body = str(e.message)[:200]
        return f"HTTP {status}: {body}", status in _RETRYABLE_STATUS or status >= 500
    return f"{type(e).__name__}: {e}", False


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
            error, _ = _describe(e)
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
        ModelUnavailableError (naming every endpoint's last error) if none does."""
        errors: dict[str, str] = {}
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
                    return await self._call(ep, messages, tools, tool_choice, response_format)
                except _AttemptError as e:
                    errors[ep.name] = str(e)
                    retryable = retryable or e.retryable
            if not retryable:
                break
        detail = (
            "; ".join(f"{name}: {err}" for name, err in errors.items())
            or "no endpoint could be tried"
        )
        raise ModelUnavailableError(f"no model endpoint answered ({detail})")

    async def _call(
        self,
        ep: _Endpoint,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: dict[str, Any] | str | None,
        response_format: dict[str, Any] | None,
    ) -> ChatReply:
        kwargs: dict[str, Any] = {
            "model": ep.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if tools:
            kwargs["tools"] = tools
            if tool_choice is not None:
                kwargs["tool_choice"] = tool_choice
        if response_format is not None:
            kwargs["response_format"] = response_format
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
                error, retryable = _describe(e)
                # a request the server rejects (400, 401, 404, ...) says nothing about its health
                self._fail(ep, t0, error, unhealthy=retryable)
                raise _AttemptError(error, retryable=retryable) from e
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
