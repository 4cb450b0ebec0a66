"""Run by test_multinode.py in its own process: a three-node local Ray cluster, the agent
of robot A on one edge node (`robot:<A>`), robot B's on another; a brain (scheduler over
the task store, Ray dispatcher) sends A a call that runs until A's node is removed. Prints
a JSON line with how the task ended and what memory says of A.

    python multinode_removed.py REDIS_URL KEY_PREFIX
"""

from __future__ import annotations

import asyncio
import json
import sys

import ray
from ray.cluster_utils import Cluster
from robo_os_memory import Memory

from robo_os.brain.runtime.dispatch import RayDispatcher
from robo_os.brain.runtime.scheduler import Scheduler
from robo_os.brain.runtime.store import TaskStore
from robo_os.cerebellum.actor import robot_resource
from robo_os.contracts import TaskEventKind
from robo_os.settings import SchedulerSettings
from robo_os.testing import WAIT_S, ScriptedPlanner
from tests.brain.runtime.runtime_fakes import plan
from tests.brain.runtime.runtime_support import add_robots
from tests.brain.runtime.test_runtime_ray import gate_agent_class

NAMESPACE = "multinode-removed"


async def main(redis_url: str, prefix: str) -> dict[str, object]:
    a, b = f"{prefix}-a", f"{prefix}-b"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    memory = await Memory.connect(redis_url, prefix=prefix, writer="test")
    store = await TaskStore.connect(redis_url, prefix)
    try:
        node_a = cluster.add_node(num_cpus=0, resources={robot_resource(a): 1})
        cluster.add_node(num_cpus=0, resources={robot_resource(b): 1})
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        cluster.wait_for_nodes()
        agent = gate_agent_class()
        from robo_os.agent_protocol import agent_actor_name

        held = agent.options(
            name=agent_actor_name(a), resources={robot_resource(a): 1}, max_restarts=0
        ).remote(False)
        kept = agent.options(name=agent_actor_name(b), resources={robot_resource(b): 1}).remote(True)
        assert await kept.seen.remote() == {"runs": [], "cancels": []}  # B's agent is up
        await add_robots(memory, a, b)
        planner = ScriptedPlanner(
            plans={"go": plan(("s1", a, "pick"), ("s2", a, "place", ["s1"]))}, equivalents={a: [b]}
        )
        dispatcher = RayDispatcher(NAMESPACE)
        scheduler = Scheduler(
            store, memory, dispatcher, planner, SchedulerSettings(retry_backoff_s=0.0, rebalance=False)
        )
        await scheduler.start()
        try:
            task = await scheduler.submit(instruction="go")
            started = await asyncio.wait_for(held.wait_started.remote(), WAIT_S)
            cluster.remove_node(node_a)  # A's computer goes away mid-call
            done = await store.wait_terminal(task.id, 120)
            robot = await memory.get_robot(a)
            moved = [e for e in await store.events(task.id) if e.kind == TaskEventKind.subtask_reassigned]
            return {
                "started": started,
                "status": done.status.value,
                "error": None if done.error is None else done.error.model_dump(mode="json"),
                "robots": [s.robot for s in done.subtasks],
                "a_status": None if robot is None else robot.status.value,
                "moved": [e.message for e in moved],
            }
        finally:
            await scheduler.close()
            await dispatcher.close()
    finally:
        await store.close()
        await memory.close()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:3]))), flush=True)
