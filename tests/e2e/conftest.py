"""A whole robo-os stack (the one `robo-os up` runs) served over real HTTP on a free port."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from robo_os.services import EmbeddedRedis, bind_listener, free_port
from robo_os.settings import Settings
from robo_os.stack import Stack

TOKEN = "e2e-token"

StackFactory = Callable[..., Awaitable[tuple[Stack, httpx.AsyncClient]]]


@pytest.fixture
async def make_stack(
    redis_server: EmbeddedRedis, ray_runtime: object, tmp_path: Path
) -> AsyncIterator[StackFactory]:
    async with AsyncExitStack() as fixture_exits:

        async def make(
            *,
            key_prefix: str | None = None,
            exits_to: AsyncExitStack | None = None,
            data_dir: Path | None = None,
            **overrides: Any,
        ) -> tuple[Stack, httpx.AsyncClient]:
            """A stack served over HTTP. `key_prefix`: its memory's (a second stack on the
            same one sees the first's memory, as a restart on the same Redis does).
            `exits_to`: where its stops go (server, then stack, as SIGINT does), for a
            test that stops it itself; else at the end of the test. `data_dir`: its own
            embedded Redis keeping its data there (`robo-os up --data-dir`), not the
            session's."""
            exits = exits_to if exits_to is not None else fixture_exits
            settings = Settings(
                redis={
                    "url": None if data_dir is not None else redis_server.url,
                    "key_prefix": key_prefix or f"e2e-{uuid.uuid4().hex[:8]}",
                },
                ray={"namespace": f"e2e-{uuid.uuid4().hex[:8]}"},
                api={"host": "127.0.0.1", "port": free_port(), "token": SecretStr(TOKEN)},
                memory={"heartbeat_interval_s": 0.5},
                state_dir=tmp_path,
                **overrides,
            )
            st = Stack(settings, data_dir=data_dir)
            app = await st.start()
            exits.push_async_callback(st.stop)
            # A socket that listens before uvicorn runs: requests wait in its backlog until
            # the lifespan has started, so nothing polls for readiness.
            sock = bind_listener("127.0.0.1", settings.api.port, backlog=128)
            exits.callback(sock.close)
            server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
            serving = asyncio.create_task(server.serve(sockets=[sock]))

            async def shutdown() -> None:
                server.should_exit = True
                await serving

            exits.push_async_callback(shutdown)
            client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{settings.api.port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            exits.push_async_callback(client.aclose)
            return st, client

        yield make
