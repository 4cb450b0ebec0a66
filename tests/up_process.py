"""`robo-os up` as a real process, for tests of the whole command: its own process group
(its embedded redis-server and Ray come with it), a free port, its own state directory;
ready once /healthz says ok. On the way out it is stopped with SIGINT, and what is left
of the group is killed once it has stopped or a minute has passed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from robo_os.services import free_port

UP_S = 240.0
"""How long `robo-os up` may take to be healthy (a loaded 2-core machine)."""
STOP_S = 60.0


class Up:
    """A running `robo-os up`: its process, its URL and token, its output file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, url: str) -> None:
        self.process, self.log, self.url = process, log, url
        self.token = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def client(self, timeout_s: float = 300) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout_s
        )

    def stop(self, sig: int = signal.SIGINT) -> int | None:
        """Send `sig` and wait for the process to exit: its exit code, None if it did not
        exit within STOP_S."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_S)
        return self.process.poll()


@contextlib.contextmanager
def robo_os_up(
    state: Path, *args: str, pythonpath: Path | None = None, config: Path | None = None
) -> Iterator[Up]:
    """`robo-os up [-c config] [args]` with `pythonpath` on its path, healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROBO_OS_", "RAY_ADDRESS"))}
    env |= {"ROBO_OS_STATE_DIR": str(state), "RAY_USAGE_STATS_ENABLED": "0"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [str(Path(sys.executable).with_name("robo-os")), "up", "--port", str(port)]
    if config is not None:
        command += ["-c", str(config)]
    state.mkdir(parents=True, exist_ok=True)
    log = state / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    up = Up(process, log, f"http://127.0.0.1:{port}")
    try:
        _wait_healthy(up)
        up.token = (state / "api-token").read_text().strip()
        yield up
    finally:
        up.stop()
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is left
            os.killpg(up.process.pid, signal.SIGKILL)
        up.process.wait(timeout=30)


def _wait_healthy(up: Up) -> None:
    deadline = time.monotonic() + UP_S
    last = "no answer"
    while time.monotonic() < deadline:
        if up.process.poll() is not None:
            raise AssertionError(f"robo-os up exited {up.process.returncode}:\n{up.output()}")
        try:
            answer = httpx.get(f"{up.url}/healthz", timeout=5)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.TransportError as e:
            last = repr(e)
        try:  # the poll's pause: returns at once if the process exits
            up.process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    raise AssertionError(f"robo-os up not healthy in {UP_S:.0f} s ({last}):\n{up.output()}")
