"""The REST API's routers: tasks, fleet and memory, health and metrics."""

from __future__ import annotations

from .health import router as health_router
from .metrics import router as metrics_router
from .prometheus import router as prometheus_router
from .tasks import router as tasks_router
from .world import router as world_router

__all__ = [
    "health_router",
    "metrics_router",
    "prometheus_router",
    "tasks_router",
    "world_router",
]
