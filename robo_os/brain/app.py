"""The brain's REST app: `create_app(settings, ...)` returns a FastAPI app whose lifespan
opens what it was not given (memory, task store, dispatcher, planner), starts the
scheduler (which resumes the active tasks found in Redis) and closes, in reverse order,
only what it opened.

    app = create_app(settings, memory=mem, dispatcher=RayDispatcher("robo-os"), planner=planner)
    uvicorn.run(app, host=settings.api.host, port=settings.api.port)
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from ..errors import ConfigError
from .api.audit import AuditLog, AuditMiddleware
from .api.auth import require_read
from .api.deps import BrainRuntime
from .api.forward import LeaderForward
from .api.handlers import API_ERRORS, BODY_ERRORS, install_error_handlers
from .api.limits import BodySizeLimit
from .api.principals import TokenStore
from .api.routes import (
    health_router,
    metrics_router,
    prometheus_router,
    tasks_router,
    world_router,
)
from .api.routes.access import router as access_router
from .api.routes.agents import router as agents_router
from .api.routes.console import router as console_router
from .api.routes.safety import router as safety_router
from .runtime.scheduler import Scheduler
from .runtime.store import TaskStore

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from ..agent_protocol import Dispatcher
    from ..settings import Settings
    from .planning.interface import Planner

__all__ = ["PlannerFactory", "create_app", "default_planner_factory"]

log = logging.getLogger(__name__)

PlannerFactory = Callable[["Settings", "Memory"], "Planner | Awaitable[Planner]"]
"""Builds the planner once memory is open (called by the lifespan)."""


def default_planner_factory(
    settings: Settings,
    memory: Memory,
    *,
    images: Callable[[], Awaitable[dict[str, bytes]]] | None = None,
) -> Planner:
    """The brain's planner (LLM when configured, else the embedded search planner);
    `images` supplies the robots' camera views for vision models."""
    from .planning.catalogue import CatalogueSource
    from .planning.planner import BrainPlanner

    # Memory satisfies CatalogueSource at run time; its decorated methods type as
    # Awaitable rather than Coroutine, which the protocol spells out.
    return BrainPlanner(cast(CatalogueSource, memory), settings.llm, images=images)


