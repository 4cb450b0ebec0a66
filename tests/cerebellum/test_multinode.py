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


@pytest.mark.timeout(420)
async def test_agent_actor_is_placed_on_the_robots_node(
    redis_url: str, key_prefix: str, memory: Memory
) -> None:
    robot_id = f"{key_prefix}-edge"
    env = {
        **os.environ,
        # the cluster's workers import the fake robot and test skills by path
        "PYTHONPATH": os.pathsep.join(
            [str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]
        ),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "multinode_agent.py"),
        redis_url,
        key_prefix,
        robot_id,
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
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert seen["status"] == "ok"
    assert seen["actor_node"] == seen["edge_node"] != seen["head_node"]
    robot = await memory.get_robot(robot_id)
    assert robot is not None and robot.node == seen["edge_node"]
