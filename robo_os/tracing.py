"""OpenTelemetry traces of a task: task → plan → model call → subtask → skill.

Off by default: with no provider configured the OpenTelemetry API hands out no-op spans
and nothing here costs more than a function call. `configure_tracing` installs an SDK
provider exporting by OTLP/HTTP when `settings.tracing.otlp_endpoint` is set (the
`otel` extra); tests install their own provider with an in-memory exporter.

A task's span lives from its creation to its end; planning, model calls and subtasks
are its children (`span(..., task_id=...)`). A skill runs in its agent's process: its
span is a child of the subtask's, carried in the call as a W3C `traceparent`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from .settings import TracingSettings

__all__ = [
    "configure_tracing",
    "inject",
    "span",
    "task_ended",
    "task_started",
]

log = logging.getLogger(__name__)

_TRACER = "robo_os"
_tasks: dict[str, Span] = {}
_MAX_OPEN_TASKS = 10_000
"""Bound on tasks with an open span (a brain that never sees their end must not grow)."""
_propagator = TraceContextTextMapPropagator()


def configure_tracing(settings: TracingSettings) -> bool:
    """Install an OTLP-exporting provider if the settings ask for one; True if they did."""
    endpoint = settings.otlp_endpoint
    if not endpoint:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as e:  # the `otel` extra is not installed
        from .errors import ConfigError

        raise ConfigError(
            "settings.tracing.otlp_endpoint is set but the OTLP exporter is not installed"
            " (pip install 'robo-os[otel]')"
        ) from e
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    log.info("tracing: exporting spans by OTLP to %s", endpoint)
    return True


def _tracer() -> trace.Tracer:
    return trace.get_tracer(_TRACER)


def task_started(task_id: str, **attrs: Any) -> None:
    """Open the task's root span (idempotent: a resumed task keeps its first)."""
    if task_id in _tasks:
        return
    if len(_tasks) >= _MAX_OPEN_TASKS:
        _tasks.pop(next(iter(_tasks))).end()
    root = _tracer().start_span("task", attributes={"robo_os.task_id": task_id, **_clean(attrs)})
    _tasks[task_id] = root


def task_ended(task_id: str, status: str, message: str = "") -> None:
    """End the task's span with its final status."""
    root = _tasks.pop(task_id, None)
    if root is None:
        return
    root.set_attribute("robo_os.status", status)
    if status != "succeeded":
        root.set_status(Status(StatusCode.ERROR, message or status))
    root.end()


@contextmanager
def span(
    name: str, *, task_id: str | None = None, traceparent: str | None = None, **attrs: Any
) -> Iterator[Span]:
    """A child span of the task's (or of a `traceparent` from another process, or of the
    current span); an exception leaving it marks it as an error."""
    parent: otel_context.Context | None = None
    if traceparent:
        parent = _propagator.extract({"traceparent": traceparent})
    elif task_id is not None and task_id in _tasks:
        parent = trace.set_span_in_context(_tasks[task_id])
    attributes = _clean(attrs)
    if task_id is not None:
        attributes["robo_os.task_id"] = task_id
    with _tracer().start_as_current_span(name, context=parent, attributes=attributes) as current:
        yield current


def inject() -> str | None:
    """The current span as a W3C traceparent (for a call to another process), or None."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        name = key if "." in key else f"robo_os.{key}"
        out[name] = value if isinstance(value, (str, bool, int, float)) else str(value)
    return out
