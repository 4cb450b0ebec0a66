"""An agent on a second Ray node (an edge machine): placed there by the custom resource
`robot:<id>`. The two-node cluster runs in a subprocess so it cannot collide with the
session's local Ray."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from robo_os_memory import Memory

HERE = Path(__file__).resolve().parent


async def run_cluster_script(script: str, *args: str) -> dict[str, object]:
    """Run one of this folder's cluster scripts in its own process; its last JSON line."""
    env = {
        **os.environ,
        # the cluster's workers import the fake robot and test skills by path; the
        # scripts import the brain runtime tests' helpers as `tests....`
        "PYTHONPATH": os.pathsep.join(
            [str(HERE.parent), str(HERE), str(HERE.parent.parent), os.environ.get("PYTHONPATH", "")]
        ),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 400)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    seen: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return seen


@pytest.mark.timeout(420)
async def test_agent_actor_is_placed_on_the_robots_node(
    redis_url: str, key_prefix: str, memory: Memory
) -> None:
    robot_id = f"{key_prefix}-edge"
    seen = await run_cluster_script("multinode_agent.py", redis_url, key_prefix, robot_id)
    assert seen["status"] == "ok"
    assert seen["actor_node"] == seen["edge_node"] != seen["head_node"]
    robot = await memory.get_robot(robot_id)
    assert robot is not None and robot.node == seen["edge_node"]


@pytest.mark.timeout(420)
async def test_a_removed_nodes_robot_goes_offline_and_its_work_moves(
    redis_url: str, key_prefix: str
) -> None:
    seen = await run_cluster_script("multinode_removed.py", redis_url, key_prefix)
    assert str(seen["started"]).endswith("/s1/1")
    assert seen["status"] == "succeeded", seen
    assert seen["robots"] == [f"{key_prefix}-b", f"{key_prefix}-b"]  # both moved to B
    assert seen["a_status"] == "offline"
    assert seen["moved"], seen
