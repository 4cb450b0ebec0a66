"""Memory against physics under injected faults: do reconciled failures leave memory true?

    .venv/bin/python benchmarks/faults_bench.py                 # 60 rounds, about 1 min
    .venv/bin/python benchmarks/faults_bench.py --rounds 20 --slip 0.3 --seed 3

Starts its own redis-server; the world runs in-process (pybullet, no Ray). A fixed arm
picks a cup and puts it back on its counter, round after round, through a real
cerebellum agent and the standard skills, with grasp slips (and slow motions) injected
at the given rates. After every round it asks `diff_all` (memory against the
simulator's ground truth) and counts disagreements; a cup that fell out of reach is put
back by hand (counted). Prints: rounds, skill calls, failures, faults injected,
corrections written by reconciliation, disagreements left after rounds (the goal: 0),
and the p50/p95 of one reconciliation (observe + compare + one Lua script).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter

import pybullet as p
from robo_os_memory import Memory
from robo_os_skills import SKILLS

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.cerebellum.reconcile import Reconciler, diff_all
from robo_os.contracts import SkillCall
from robo_os.fleet import FleetConfig
from robo_os.services import EmbeddedRedis
from robo_os.settings import AgentSettings, FaultSettings, SimSettings
from robo_os.sim import LocalWorldClient, SimRobot, SimWorld, seed_memory
from robo_os.skill.registry import SkillRegistry

SCENE = {
    "scene": {
        "size": [4.0, 4.0],
        "places": [
            {
                "name": "counter",
                "kind": "counter",
                "pose": {"x": 0.0, "y": 0.0},
                "size": [0.8, 1.6, 0.75],
            },
        ],
        "objects": [{"name": "cup", "type": "cup", "at": "counter", "offset": [0.15, -0.3]}],
    },
    "robots": [{"id": "arm1", "embodiment": "fixed_arm", "at": "counter"}],
}


async def main(rounds: int, slip: float, slow: float, seed: int) -> None:
    redis = EmbeddedRedis().start()
    memory = await Memory.connect(redis.url, prefix=f"bench-{uuid.uuid4().hex[:6]}")
    world = SimWorld(
        FleetConfig.model_validate(SCENE),
        SimSettings(seed=seed, faults=FaultSettings(grasp_slip=slip, slow=slow, seed=seed)),
    )
    client = LocalWorldClient(world)
    robot = SimRobot(world.fleet.robots[0], client)
    await seed_memory(memory, client)
    agent = CerebellumAgent(robot, memory, SkillRegistry(SKILLS), AgentSettings())
    await agent.start()
    home = p.getBasePositionAndOrientation(world.object_body("cup"), physicsClientId=world.client)
    calls = failures = corrections = left = put_back = 0
    errors: Counter[str] = Counter()
    try:
        for n in range(rounds):
            for skill, args in (
                ("pick", {"object": "cup"}),
                ("place", {"object": "cup", "target": "counter"}),
            ):
                calls += 1
                call = SkillCall(call_id=f"b/{n}/{skill}", robot="arm1", skill=skill, args=args)
                result = await agent.run(call)
                if not result.ok:
                    failures += 1
                    errors[f"{skill}: {result.error}"] += 1
                    rec = result.data.get("reconciled")
                    if isinstance(rec, dict):
                        corrections += len(rec.get("corrections", []))  # type: ignore[arg-type]
                    break
            left += len(await diff_all(memory, {"arm1": robot}, ask_all=True))
            if world.holder_of("cup") is None and not world.reaches("arm1", "cup"):
                put_back += 1  # out of reach (fell off): back home, memory told so
                p.resetBasePositionAndOrientation(
                    world.object_body("cup"), *home, physicsClientId=world.client
                )
                world.step(240)
                await agent.reconcile("put back")
        timings = []
        reconciler = Reconciler("arm1", robot, memory)
        for _ in range(50):
            t0 = time.perf_counter()
            await reconciler.run("timing")
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        print(f"rounds {rounds}, skill calls {calls}, failed {failures} {dict(errors)}")
        print(f"faults injected: {dict(world.faults.injected)}")
        print(
            f"corrections written by reconciliation: {corrections}; cups put back by hand: {put_back}"
        )
        print(f"disagreements left after rounds (world diff): {left}")
        print(
            f"one reconciliation: p50 {statistics.median(timings):.2f} ms,"
            f" p95 {timings[int(0.95 * len(timings))]:.2f} ms"
        )
    finally:
        await agent.stop()
        await world.stop()
        world.close()
        await memory.close()
        redis.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--slip", type=float, default=0.2)
    ap.add_argument("--slow", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    asyncio.run(main(a.rounds, a.slip, a.slow, a.seed))
