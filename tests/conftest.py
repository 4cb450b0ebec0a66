"""Session-wide real services: a private redis-server and one local Ray runtime.

Each test gets its own memory key prefix, so tests never see each other's keys and
never touch a server they did not start.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

from robo_os.services import EmbeddedRedis
from robo_os.testing import ScriptedModelServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
def key_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def memory(redis_url: str, key_prefix: str) -> AsyncIterator[object]:
    from robo_os_memory import Memory

    mem = await Memory.connect(redis_url, prefix=key_prefix, writer="test", heartbeat_interval_s=0.2)
    try:
        yield mem
    finally:
        await mem.close()


@pytest.fixture(scope="session")
def ray_runtime() -> Iterator[object]:
    """One local Ray per test session (starting one costs seconds)."""
    import ray

    ctx = ray.init(
        address="local",
        include_dashboard=False,
        num_cpus=2,
        namespace=f"robo-os-test-{uuid.uuid4().hex[:6]}",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield ctx
    finally:
        ray.shutdown()


@pytest.fixture
def openai_server_factory() -> Iterator[Callable[..., ScriptedModelServer]]:
    """Make as many started scripted model servers as a test needs; all stop after it."""
    servers: list[ScriptedModelServer] = []

    def make(**kwargs: Any) -> ScriptedModelServer:
        server = ScriptedModelServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def openai_server(
    openai_server_factory: Callable[..., ScriptedModelServer],
) -> ScriptedModelServer:
    """One started scripted model server (`server.base_url` is the `/v1` URL), strict:
    it refuses requests llama.cpp's server would refuse (HTTP 500 "validation errors")."""
    return openai_server_factory(strict=True)
