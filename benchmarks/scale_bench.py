"""The whole stack at fleet sizes: N simulated robots on the kinematic world, their agents
in shared agent hosts, served over HTTP.

    .venv/bin/python benchmarks/scale_bench.py                    # N = 10, 100, 1000
    .venv/bin/python benchmarks/scale_bench.py --sizes 10 100     # quicker (about 2 min)
    .venv/bin/python benchmarks/scale_bench.py --planner          # the embedded planner only

Each size runs in a fresh process (its own redis-server and local Ray, started by the
stack as `robo-os up` does) and prints:

- **start**: seconds of `Stack.start()` (Redis, Ray, world, every agent ready);
- **memory**: resident memory of the whole process tree (this process, Redis, Ray's
  processes, the world and the agent hosts) once started, and per robot: the growth
  over the same tree before the stack started (Ray and Redis alone), over N;
- **idle CPU**: the tree's CPU time over 5 s with nothing to do, in % of one core;
- **heartbeats**: Redis commands per second while idle (each robot's liveness);
- **poses**: `--drivers` robots (default min(N, 50)) sent to another place at once;
  the pose writes per second each driving robot got into memory (the change feed's
  robot updates that carry a pose), next to the skills' own cadence;
- **2 x 2 task**: p50 over HTTP of a task of two dependent groups of two near-instant
  calls (`look` on the kinematic camera), POST to `/wait`'s answer;
- **throughput**: `--tasks` such tasks submitted at once, on different robots:
  subtasks per second until the last one ended.

`--planner`: the embedded planner's time for one object (and five) in generated scenes
of N robots, grounding only the robots that can matter, next to grounding the whole
fleet (up to 100 robots: beyond that the whole fleet takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

TOKEN = "scale-bench-token"


def fleet_of(n: int, drivers: int) -> Any:
    """A floor with one table per robot on a 3 m grid, each robot (mobile manipulators and
    carriers, alternately) at its own; the first `drivers` tables have a free one 1.5 m
    beside them (where those robots are sent)."""
    from robo_os.fleet import FleetConfig

    side = math.ceil(math.sqrt(n))
    half = 3.0 * side / 2
    places: list[dict[str, Any]] = []
    for i in range(n):
        x, y = 3.0 * (i % side) - half + 1.5, 3.0 * (i // side) - half + 1.5
        places.append(
            {
                "name": f"t{i:04d}",
                "kind": "table",
                "pose": {"x": x, "y": y},
                "size": [0.8, 0.8, 0.75],
            }
        )
        if i < drivers:
            places.append(
                {
                    "name": f"f{i:04d}",
                    "kind": "table",
                    "pose": {"x": x, "y": y + 1.5},
                    "size": [0.6, 0.6, 0.75],
                }
            )
    kinds = ("mobile_manipulator", "carrier")
    robots = [{"id": f"r{i:04d}", "embodiment": kinds[i % 2], "at": f"t{i:04d}"} for i in range(n)]
    scene = {"size": [2 * half + 6, 2 * half + 6], "places": places, "objects": []}
    return FleetConfig.model_validate({"scene": scene, "robots": robots})


def tree() -> list[Any]:
    import psutil

    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def tree_rss_mb() -> float:
    total = 0
    for p in tree():
        try:
            total += p.memory_info().rss
        except Exception:  # ended meanwhile
            pass
    return total / 2**20


def tree_cpu_s() -> float:
    total = 0.0
    for p in tree():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:
            pass
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
    )


def two_by_two(robots: list[str]) -> dict[str, Any]:
    """Two groups of two `look` calls; the second group waits for the first."""
    a, b = robots[0], robots[1 % len(robots)]
    return {
        "plan": {
            "subtasks": [
                {"id": "s1", "robot": a, "skill": "look", "args": {}},
                {"id": "s2", "robot": b, "skill": "look", "args": {}},
                {"id": "s3", "robot": a, "skill": "look", "args": {}, "depends_on": ["s1", "s2"]},
                {"id": "s4", "robot": b, "skill": "look", "args": {}, "depends_on": ["s1", "s2"]},
            ]
        }
    }


async def measure(n: int, tasks: int, drivers: int) -> dict[str, Any]:
    import httpx
    import psutil
    import uvicorn

    from robo_os.services import bind_listener
    from robo_os.settings import Settings
    from robo_os.stack import Stack

    fleet = fleet_of(n, drivers)
    settings = Settings(
        redis={"url": None, "key_prefix": f"scale-{uuid.uuid4().hex[:6]}"},
        ray={"namespace": f"scale-{uuid.uuid4().hex[:6]}"},
        api={"host": "127.0.0.1", "token": TOKEN},
        sim={"engine": "kinematic", "real_time": True},  # drives take their time: poses stream
        agent={"hosting": "shared", "robots_per_host": max(25, -(-n // 4))},
        state_dir=Path(os.environ.get("TMPDIR", "/tmp")) / f"scale-{uuid.uuid4().hex[:6]}",
    )
    before_cpu = psutil.cpu_count() or 1
    st = Stack(settings, fleet)
    rss_before = tree_rss_mb()
    t0 = time.perf_counter()
    app = await st.start()
    start_s = time.perf_counter() - t0
    out: dict[str, Any] = {"n": n, "start_s": start_s, "problems": len(st.agent_problems)}
    sock = bind_listener("127.0.0.1", 0, backlog=128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=300)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    assert st.memory is not None
    probe = st.memory
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=300,
            limits=httpx.Limits(max_connections=tasks + 8),
        ) as client:
            robots = [r["id"] for r in (await client.get("/v1/robots")).json()["robots"]]
            live = [r for r in robots if r not in st.agent_problems]
            rss = tree_rss_mb()
            out["rss_mb"] = rss
            out["per_robot_mb"] = (rss - rss_before) / n
            # idle: CPU and Redis commands over a quiet window
            r = probe._r  # the probe's own client: INFO is read-only
            calls0 = int((await r.info("stats"))["total_commands_processed"])
            cmd0 = await r.info("commandstats")
            cpu0, w0 = tree_cpu_s(), time.perf_counter()
            await asyncio.sleep(5.0)  # a measurement window, not a wait for something
            window = time.perf_counter() - w0
            out["idle_cpu_pct"] = 100 * (tree_cpu_s() - cpu0) / window
            calls1 = int((await r.info("stats"))["total_commands_processed"])
            out["idle_redis_per_s"] = (calls1 - calls0 - 2) / window
            cmd1 = await r.info("commandstats")
            busiest = sorted(
                ((v["calls"] - cmd0.get(k, {}).get("calls", 0), k) for k, v in cmd1.items()),
                reverse=True,
            )[:4]
            out["idle_redis_top"] = {k.removeprefix("cmdstat_"): round(c / window) for c, k in busiest}
            out["cores"] = before_cpu

            # per-task overhead: sequential 2 x 2 tasks over HTTP
            cams = [x for x in live if int(x[1:]) % 2 == 0]  # mobile manipulators have cameras
            lat: list[float] = []
            seq_prof = None
            if os.environ.get("SCALE_BENCH_PROFILE") == "seq":
                import cProfile

                seq_prof = cProfile.Profile()
                seq_prof.enable()
            for k in range(25):
                pair = [cams[(2 * k) % len(cams)], cams[(2 * k + 1) % len(cams)]]
                t = time.perf_counter()
                got = await client.post("/v1/tasks", json=two_by_two(pair))
                assert got.status_code == 202, got.text
                posted = time.perf_counter() - t
                done = await client.get(
                    f"/v1/tasks/{got.json()['id']}/wait", params={"timeout": 60}
                )
                assert done.json()["status"] == "succeeded", done.json()
                if k >= 5:
                    lat.append(time.perf_counter() - t)
                if k == 10 and os.environ.get("SCALE_BENCH_DEBUG"):
                    for path in ("/healthz", f"/v1/tasks/{got.json()['id']}", "/v1/robots"):
                        h = time.perf_counter()
                        await client.get(path)
                        print(path[:12], f"{1e3 * (time.perf_counter() - h):.1f}", file=sys.stderr)
                    task = done.json()
                    t0 = task["created_at"]
                    for sub in task["subtasks"]:
                        print(sub["id"], f"{1e3 * (sub['started_at'] - t0):.1f}",
                              f"{1e3 * (sub['finished_at'] - t0):.1f}",
                              f"{1e3 * (sub['result']['started_at'] - t0):.1f}",
                              f"{1e3 * (sub['result']['finished_at'] - t0):.1f}", file=sys.stderr)
                    print("end", f"{1e3 * (task['updated_at'] - t0):.1f}",
                          f"total {1e3 * (time.perf_counter() - t):.1f}", f"post {1e3 * posted:.1f}",
                          file=sys.stderr)
            out["task_p50_ms"] = 1e3 * statistics.median(lat)
            if seq_prof is not None:
                import pstats

                seq_prof.disable()
                pstats.Stats(seq_prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)

            # throughput: many 2 x 2 tasks at once, each on its own pair where there are enough
            async def one(k: int) -> str:
                pair = [cams[(2 * k) % len(cams)], cams[(2 * k + 1) % len(cams)]]
                got = await client.post("/v1/tasks", json=two_by_two(pair))
                if got.status_code != 202:
                    return f"refused {got.status_code}"
                done = await client.get(
                    f"/v1/tasks/{got.json()['id']}/wait", params={"timeout": 240}
                )
                return str(done.json()["status"])

            prof = None
            if os.environ.get("SCALE_BENCH_PROFILE") == "throughput":
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            t = time.perf_counter()
            ends = await asyncio.gather(*(one(k) for k in range(tasks)))
            took = time.perf_counter() - t
            if prof is not None:
                import pstats

                prof.disable()
                pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(40)
            out["subtasks_per_s"] = 4 * ends.count("succeeded") / took
            out["tasks_failed"] = len(ends) - ends.count("succeeded")

            # poses while driving: `drivers` robots sent across the scene at once
            movers = live[:drivers]
            cursor = await probe.latest_cursor()
            t = time.perf_counter()

            async def drive(k: int, robot: str) -> str:
                here, there = f"t{k:04d}", f"f{k:04d}"
                plan = {
                    "subtasks": [
                        {
                            "id": "s1",
                            "robot": robot,
                            "skill": "navigate_to",
                            "args": {"target": there},
                        }
                    ]
                }
                got = await client.post("/v1/tasks", json={"plan": plan})
                if got.status_code != 202:
                    return f"refused {got.status_code}"
                done = await client.get(
                    f"/v1/tasks/{got.json()['id']}/wait", params={"timeout": 240}
                )
                task = done.json()
                if task["status"] != "succeeded" and os.environ.get("SCALE_BENCH_DEBUG"):
                    print("drive", robot, here, there, json.dumps(task)[:1500], file=sys.stderr)
                return str(task["status"])

            drives = await asyncio.gather(*(drive(k, m) for k, m in enumerate(movers)))
            drive_s = time.perf_counter() - t
            changes, _ = await probe.changes_since(cursor, count=10**7)
            poses = [c for c in changes if c.kind == "robot" and "pose" in c.fields]
            by_robot: dict[str, list[float]] = {}
            for c in poses:
                by_robot.setdefault(c.name, []).append(c.ts)
            rates = [
                (len(ts) - 1) / (ts[-1] - ts[0])
                for ts in by_robot.values()
                if len(ts) > 2 and ts[-1] > ts[0]
            ]
            out["pose_hz_median"] = statistics.median(rates) if rates else 0.0
            out["drivers"] = len(movers)
            out["drives_ok"] = drives.count("succeeded")
            out["pose_writes_per_robot_s"] = len(poses) / max(len(movers), 1) / drive_s
    finally:
        server.should_exit = True
        await serving
        sock.close()
        await st.stop()
    return out


def planner_rows(sizes: list[int]) -> None:
    from robo_os_skills import SKILLS

    from robo_os.brain.planning.catalogue import Catalogue
    from robo_os.brain.planning.embedded import EmbeddedPlanner
    from robo_os.brain.planning.instructions import Goal
    from robo_os.skill.schema import build_spec
    from robo_os.symbolic.state import symbolic_state
    from robo_os.testing.scenes import generated_scene
    from robo_os.testing.world import offered_skills

    specs = {s.name: s for s in (build_spec(fn, source="robo-os-skills") for fn in SKILLS)}
    print(f"{'robots':>6} {'objects':>7} {'narrowed ms':>11} {'whole fleet ms':>14} {'ratio':>6}")
    for n in sizes:
        for k in (1, 5):
            robots, objects, places, goals = generated_scene(1, robots=n, places=20, objects=k)
            cat = Catalogue.build(robots, offered_skills(robots, specs), objects, places)
            state = symbolic_state(cat)
            goal = Goal((tuple(("on", o, p) for o, p in goals),), "bench")
            planner = EmbeddedPlanner()
            t = time.perf_counter()
            res = planner.plan(cat, state, goal)
            narrowed = time.perf_counter() - t
            assert res.plan is not None, res.problems
            whole_txt, ratio = "-", ""
            if n <= 100 and k == 1:
                t = time.perf_counter()
                full = planner._plan(cat, state, goal)
                whole = time.perf_counter() - t
                assert full.plan is not None and res.plan.expected_duration_s is not None
                assert full.plan.expected_duration_s is not None
                assert res.plan.expected_duration_s <= full.plan.expected_duration_s + 1e-6
                whole_txt, ratio = f"{whole * 1e3:.0f}", f"{whole / narrowed:.0f}x"
            print(f"{n:>6} {k:>7} {narrowed * 1e3:>11.0f} {whole_txt:>14} {ratio:>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--drivers", type=int, default=50)
    ap.add_argument("--planner", action="store_true")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.planner:
        planner_rows(args.sizes)
        return
    if args.one is not None:
        got = asyncio.run(measure(args.one, args.tasks, min(args.one, args.drivers)))
        print("RESULT " + json.dumps(got))
        return
    print(
        f"{'N':>5} {'start s':>7} {'RSS MB':>7} {'MB/robot':>8} {'idle CPU':>8} {'redis/s':>7}"
        f" {'2x2 p50':>8} {'subtasks/s':>10} {'drivers':>7} {'pose Hz':>7} {'failed':>6}"
    )
    for n in args.sizes:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--tasks",
            str(args.tasks),
            "--drivers",
            str(args.drivers),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{n:>5} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
            continue
        r = json.loads(line[len("RESULT ") :])
        print(
            f"{n:>5} {r['start_s']:>7.1f} {r['rss_mb']:>7.0f} {r['per_robot_mb']:>8.2f}"
            f" {r['idle_cpu_pct']:>7.0f}% {r['idle_redis_per_s']:>7.0f}"
            f" {r['task_p50_ms']:>6.1f}ms {r['subtasks_per_s']:>10.0f}"
            f" {r['drives_ok']:>3}/{r['drivers']:<3} {r['pose_hz_median']:>7.1f}"
            f" {r['tasks_failed'] + r['problems']:>6}"
        )


if __name__ == "__main__":
    main()
