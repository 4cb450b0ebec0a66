"""`robo-os up` stopped by SIGINT (Ctrl-C) or SIGTERM (systemd, docker) stops the whole
stack in order before it exits: the agents, the world, Ray and its embedded redis-server,
and says so. uvicorn raised the signal again when its server returned, which cancelled
the stop half-way (SIGINT) or killed the process before it (SIGTERM)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ..up_process import robo_os_up

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> dict[int, str]:
    """The process tree under `pid` (Linux /proc): pid -> command name."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parents[int(entry)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), name)
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, name) in parents.items():
            if ppid == parent and child not in found:
                found[child] = name
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_stops_the_whole_stack_in_order(tmp_path: Path, sig: int, code: int) -> None:
    with robo_os_up(tmp_path / "state") as up:
        with up.client() as client:
            assert client.get("/v1/robots").status_code == 200
        redis = [p for p, name in _descendants(up.process.pid).items() if name == "redis-server"]
        assert redis, "the embedded redis-server was not found under robo-os up"
        exit_code = up.stop(sig)
        output = up.output()
        assert exit_code == code, output
        assert "robo-os stopped" in output, output
        # stopped by the stack itself, before the test's clean-up kills the group
        assert not [p for p in redis if _alive(p)], output
