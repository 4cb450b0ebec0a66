"""/v1/metrics: what the brain has measured of itself, as JSON (auth like every /v1 route).

The planner's outcomes and model calls, every model endpoint's calls, failures, tokens
and latency percentiles, the endpoints' health, and the scheduler's active tasks.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ..deps import BrainRuntime, get_runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["health"])

Runtime = Annotated[BrainRuntime, Depends(get_runtime)]


def _snapshot(obj: Any) -> Any:
    snap = getattr(obj, "snapshot", None)
    return snap() if callable(snap) else None


@router.get("/metrics")
async def metrics(rt: Runtime) -> dict[str, Any]:
    """Planner outcomes and model calls, per-endpoint model metrics (calls, failures,
    prompt/completion tokens, p50/p95 latency), endpoint health, active tasks."""
    planner = rt.planner
    pool = getattr(planner, "pool", None)
    endpoints = [dataclasses.asdict(e) for e in pool.health()] if pool is not None else []
    return {
        "planner": {
            "name": getattr(planner, "name", type(planner).__name__),
            "outcomes": _snapshot(getattr(planner, "stats", None)),
        },
        "llm": {
            "metrics": _snapshot(getattr(planner, "llm_metrics", None)),
            "endpoints": endpoints,
        },
        "scheduler": rt.scheduler.health(),
    }
