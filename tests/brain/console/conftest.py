"""Fixtures for the web console tests: the real brain app (real memory and task store in
a private Redis) with one in-test robot, reached in process or over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from robo_os_memory import Memory
from robo_os_memory.models import Pose, RobotState

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.services import bind_listener
from robo_os.settings import Settings

from .console_support import TOKEN, Brain, GatedAgent, one_plan_planner


@pytest.fixture
async def brain(
    memory: Memory, redis_url: str, key_prefix: str, request: pytest.FixtureRequest
) -> AsyncIterator[Brain]:
    """`@pytest.mark.approval_skills("place")`: those skills wait for a person's approval."""
    gated = request.node.get_closest_marker("approval_skills")
    await memory.register_robot(
        RobotState(
            id="r1", embodiment="test", capabilities=("manipulate",), pose=Pose(x=0.0, y=0.0)
        )
    )
    await memory.heartbeat("r1", ttl_s=600.0)
    agent = GatedAgent()
    settings = Settings(
        redis={"url": redis_url, "key_prefix": key_prefix},
        api={"token": TOKEN},
        scheduler={
            "retry_backoff_s": 0.0,
            "rebalance": False,
            "approval_skills": list(gated.args) if gated else [],
        },
        agent={"cancel_grace_s": 1.0},
    )
    app = create_app(
        settings,
        memory=memory,
        dispatcher=LocalDispatcher({"r1": agent}),
        planner=one_plan_planner(),
        watch_liveness=False,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://brain") as client:
            try:
                yield Brain(app, client, agent, memory)
            finally:
                agent.finish_all()


@pytest.fixture
async def served(brain: Brain) -> AsyncIterator[str]:
    """The same app served by uvicorn on a free local port; yields its base URL."""
    # Listening before uvicorn runs: connections wait in the backlog, nothing polls.
    sock = bind_listener("127.0.0.1", 0, backlog=128)
    port = sock.getsockname()[1]
    # a browser's long-poll of the change feed would hold a graceful shutdown for 25 s
    config = uvicorn.Config(brain.app, log_config=None, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await serving
        sock.close()
