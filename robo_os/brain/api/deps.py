"""What the REST routes reach: the parts the app's lifespan opened or was given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from ...errors import ServiceUnavailableError

if TYPE_CHECKING:
    import httpx
    from robo_os_memory import Memory

    from ...agent_protocol import Dispatcher
    from ...settings import Settings
    from ..planning.interface import Planner
    from ..runtime.leadership import Leadership
    from ..runtime.scheduler import Scheduler
    from ..runtime.store import TaskStore
    from .audit import AuditLog
    from .principals import TokenStore

__all__ = ["BrainRuntime", "get_runtime"]


@dataclass
class BrainRuntime:
    settings: Settings
    memory: Memory
    store: TaskStore
    dispatcher: Dispatcher
    planner: Planner
    scheduler: Scheduler
    tokens: TokenStore
    """The named API tokens (the configured one is checked from the settings)."""
    audit: AuditLog
    """Where every state-changing request is recorded."""
    leadership: Leadership | None = None
    """With several brains (`ha.enabled`): the lead's campaign; `scheduler` runs tasks
    only while this brain leads (requests go to the leader: api/forward.py)."""
    forwarder: httpx.AsyncClient | None = None
    """What a follower forwards requests to the leader with (with `leadership`)."""


def get_runtime(request: Request) -> BrainRuntime:
    runtime: BrainRuntime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise ServiceUnavailableError("the brain is starting or stopping")
    return runtime
