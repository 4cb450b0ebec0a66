"""The API's listening socket (`bind_listener`, what `robo-os up` serves on): accepted
connections get TCP_NODELAY, so an HTTP answer is not held back by the client's delayed
ACK (a plain `socket.socket()` listener left every request about 40 ms slower)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from robo_os.errors import ConfigError
from robo_os.services import bind_listener


async def test_accepted_connections_do_not_delay_small_writes() -> None:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    sock = bind_listener("127.0.0.1", 0, backlog=8)
    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 10) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_a_taken_port_is_a_clear_error() -> None:
    first = bind_listener("127.0.0.1", 0, backlog=1)
    try:
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1"):
            bind_listener("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
