"""`robo-os agent`: start a robot's Ray node by hand, on the robot's own computer.

The node joins the Ray cluster whose head listens at `HEAD:PORT` (the GCS port) and
offers the custom resource `robot:<id>` for each robot it serves, so the agent of a robot
with `on_robot_node: true` in the fleet file is placed on it (robo_os/cerebellum/actor.py).

    argv = ray_start_argv("10.0.0.5:6379", ["mm1"])
    # ['ray', 'start', '--address=10.0.0.5:6379', '--resources={"robot:mm1": 1}', '--block']
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from .cerebellum.actor import robot_resource
from .errors import ConfigError, ServiceUnavailableError

__all__ = ["check_reachable", "find_ray", "parse_address", "ray_start_argv", "start_agent_node"]

_ROBOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def parse_address(address: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:6379`) of the Ray head's GCS, checked."""
    host, sep, port_text = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(
            f"--address {address!r}: expected HEAD:PORT, the Ray head's GCS address "
            "(e.g. 10.0.0.5:6379)"
        )
    return host, int(port_text)


def _resources(robots: Sequence[str]) -> dict[str, float]:
    if not robots:
        raise ConfigError("--robot: name at least one robot this node serves")
    seen: set[str] = set()
    for robot in robots:
        if not _ROBOT_ID.match(robot):
            raise ConfigError(
                f"--robot {robot!r}: a robot id is letters, digits, '_', '.' or '-' "
                "(as in the fleet file)"
            )
        if robot in seen:
            raise ConfigError(f"--robot {robot!r} is given twice")
        seen.add(robot)
    return {robot_resource(robot): 1 for robot in robots}


def ray_start_argv(
    address: str,
    robots: Sequence[str],
    *,
    ray: str = "ray",
    num_cpus: int | None = None,
    block: bool = True,
) -> list[str]:
    """The `ray start` command line that joins `address` offering `robot:<id>` per robot."""
    host, port = parse_address(address)
    if num_cpus is not None and num_cpus < 0:
        raise ConfigError(f"--num-cpus {num_cpus}: must be 0 or more")
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [
        ray,
        "start",
        f"--address={target}",
        f"--resources={json.dumps(_resources(robots), sort_keys=True)}",
    ]
    if num_cpus is not None:
        argv.append(f"--num-cpus={num_cpus}")
    if block:
        argv.append("--block")
    return argv


def find_ray() -> str:
    """The `ray` executable: next to this Python first (a virtual environment), else PATH."""
    beside = Path(sys.executable).with_name("ray")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("ray")
    if found is None:
        raise ConfigError(
            "the `ray` command is not installed here (looked next to "
            f"{sys.executable} and on PATH): install robo-os (it depends on ray) in this environment"
        )
    return found


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail with the address named when nothing listens at the head's GCS port."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        raise ServiceUnavailableError(
            f"the Ray head at {host}:{port} cannot be reached ({e}); start it with "
            "`ray start --head --port=PORT` (deploy/ray-node.sh head) and check the address"
        ) from e


def start_agent_node(
    address: str,
    robots: Sequence[str],
    *,
    num_cpus: int | None = None,
    block: bool = True,
    timeout_s: float = 5.0,
) -> int:
    """Check the input and the head, then run `ray start`. With `block` the process becomes
    `ray start --block` (exec: signals reach Ray directly); otherwise returns its exit code."""
    argv = ray_start_argv(address, robots, ray=find_ray(), num_cpus=num_cpus, block=block)
    check_reachable(address, timeout_s)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": os.environ.get("RAY_USAGE_STATS_ENABLED", "0")}
    if block:
        os.execve(argv[0], argv, env)
    import subprocess

    return subprocess.run(argv, env=env, check=False).returncode
