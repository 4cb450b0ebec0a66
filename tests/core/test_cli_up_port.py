"""`robo-os up` on a busy port says so at once, before it starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_a_busy_api_port_is_a_clear_error_in_seconds(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {**os.environ, "ROBO_OS_STATE_DIR": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0"}
        done = subprocess.run(
            [sys.executable, "-c", "from robo_os.cli import main; main()", "up", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"127.0.0.1:{port}" in done.stderr and "--port" in done.stderr, done.stderr
    # nothing was started: no token written, no Redis or Ray output
    assert not (tmp_path / "api-token").exists()
    assert "redis" not in done.stderr.lower() and "ray" not in done.stderr.lower()
