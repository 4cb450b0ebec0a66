"""Dispatch overhead of a cerebellum agent against a raw Ray actor call, in the same run.

    .venv/bin/python benchmarks/dispatch_bench.py            # about 30 s
    .venv/bin/python benchmarks/dispatch_bench.py --n 200    # quicker

Starts its own redis-server and a local Ray, then alternates two kinds of call from an
asyncio driver (as the brain's RayDispatcher awaits them):

- raw:   `await actor.ping.remote()` on a trivial async actor (num_cpus=0); the method
         returns the wall time it started at;
- agent:   `await RayDispatcher.run(SkillCall(...))`, exactly what the brain does, on an
         AgentActor whose robot is a no-op fake; the skill returns the wall time it
         started at (inside the skill, after lookup, argument validation, the robot lock
         and the busy status).

- payload: `await actor.echo.remote(call)`, a trivial method that takes a SkillCall
         object and returns a SkillResult object (pydantic pickled by Ray): what the
         payload would cost without the dispatcher's JSON-mode wire format.

For each it prints p50/p99 of "dispatch -> running" (method/skill start minus the time
the call was issued) and of the round trip, and the ratios of the p50s (target for
agent/raw dispatch -> running: within 1.5x). The agent's memory writes (busy, idle, the
stored result) are real, on the real Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from robo_os_memory import Memory, Pose

from robo_os.brain.runtime.dispatch import RayDispatcher
from robo_os.cerebellum.actor import AgentConfig, start_agent
from robo_os.contracts import SkillCall, SkillResult
from robo_os.fleet import RobotConfig
from robo_os.services import EmbeddedRedis
from robo_os.settings import AgentSettings
from robo_os.skill import skill


@skill(capabilities={"bench"}, timeout_s=10)
async def mark() -> dict[str, float]:
    """Return when the skill started running."""
    return {"t": time.time()}


class BenchRobot:
    """The smallest Robot: nothing to connect, never moves."""

    def __init__(self, robot_id: str) -> None:
        self.id = robot_id
        self.embodiment = "bench"
        self.capabilities = frozenset({"bench"})

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def pose(self) -> Pose:
        return Pose(x=0.0, y=0.0)


def bench_robot(config: RobotConfig) -> BenchRobot:
    return BenchRobot(config.id)


@ray.remote(num_cpus=0)
class Echo:
    async def ping(self) -> float:
        return time.time()

    async def echo(self, call: SkillCall) -> SkillResult:
        """The same payload as the agent's call and result, with no agent behind it."""
        return SkillResult.success(data={"t": time.time()})


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def row(name: str, values: list[float]) -> str:
    p50, p99, mean = pct(values, 50) * 1e3, pct(values, 99) * 1e3, statistics.fmean(values) * 1e3
    return f"  {name:<26} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   mean {mean:7.3f} ms"


async def measure(echo: Any, dispatcher: RayDispatcher, robot: str, n: int, warmup: int) -> dict[str, list[float]]:
    kinds = ("raw", "payload", "agent")
    out: dict[str, list[float]] = {f"{k}_{m}": [] for k in kinds for m in ("start", "rtt")}
    for i in range(warmup + n):
        call = SkillCall(call_id=f"bench-{uuid.uuid4().hex}", robot=robot, skill="mark")
        t0 = time.time()
        started = await echo.ping.remote()
        t1 = time.time()
        same = await echo.echo.remote(call)
        t2 = time.time()
        result = await dispatcher.run(call, timeout_s=10)
        t3 = time.time()
        if not result.ok:
            raise SystemExit(f"the agent failed the call: {result}")
        if i >= warmup:
            out["raw_start"].append(started - t0)
            out["raw_rtt"].append(t1 - t0)
            out["payload_start"].append(float(same.data["t"]) - t1)
            out["payload_rtt"].append(t2 - t1)
            out["agent_start"].append(float(result.data["t"]) - t2)
            out["agent_rtt"].append(t3 - t2)
    return out


async def main(n: int, warmup: int) -> None:
    redis = EmbeddedRedis().start()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        namespace="bench",
    )
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        echo = Echo.remote()
        robot = RobotConfig(id="bench1", embodiment="bench", at="nowhere")
        config = AgentConfig(
            robot=robot,
            redis_url=redis.url,
            key_prefix=prefix,
            agent=AgentSettings(),
            robot_factory=bench_robot,
            plugins=False,
            skills=(mark,),
        )
        agent = await start_agent(config, namespace="bench")
        await echo.ping.remote()
        got = await measure(echo, RayDispatcher("bench"), robot.id, n, warmup)
        print(f"dispatch benchmark: {n} calls of each kind (after {warmup} warm-up), interleaved")
        for metric, title in (("start", "dispatch -> running"), ("rtt", "round trip")):
            print(title)
            print(row("raw Ray actor method", got[f"raw_{metric}"]))
            print(row("raw, pydantic payload", got[f"payload_{metric}"]))
            print(row("brain -> agent skill", got[f"agent_{metric}"]))
        for metric, title in (("start", "dispatch -> running"), ("rtt", "round trip")):
            agent_p50 = pct(got[f"agent_{metric}"], 50)
            print(
                f"ratio at p50, {title}: agent/raw {agent_p50 / pct(got[f'raw_{metric}'], 50):.2f}x"
                f"{' (target <= 1.5x)' if metric == 'start' else ''},"
                " agent/raw-with-a-pydantic-payload"
                f" {agent_p50 / pct(got[f'payload_{metric}'], 50):.2f}x"
            )
        memory = await Memory.connect(redis.url, prefix=prefix)
        state = await memory.get_robot(robot.id)
        await memory.close()
        if state is not None:
            # a no-op skill ends within the status writer's batching window: its busy
            # and idle updates merge into "no change" and are not written at all
            print(f"robot record after the run: status={state.status} version={state.version}")
        await agent.stop.remote()
    finally:
        ray.shutdown()
        redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="measured calls of each kind")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.warmup))
