"""Fixtures for the brain runtime tests: robots in a real memory, a scheduler over a real
task store, and in-test agents behind a LocalDispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from robo_os_memory import Memory

from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.brain.runtime.scheduler import Scheduler
from robo_os.brain.runtime.store import TaskStore
from robo_os.settings import SchedulerSettings

from .runtime_fakes import ScriptedAgent, ScriptedPlanner
from .runtime_support import TOKEN, Api, Brain, Fleet, MakeBrain, add_robots, brain_settings


@pytest.fixture
async def fleet(memory: Memory) -> AsyncIterator[Callable[..., Awaitable[Fleet]]]:
    made: list[Fleet] = []

    async def make(*robots: str) -> Fleet:
        await add_robots(memory, *robots)
        log: list[tuple[str, str, str]] = []
        f = Fleet({r: ScriptedAgent(r, log) for r in robots}, log)
        made.append(f)
        return f

    yield make
    for f in made:
        f.release_all()


@pytest.fixture
async def make_brain(memory: Memory, redis_url: str, key_prefix: str) -> AsyncIterator[MakeBrain]:
    made: list[Brain] = []

    async def make(
        planner: ScriptedPlanner, fleet: Any, *, watch_liveness: bool = False, **scheduler: Any
    ) -> Brain:
        store = await TaskStore.connect(redis_url, key_prefix)
        dispatcher = LocalDispatcher(fleet.agents)
        settings = SchedulerSettings(**{"retry_backoff_s": 0.0, "rebalance": False, **scheduler})
        sched = Scheduler(
            store,
            memory,
            dispatcher,
            planner,
            settings,
            cancel_grace_s=1.0,
            watch_liveness=watch_liveness,
        )
        await sched.start()
        brain = Brain(sched, store, dispatcher)
        made.append(brain)
        return brain

    yield make
    for brain in made:
        await brain.close()


@pytest.fixture
async def make_api(
    memory: Memory, redis_url: str, key_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[Api]]]:
    """The brain's ASGI app with its lifespan running, and an httpx client on it."""
    import httpx

    from robo_os.brain.app import create_app

    made: list[Api] = []

    async def make(
        planner: ScriptedPlanner,
        fleet: Any,
        *,
        auth: bool = True,
        token: str | None = TOKEN,
        **scheduler: Any,
    ) -> Api:
        settings = brain_settings(redis_url, key_prefix, auth=auth, **scheduler)
        app = create_app(
            settings,
            memory=memory,
            dispatcher=LocalDispatcher(fleet.agents),
            planner=planner,
            watch_liveness=False,
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://brain", headers=headers
        )
        api = Api(app, client, lifespan)
        made.append(api)
        return api

    yield make
    for api in made:
        await api.client.aclose()
        await api.lifespan.__aexit__(None, None, None)