def create_app(
    settings: Settings,
    *,
    memory: Memory | None = None,
    dispatcher: Dispatcher | None = None,
    planner: Planner | None = None,
    planner_factory: PlannerFactory | None = None,
    store: TaskStore | None = None,
    resume: bool = True,
    watch_liveness: bool = True,
) -> FastAPI:
    """The brain's FastAPI app.

    memory / dispatcher / planner / store: used as given and left open at shutdown;
    whatever is None is opened by the lifespan from `settings` (Memory and TaskStore from
    `settings.redis`, `RayDispatcher.open(settings.ray)`, the planner from
    `planner_factory(settings, memory)`, default `default_planner_factory`) and closed.
    resume: resume the active tasks found in Redis at start.
    watch_liveness: run the memory's heartbeat watcher here (robots whose heartbeat
    expires go offline and their work is reassigned).
    """
    if settings.api.auth and settings.api.token is None:
        raise ConfigError(
            "settings.api.token (ROBO_OS_API__TOKEN) must be set"
            " while auth is on (settings.api.auth)"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            runtime = await _open(
                settings,
                stack,
                memory,
                dispatcher,
                planner,
                planner_factory or default_planner_factory,
                store,
                resume,
                watch_liveness,
            )
            app.state.runtime = runtime
            try:
                yield
            finally:
                app.state.runtime = None

    # Swagger UI and ReDoc from assets the fastapi-offline wheel carries: /docs works with
    # no internet (FastAPI's default pages load their scripts from a CDN)
    app = FastAPIOffline(
        title="robo-os brain",
        version="0.1.0",
        summary="Submit tasks to a fleet of robots, follow and cancel them,"
        " read the shared memory.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = None
    install_error_handlers(app)
    # inside the error handlers' catch-all: it sees the status every request was answered with
    app.add_middleware(AuditMiddleware)
    # outside the audit: a follower's forwarded request is audited by the leader that serves it
    app.add_middleware(LeaderForward)
    # outermost: a body over the limit is refused before any route or handler sees it
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    # every /v1 route needs a valid token (scope read at least); routes that change
    # state declare the larger scope they need (brain/api/auth.py)
    auth = [Depends(require_read)]
    # what any /v1 route may answer besides its own statuses (each route documents those)
    common = {**API_ERRORS}
    writes = {**API_ERRORS, **BODY_ERRORS}
    app.include_router(tasks_router, dependencies=auth, responses=writes)
    app.include_router(safety_router, dependencies=auth, responses=writes)
    app.include_router(access_router, dependencies=auth, responses=writes)
    app.include_router(world_router, dependencies=auth, responses=common)
    app.include_router(agents_router, dependencies=auth, responses=writes)
    app.include_router(metrics_router, dependencies=auth, responses=common)
    app.include_router(prometheus_router, dependencies=auth, responses=common)
    app.include_router(health_router)
    app.include_router(console_router)  # static page; it sends the token on every API call
    return app


async def _open(
    settings: Settings,
    stack: AsyncExitStack,
    memory: Memory | None,
    dispatcher: Dispatcher | None,
    planner: Planner | None,
    planner_factory: PlannerFactory,
    store: TaskStore | None,
    resume: bool,
    watch_liveness: bool,
) -> BrainRuntime:
    url = settings.redis.url
    if (memory is None or store is None) and url is None:
        raise ConfigError(
            "settings.redis.url (ROBO_OS_REDIS__URL) is required"
            " to open the memory and the task store"
        )
    if memory is None:
        from robo_os_memory import Memory

        assert url is not None
        memory = await Memory.connect(
            url,
            prefix=settings.redis.key_prefix,
            writer="brain",
            heartbeat_interval_s=settings.memory.heartbeat_interval_s,
            history_maxlen=settings.memory.history_maxlen,
            history_max_age_s=settings.memory.history_max_age_s,
            max_connections=settings.redis.max_connections,
            pool_timeout_s=settings.redis.pool_timeout_s,
        )
        stack.push_async_callback(memory.close)
    if store is None:
        assert url is not None
        store = await TaskStore.connect(
            url,
            settings.redis.key_prefix,
            terminal_ttl_s=settings.scheduler.terminal_ttl_s,
            events_maxlen=settings.scheduler.events_maxlen,
            max_connections=settings.redis.max_connections,
            pool_timeout_s=settings.redis.pool_timeout_s,
        )
        stack.push_async_callback(store.close)
    if dispatcher is None:
        from .runtime.dispatch import RayDispatcher

        # ray.init blocks for seconds; keep the loop free meanwhile.
        dispatcher = await asyncio.to_thread(RayDispatcher.open, settings.ray)
        stack.push_async_callback(dispatcher.close)
    if planner is None:
        try:
            made = planner_factory(settings, memory)
            planner = await made if inspect.isawaitable(made) else made
        except ImportError as e:
            raise ConfigError(f"cannot build the planner: {e}") from e
        closer = getattr(planner, "aclose", None) or getattr(planner, "close", None)
        if closer is not None:
            stack.push_async_callback(_call_maybe_async, closer)

    def new_scheduler() -> Scheduler:
        return Scheduler(
            store,
            memory,
            dispatcher,
            planner,
            settings.scheduler,
            cancel_grace_s=settings.agent.cancel_grace_s,
            suspect_s=max(5.0, 3 * settings.memory.heartbeat_interval_s),
            watch_liveness=watch_liveness,
        )

    runtime = BrainRuntime(
        settings=settings,
        memory=memory,
        store=store,
        dispatcher=dispatcher,
        planner=planner,
        scheduler=new_scheduler(),
        tokens=TokenStore(store.redis, settings.redis.key_prefix),
        audit=AuditLog(store.redis, settings.redis.key_prefix, maxlen=settings.api.audit_maxlen),
    )
    if settings.ha.enabled:
        await _campaign(settings, stack, runtime, new_scheduler)
        return runtime
    resumed = await runtime.scheduler.start(resume=resume)
    stack.push_async_callback(runtime.scheduler.close)
    log.info(
        "brain started: %d active task(s) resumed, auth %s",
        len(resumed),
        "on" if settings.api.auth else "OFF",
    )
    return runtime


async def _campaign(
    settings: Settings,
    stack: AsyncExitStack,
    runtime: BrainRuntime,
    new_scheduler: Callable[[], Scheduler],
) -> None:
    """One of several brains: campaign for the lead (brain/runtime/leadership.py) and
    forward requests to the leader while another brain leads (api/forward.py)."""
    from .api.forward import forwarding_client
    from .runtime.leadership import LeaderLease, Leadership, advertised_url, brain_id

    store = runtime.store
    lease = LeaderLease(
        store.redis, store.keys, brain_id(settings), advertised_url(settings), settings.ha.lease_ttl_s
    )
    unused = [runtime.scheduler]

    def scheduler_for_term() -> Scheduler:
        # the first term's is the idle one the runtime was built with
        return unused.pop() if unused else new_scheduler()

    def serve_with(scheduler: Scheduler) -> None:
        runtime.scheduler = scheduler

    runtime.forwarder = forwarding_client()
    stack.push_async_callback(runtime.forwarder.aclose)
    leadership = Leadership(
        lease, store, scheduler_for_term, serve_with, ttl_s=settings.ha.lease_ttl_s
    )
    runtime.leadership = leadership
    await leadership.start()
    stack.push_async_callback(leadership.close)
    log.info(
        "brain %s started (one of several, at %s): %s; auth %s",
        lease.brain,
        lease.url,
        "taking the lead" if leadership.holds_lease else (
            f"following {leadership.leader.brain_id}" if leadership.leader else "following"
        ),
        "on" if settings.api.auth else "OFF",
    )


async def _call_maybe_async(fn: Callable[[], Any]) -> None:
    out = fn()
    if inspect.isawaitable(out):
        await out
