"""Model-call metrics: one record per HTTP request, totals, latency percentiles and
per-endpoint figures (for logs, the REST API and the benchmarks)."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallRecord", "EndpointHealth", "LLMMetrics"]


@dataclass(frozen=True)
class CallRecord:
    """One HTTP request to one endpoint (a failed attempt is a record too)."""

    ts: float
    endpoint: str
    model: str
    latency_s: float
    ok: bool
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: str
    model: str
    healthy: bool
    consecutive_failures: int
    down_for_s: float
    last_error: str | None
    adaptations: tuple[str, ...] = ()
    """Request formats this endpoint refused and the pool no longer sends it
    (`no_json_schema`, `plain_tool_turns`, `text_mode`)."""


@dataclass
class _EndpointStats:
    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=1000))


class LLMMetrics:
    """Counters and recent latencies of model calls, for logs and the REST API."""

    def __init__(self, keep: int = 200) -> None:
        self.recent: deque[CallRecord] = deque(maxlen=keep)
        self._by_endpoint: dict[str, _EndpointStats] = {}
        self.retries = 0
        self.failovers = 0
        self.request_errors = 0
        """Requests a server refused for their format (it answered: not counted as down)."""
        self.format_fallbacks = 0
        """Requests sent again in a plainer format after such a refusal."""

    def record(self, rec: CallRecord) -> None:
        self.recent.append(rec)
        st = self._by_endpoint.setdefault(rec.endpoint, _EndpointStats())
        st.calls += 1
        if rec.ok:
            st.latencies.append(rec.latency_s)
            st.prompt_tokens += rec.prompt_tokens or 0
            st.completion_tokens += rec.completion_tokens or 0
        else:
            st.failures += 1

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self._by_endpoint.values())

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self._by_endpoint.values())

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable totals, latency percentiles and per-endpoint figures."""

        def pct(values: Sequence[float], q: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        all_lat = [x for s in self._by_endpoint.values() for x in s.latencies]
        return {
            "calls": self.calls,
            "failures": self.failures,
            "retries": self.retries,
            "failovers": self.failovers,
            "request_errors": self.request_errors,
            "format_fallbacks": self.format_fallbacks,
            "prompt_tokens": sum(s.prompt_tokens for s in self._by_endpoint.values()),
            "completion_tokens": sum(s.completion_tokens for s in self._by_endpoint.values()),
            "latency_s": {
                "mean": statistics.fmean(all_lat) if all_lat else None,
                "p50": pct(all_lat, 0.5),
                "p95": pct(all_lat, 0.95),
            },
            "endpoints": {
                name: {
                    "calls": s.calls,
                    "failures": s.failures,
                    "prompt_tokens": s.prompt_tokens,
                    "completion_tokens": s.completion_tokens,
                    "latency_p50_s": pct(s.latencies, 0.5),
                }
                for name, s in self._by_endpoint.items()
            },
        }
