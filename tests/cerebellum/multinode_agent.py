"""Run by test_multinode.py in its own process: a two-node local Ray cluster (the second
node offers `robot:<id>`, as an edge machine next to a robot would), an agent actor placed
with `on_robot_node=True`, one call through it. Prints a JSON line with what it saw.

    python multinode_agent.py REDIS_URL KEY_PREFIX ROBOT_ID
"""

from __future__ import annotations

import asyncio
import json
import sys

import ray
from ray.cluster_utils import Cluster

from robo_os.cerebellum.actor import AgentConfig, robot_resource, start_agent
from robo_os.contracts import SkillCall
from robo_os.fleet import RobotConfig


async def main(redis_url: str, prefix: str, robot_id: str) -> dict[str, object]:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        edge = cluster.add_node(num_cpus=1, resources={robot_resource(robot_id): 1})
        ray.init(
            address=cluster.address,
            namespace="multinode",
            log_to_driver=False,
            configure_logging=False,
        )
        cluster.wait_for_nodes()
        config = AgentConfig(
            robot=RobotConfig(
                id=robot_id, embodiment="fake", at="dock", options={"capabilities": ["manipulate"]}
            ),
            redis_url=redis_url,
            key_prefix=prefix,
            heartbeat_interval_s=0.2,
            robot_factory="robo_os.testing.robot:build_fake_robot",
            plugins=False,
            skills=("agent_skills:AGENT_SKILLS",),
        )
        handle = await start_agent(config, namespace="multinode", on_robot_node=True, timeout_s=120)
        result = await handle.run.remote(SkillCall(call_id="edge-1", robot=robot_id, skill="noop"))
        seen = {
            "head_node": cluster.head_node.node_id,
            "edge_node": edge.node_id,
            "actor_node": await handle.node_id.remote(),
            "status": result.status,
        }
        await handle.stop.remote()
        return seen
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))), flush=True)
