"""A burst of submissions against the brain: who is accepted, who is refused, how fast.

    .venv/bin/python benchmarks/burst.py                       # 500 at concurrency 100
    .venv/bin/python benchmarks/burst.py --limit 50 --wait 30  # 50 at once, the rest queue

Starts its own redis-server. The brain is the real app (real planner checking each
explicit plan against the memory, real task store) served by uvicorn on a free port, with
a fleet of scripted agents that answer every call at once, so the figures are the
brain's own. Each submission is a one-subtask plan (`look` on one of the camera robots
of a generated scene). Next to it, in the same run and the same event loop, a bare
FastAPI endpoint that answers 202 with a small JSON body gets the same burst: the ratio
of the two is what the brain's intake costs, whatever the machine.

Prints: answers by status (202 accepted, 429 refused; any 5xx is a failure), p50/p95 of
the submissions' latency and the bare endpoint's, their ratio, /healthz latency during
the burst, the time until every accepted task ended, and tasks that did not succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, status
from robo_os_memory import Memory

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import SkillCall, SkillResult
from robo_os.services import EmbeddedRedis, bind_listener
from robo_os.settings import Settings
from robo_os.skill.registry import discover
from robo_os.testing import ScriptedAgent
from robo_os.testing.scenes import generated_scene

TOKEN = "burst-bench-token"


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/tasks", status_code=status.HTTP_202_ACCEPTED)
    async def accept(body: dict[str, Any]) -> dict[str, str]:
        return {"id": uuid.uuid4().hex[:12], "status": "pending"}

    return app


async def serve(app: Any) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    sock = bind_listener("127.0.0.1", 0, backlog=128)
    port = sock.getsockname()[1]
    # keep-alive longer than the burst: a client must not reuse a connection the server
    # closed meanwhile (uvicorn closes idle ones after 5 s)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=300)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return f"http://127.0.0.1:{port}", server, task


async def scene(memory: Memory) -> list[str]:
    robots, objects, places, _ = generated_scene(7, robots=8, places=6, objects=6)
    for place in places:
        await memory.upsert_place(place)
    for obj in objects:
        await memory.upsert_object(obj)
    skills = discover()
    for robot in robots:
        await memory.register_robot(robot)
        await memory.heartbeat(robot.id, ttl_s=3600)
        offered = skills.for_capabilities(robot.capabilities)
        await memory.set_robot_skills(
            robot.id, {s.name: s.spec.model_dump(mode="json") for s in offered}
        )
    return [r.id for r in robots if "camera" in r.capabilities]


def body(n: int, cameras: list[str]) -> dict[str, Any]:
    robot = cameras[n % len(cameras)]
    return {"plan": {"subtasks": [{"id": "s1", "robot": robot, "skill": "look", "args": {}}]}}


async def burst(
    url: str, n: int, concurrency: int, cameras: list[str], health: bool
) -> tuple[list[tuple[int, float, str]], list[float], float]:
    """(status, latency s, task id) per submission; /healthz latencies; wall time."""
    gate = asyncio.Semaphore(concurrency)
    probes: list[float] = []
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120, limits=limits
    ) as client:

        async def one(k: int) -> tuple[int, float, str]:
            async with gate:
                if health and k % 50 == 25:
                    t0 = time.perf_counter()
                    await client.get("/healthz")
                    probes.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                r = await client.post("/v1/tasks", json=body(k, cameras))
                took = time.perf_counter() - t0
                task_id = r.json().get("id", "") if r.status_code in (201, 202) else ""
                return r.status_code, took, task_id

        t0 = time.perf_counter()
        out = await asyncio.gather(*(one(k) for k in range(n)))
        return list(out), probes, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    redis = EmbeddedRedis().start()
    prefix = f"burst-{uuid.uuid4().hex[:6]}"
    try:
        settings = Settings.model_validate(
            {
                "redis": {"url": redis.url, "key_prefix": prefix, "max_connections": args.pool},
                "api": {"token": TOKEN},
                "scheduler": {
                    "max_active_tasks": args.limit,
                    "admission_wait_s": args.wait,
                    "admission_queue": args.burst,
                    "rebalance": False,
                },
            }
        )
        memory = await Memory.connect(
            redis.url, prefix=prefix, writer="brain", max_connections=args.pool
        )
        cameras = await scene(memory)
        agents = {r: ScriptedAgent(r) for r in cameras}

        def answer(call: SkillCall) -> SkillResult:
            return SkillResult.success(f"{call.skill} done")

        for agent in agents.values():
            agent.auto = answer
        app = create_app(
            settings, memory=memory, dispatcher=LocalDispatcher(agents), watch_liveness=False
        )
        brain_url, brain_server, brain_task = await serve(app)
        bare_url, bare_server, bare_task = await serve(bare_app())
        cams = cameras
        # warm both (imports, first connections), then measure
        await burst(bare_url, 20, 10, cams, health=False)
        await burst(brain_url, 20, 10, cams, health=False)
        bare, _, bare_wall = await burst(bare_url, args.burst, args.concurrency, cams, False)
        brain, probes, wall = await burst(brain_url, args.burst, args.concurrency, cams, True)

        t0 = time.perf_counter()
        accepted = [t for code, _, t in brain if code in (201, 202)]
        statuses: Counter[str] = Counter()
        async with httpx.AsyncClient(
            base_url=brain_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300
        ) as client:
            gate = asyncio.Semaphore(args.concurrency)

            async def ended(task_id: str) -> str:
                async with gate:
                    r = await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": 300})
                    return str(r.json()["status"])

            for s in await asyncio.gather(*(ended(t) for t in accepted)):
                statuses[s] += 1
        drained = time.perf_counter() - t0

        codes = Counter(code for code, _, _ in brain)
        lat_ok = [took for code, took, _ in brain if code in (201, 202)]
        lat_all = [took for _, took, _ in brain]
        lat_bare = [took for _, took, _ in bare]
        five = sum(v for k, v in codes.items() if k >= 500)
        load = os.getloadavg()
        print(
            f"burst: {args.burst} submissions at concurrency {args.concurrency}; limit"
            f" {args.limit}, admission wait {args.wait} s, pool {args.pool};"
            f" load average {load[0]:.1f}"
        )
        print(
            f"answers: {dict(sorted(codes.items()))}  (accepted {codes[202] + codes[201]},"
            f" refused 429 {codes[429]}, 5xx {five})"
        )
        print(
            f"brain latency, all answers: p50 {pct(lat_all, 0.5) * 1000:.1f} ms,"
            f" p95 {pct(lat_all, 0.95) * 1000:.1f} ms; accepted only: p50"
            f" {pct(lat_ok, 0.5) * 1000:.1f} ms, p95 {pct(lat_ok, 0.95) * 1000:.1f} ms"
        )
        print(
            f"bare FastAPI endpoint: p50 {pct(lat_bare, 0.5) * 1000:.1f} ms,"
            f" p95 {pct(lat_bare, 0.95) * 1000:.1f} ms; wall {bare_wall:.2f} s"
        )
        print(
            f"ratio brain/bare: p50 {pct(lat_all, 0.5) / pct(lat_bare, 0.5):.1f}x,"
            f" p95 {pct(lat_all, 0.95) / pct(lat_bare, 0.95):.1f}x;"
            f" wall {wall:.2f} s vs {bare_wall:.2f} s"
        )
        print(
            f"/healthz during the burst: {len(probes)} probes, max"
            f" {max(probes, default=float('nan')) * 1000:.1f} ms"
        )
        print(
            f"accepted tasks: {dict(statuses)}; all ended {drained:.2f} s after the burst;"
            f" throughput {len(accepted) / (wall + drained):.0f} tasks/s"
        )
        lost = sum(v for k, v in statuses.items() if k != "succeeded")
        print(f"lost (accepted but not succeeded): {lost}")

        for server in (brain_server, bare_server):
            server.should_exit = True
        await asyncio.gather(brain_task, bare_task)
        await memory.close()
    finally:
        redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--limit", type=int, default=256, help="scheduler.max_active_tasks")
    parser.add_argument("--wait", type=float, default=0.0, help="scheduler.admission_wait_s")
    parser.add_argument("--pool", type=int, default=64, help="redis.max_connections")
    asyncio.run(main(parser.parse_args()))
