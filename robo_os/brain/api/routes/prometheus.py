"""/metrics: the brain's figures in Prometheus's text format (prometheus-client), for a
scraper configured with the API token (`authorization: {credentials_file: ...}`).

Everything is read at scrape time from what the brain already keeps (the task store's
recent tasks, the memory's robots, the planner's and the model pool's counters), into a
registry made for that one scrape: no global state, nothing to reset between apps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ....contracts import SubtaskStatus, Task, TaskStatus
from ...runtime.admission import REFUSAL_REASONS, Admission
from ...runtime.estop import EStopState
from ..deps import BrainRuntime, get_runtime

__all__ = ["DURATION_BUCKETS_S", "RECENT_TASKS", "router"]

router = APIRouter(tags=["health"])

Runtime = Annotated[BrainRuntime, Depends(get_runtime)]

RECENT_TASKS = 1000
"""How many of the newest tasks the task and subtask figures are computed over."""

DURATION_BUCKETS_S = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class _Scrape(Collector):
    """One scrape's figures, gathered beforehand (the collector itself must not await)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


def _histogram(
    name: str, doc: str, label: str, samples: dict[str, list[float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for key, values in sorted(samples.items()):
        buckets: list[tuple[str, float]] = []
        for bound in DURATION_BUCKETS_S:
            buckets.append((repr(bound), float(sum(v <= bound for v in values))))
        buckets.append(("+Inf", float(len(values))))
        family.add_metric([key], buckets, sum(values))
    return family


def _task_metrics(tasks: Iterable[Task], active: int) -> list[Metric]:
    tasks = list(tasks)
    by_status = Counter(t.status.value for t in tasks)
    status_gauge = GaugeMetricFamily(
        "robo_os_tasks",
        f"Tasks by status among the newest {RECENT_TASKS}",
        labels=["status"],
    )
    for status in TaskStatus:
        status_gauge.add_metric([status.value], float(by_status.get(status.value, 0)))
    subtask_s: dict[str, list[float]] = {}
    skill_s: dict[str, list[float]] = {}
    for task in tasks:
        for s in task.subtasks:
            if s.started_at is None or s.finished_at is None:
                continue
            took = max(0.0, s.finished_at - s.started_at)
            subtask_s.setdefault(s.status.value, []).append(took)
            if s.status == SubtaskStatus.succeeded:
                skill_s.setdefault(s.skill, []).append(took)
    return [
        status_gauge,
        GaugeMetricFamily(
            "robo_os_queue_depth",
            "Tasks waiting in the fleet queue (status queued)",
            value=float(by_status.get(TaskStatus.queued.value, 0)),
        ),
        GaugeMetricFamily(
            "robo_os_active_tasks", "Tasks with a runner in this brain", value=float(active)
        ),
        _histogram(
            "robo_os_subtask_duration_seconds",
            "Subtask durations (first start to end), by how they ended",
            "status",
            subtask_s,
        ),
        _histogram(
            "robo_os_skill_duration_seconds",
            "Durations of subtasks that succeeded, by skill",
            "skill",
            skill_s,
        ),
    ]


def _robot_metrics(statuses: Iterable[str]) -> list[Metric]:
    gauge = GaugeMetricFamily("robo_os_robots", "Robots by status", labels=["status"])
    for status, n in sorted(Counter(statuses).items()):
        gauge.add_metric([status], float(n))
    return [gauge]


def _admission_metrics(admission: Admission) -> list[Metric]:
    refused = CounterMetricFamily(
        "robo_os_admissions_refused",
        "Submissions refused with 429 since start, by reason (full: no room to wait;"
        " wait_timeout: waited scheduler.admission_wait_s for a slot)",
        labels=["reason"],
    )
    for reason in REFUSAL_REASONS:  # every reason, 0 included: a rate needs the series
        refused.add_metric([reason], float(admission.refused_by.get(reason, 0)))
    return [
        refused,
        GaugeMetricFamily(
            "robo_os_admission_waiting",
            "Submissions waiting for an admission slot now",
            value=float(admission.waiting),
        ),
    ]


def _estop_metrics(state: EStopState, robots: Iterable[str]) -> list[Metric]:
    per_robot = GaugeMetricFamily(
        "robo_os_estop_robot",
        "1 while the robot may run nothing (the global stop or its own), else 0",
        labels=["robot"],
    )
    for robot in sorted({*robots, *state.robots}):
        per_robot.add_metric([robot], float(state.engaged or robot in state.robots))
    engaged = GaugeMetricFamily(
        "robo_os_estop_engaged", "1 while the global emergency stop is engaged, else 0"
    )
    engaged.add_metric([], float(state.engaged))
    return [engaged, per_robot]


def _model_metrics(planner: Any) -> list[Metric]:
    out: list[Metric] = []
    stats = getattr(planner, "stats", None)
    if stats is not None:
        outcomes = CounterMetricFamily(
            "robo_os_planning", "Planning rounds by kind, planner and result", labels=["outcome"]
        )
        for key, n in sorted(stats.snapshot()["outcomes"].items()):
            outcomes.add_metric([key], float(n))
        out.append(outcomes)
    llm = getattr(planner, "llm_metrics", None)
    snap = llm.snapshot() if llm is not None else None
    if snap is not None:
        calls = CounterMetricFamily(
            "robo_os_model_calls", "Model requests by endpoint", labels=["endpoint"]
        )
        failures = CounterMetricFamily(
            "robo_os_model_failures", "Failed model requests by endpoint", labels=["endpoint"]
        )
        tokens = CounterMetricFamily(
            "robo_os_model_tokens", "Model tokens by endpoint and kind", labels=["endpoint", "kind"]
        )
        latency = GaugeMetricFamily(
            "robo_os_model_latency_p50_seconds",
            "Median model request latency by endpoint (recent requests)",
            labels=["endpoint"],
        )
        for name, e in sorted(snap["endpoints"].items()):
            calls.add_metric([name], float(e["calls"]))
            failures.add_metric([name], float(e["failures"]))
            tokens.add_metric([name, "prompt"], float(e["prompt_tokens"]))
            tokens.add_metric([name, "completion"], float(e["completion_tokens"]))
            if e.get("latency_p50_s") is not None:
                latency.add_metric([name], float(e["latency_p50_s"]))
        out += [calls, failures, tokens, latency]
    return out


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def prometheus_metrics(rt: Runtime) -> Response:
    """Tasks by status, queue depth, active tasks, subtask and skill durations, robots by
    status, refused admissions (429) by reason, submissions waiting for a slot, the
    emergency stop (global and per robot), planning
    outcomes, model calls, failures, tokens and latency."""
    tasks = await rt.store.recent(None, RECENT_TASKS)
    robots, _, _ = await rt.memory.snapshot()
    metrics = (
        _task_metrics(tasks, int(rt.scheduler.health().get("active_tasks", 0)))
        + _robot_metrics(str(r.status.value) for r in robots)
        + _admission_metrics(rt.scheduler.admission)
        + _estop_metrics(rt.scheduler.estop.state, (r.id for r in robots))
        + _model_metrics(rt.planner)
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(metrics))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
