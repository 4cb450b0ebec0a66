"""The embedded redis-server never outlives the process that started it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import pytest

START = """
import sys
from robo_os.services import EmbeddedRedis
server = EmbeddedRedis().start()
print(server._proc.pid, flush=True)
sys.stdin.read()  # until the test kills this process
"""


def wait_gone(pid: int, timeout_s: float) -> bool:
    """True once `pid` has exited (a pidfd becomes readable), False after timeout_s."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        return bool(ready)
    finally:
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_a_killed_parent_takes_its_redis_server_along() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", START], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        redis_pid = int(parent.stdout.readline())
        os.kill(redis_pid, 0)  # running
        parent.send_signal(signal.SIGKILL)  # no cleanup code can run
        parent.wait(timeout=10)
        assert wait_gone(redis_pid, 10.0), f"redis-server {redis_pid} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()
        if parent.stdin:
            parent.stdin.close()
        if parent.stdout:
            parent.stdout.close()
