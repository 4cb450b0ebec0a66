"""Fault tests: the brain against a redis-server each test starts, stops and starts
again itself (fixed port, AOF directory), never the session's shared Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from robo_os.services import EmbeddedRedis, free_port

# the brain runtime's fixtures (fleet of ScriptedAgents, brains, the ASGI app) over it
from tests.brain.runtime.conftest import fleet, make_api, make_brain  # noqa: F401
from tests.e2e.conftest import make_stack  # noqa: F401


class RestartableRedis:
    """A private redis-server with an AOF that a test can take away and bring back on
    the same port and directory (what an operator's restart of Redis looks like)."""

    def __init__(self, directory: Path) -> None:
        self.server = EmbeddedRedis(port=free_port(), directory=directory, appendonly=True)

    @property
    def url(self) -> str:
        return self.server.url

    async def stop(self) -> None:
        # in a thread: the brain under test keeps running (and noticing) meanwhile
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)


@pytest.fixture
def outage_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    redis = RestartableRedis(tmp_path / "redis")
    redis.server.start()
    try:
        yield redis
    finally:
        redis.server.stop()


@pytest.fixture
def redis_url(outage_redis: RestartableRedis) -> str:
    return outage_redis.url


@pytest.fixture
def redis_server(outage_redis: RestartableRedis) -> EmbeddedRedis:
    """The full stack's Redis (tests/e2e `make_stack`) is this test's own, too."""
    return outage_redis.server
