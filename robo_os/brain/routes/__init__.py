"""The REST API's routers: tasks, fleet and memory, health."""

from __future__ import annotations

from .health import router as health_router
from .tasks import router as tasks_router
from .world import router as world_router

__all__ = ["health_router", "tasks_router", "world_router"]
