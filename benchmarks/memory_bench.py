"""Benchmark of the shared memory against raw Redis, measured in the same run.

    .venv/bin/python benchmarks/memory_bench.py            # about 40 s
    .venv/bin/python benchmarks/memory_bench.py --quick    # about 10 s

Starts its own redis-server (robo_os.services.EmbeddedRedis) and prints:
1. change -> subscriber latency p50/p99 of `update_robot(pose=...)` seen through
   `Memory.subscribe`, next to raw PUBLISH -> receive over redis-py pub/sub (the
   baseline); the ratio of the p50s is the figure (target <= 2x);
2. pose updates sustained for N robots x H Hz (default 100 x 10): achieved rate, write
   latency, a subscriber's lag, and CPU seconds per second of load for this process and
   for redis-server; plus the unthrottled capacity (the headroom);
3. liveness: how long after its last heartbeat a dead robot is marked offline;
4. the footprint in Redis per robot and per object (INFO used_memory deltas and MEMORY
   USAGE of the keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from robo_os_memory import EntityKind, Memory, ObjectState, PlaceState, Pose, RobotState

from robo_os.services import EmbeddedRedis

MEASURED_YAW = 0.2


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def ms(v: float) -> str:
    return f"{v * 1000:.3f} ms"


async def _one_at_a_time(
    send: Callable[[int], Awaitable[object]], received: asyncio.Queue[float], n: int
) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await send(i)
        t1 = await asyncio.wait_for(received.get(), 10)
        out.append(t1 - t0)
    return out


async def baseline_pubsub(url: str, n: int) -> list[float]:
    """Raw redis-py: PUBLISH on one connection, receive on a subscribed one."""
    pub = aioredis.from_url(url, decode_responses=True)
    sub_client = aioredis.from_url(url, decode_responses=True)
    ps = sub_client.pubsub()
    await ps.subscribe("bench")
    received: asyncio.Queue[float] = asyncio.Queue()

    async def reader() -> None:
        async for msg in ps.listen():
            if msg["type"] == "message":
                received.put_nowait(time.perf_counter())

    task = asyncio.create_task(reader())
    # a payload the size of a pose change
    payload = (
        '{"k":"robot","n":"r1","op":"update","f":{"pose":{"x":1.234,"y":5.678,"z":0.0,"yaw":0.1}}}'
    )
    try:
        await _one_at_a_time(lambda i: pub.publish("bench", payload), received, 200)  # warm up
        return await _one_at_a_time(lambda i: pub.publish("bench", payload), received, n)
    finally:
        await _stop(task)
        await ps.aclose()
        await sub_client.aclose()
        await pub.aclose()


async def memory_change_latency(url: str, n: int) -> list[float]:
    writer = await Memory.connect(url, prefix="bench-latency", writer="r1")
    reader = await Memory.connect(url, prefix="bench-latency", writer="brain")
    await writer.register_robot(RobotState(id="r1", embodiment="mobile", pose=Pose(x=0, y=0)))
    received: asyncio.Queue[float] = asyncio.Queue()
    sub = await reader.subscribe(kinds=[EntityKind.robot]).start()

    async def consume() -> None:
        async for _change in sub:
            received.put_nowait(time.perf_counter())

    task = asyncio.create_task(consume())

    async def send(i: int) -> object:
        return await writer.update_robot("r1", pose=Pose(x=i / 1000, y=5.678, yaw=0.1))

    try:
        await _one_at_a_time(send, received, 200)
        return await _one_at_a_time(send, received, n)
    finally:
        await _stop(task)
        await writer.close()
        await reader.close()


async def redis_cpu(raw: aioredis.Redis) -> float:
    info = await raw.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def pose_load(url: str, robots: int, hz: float, seconds: float) -> dict[str, float]:
    mem = await Memory.connect(url, prefix="bench-load", writer="sim")
    brain = await Memory.connect(url, prefix="bench-load", writer="brain")
    raw = aioredis.from_url(url, decode_responses=True)
    for i in range(robots):
        await mem.register_robot(RobotState(id=f"r{i}", embodiment="mobile", pose=Pose(x=i, y=0)))
    lags: list[float] = []
    seen = 0
    sub = await brain.subscribe(kinds=[EntityKind.robot]).start()

    async def watch() -> None:
        nonlocal seen
        async for change in sub:
            if change.fields["pose"]["yaw"] != MEASURED_YAW:
                continue
            seen += 1
            lags.append(time.time() - change.ts)
            if seen == total_expected:
                drained.set()

    write_lat: list[float] = []
    late = 0
    total_expected = -1
    drained = asyncio.Event()
    loop = asyncio.get_running_loop()

    warmup = 1.0  # connections open, caches warm: not measured
    measuring = asyncio.Event()

    async def robot(i: int, start: float) -> int:
        nonlocal late
        done = 0
        period = 1.0 / hz
        k = 0
        while True:
            at = start + i * period / robots + k * period  # robots spread over the period
            if at - start >= warmup + seconds:
                return done
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the 10 Hz cadence of a robot, not synchronisation
            elif delay < -period and measuring.is_set():
                late += 1
            t0 = time.perf_counter()
            # yaw tags the measured writes for the subscriber
            yaw = MEASURED_YAW if measuring.is_set() else 0.1
            await mem.update_robot(f"r{i}", pose=Pose(x=i + k / 100, y=0, yaw=yaw))
            if yaw == MEASURED_YAW:
                write_lat.append(time.perf_counter() - t0)
                done += 1
            k += 1

    watcher = asyncio.create_task(watch())
    start = loop.time() + 0.05
    robots_done = asyncio.gather(*(robot(i, start) for i in range(robots)))
    await asyncio.sleep(start + warmup - loop.time())  # benchmark phase boundary
    measuring.set()
    cpu0, rcpu0, t0 = time.process_time(), await redis_cpu(raw), time.perf_counter()
    counts = await robots_done
    wall = time.perf_counter() - t0
    cpu, rcpu = time.process_time() - cpu0, await redis_cpu(raw) - rcpu0
    total = sum(counts)
    # let the subscriber drain what is in flight, with a deadline
    total_expected = total
    if seen < total:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained.wait(), 10)
    await _stop(watcher)

    # unthrottled: every robot writes as fast as it can for a while
    burst_s = min(3.0, seconds)
    n_burst = 0
    stop_at = time.perf_counter() + burst_s

    async def flat_out(i: int) -> None:
        nonlocal n_burst
        k = 0
        while time.perf_counter() < stop_at:
            await mem.update_robot(f"r{i}", pose=Pose(x=i + k / 100, y=1, yaw=0.2))
            n_burst += 1
            k += 1

    b0 = time.perf_counter()
    await asyncio.gather(*(flat_out(i) for i in range(robots)))
    burst_rate = n_burst / (time.perf_counter() - b0)
    await raw.aclose()
    await mem.close()
    await brain.close()
    return {
        "target": robots * hz,
        "rate": total / wall,
        "late": late,
        "write_p50": pct(write_lat, 50),
        "write_p99": pct(write_lat, 99),
        "lag_p50": pct(lags, 50) if lags else float("nan"),
        "lag_p99": pct(lags, 99) if lags else float("nan"),
        "seen": seen,
        "total": total,
        "client_cpu": cpu / wall,
        "redis_cpu": rcpu / wall,
        "burst": burst_rate,
    }


async def liveness(url: str, robots: int, interval: float) -> list[float]:
    mem = await Memory.connect(url, prefix="bench-live", heartbeat_interval_s=interval)
    last: dict[str, float] = {}
    for i in range(robots):
        r = await mem.register_robot(RobotState(id=f"d{i}", embodiment="mobile"))
        assert r.last_heartbeat is not None
        last[r.id] = r.last_heartbeat
    delays: list[float] = []
    watcher = asyncio.create_task(mem.watch_liveness())
    async with mem.subscribe(kinds=[EntityKind.robot], cursor="0") as sub:
        async for change in sub:
            if change.op == "offline":
                delays.append(change.ts - last[change.name])
                if len(delays) == robots:
                    break
    await _stop(watcher)
    await mem.close()
    return delays


async def footprint(url: str, n: int, prefix: str) -> dict[str, float]:
    raw = aioredis.from_url(url, decode_responses=True)

    async def used() -> int:
        return int((await raw.info("memory"))["used_memory"])

    mem = await Memory.connect(url, prefix=prefix, writer="brain")
    await mem.upsert_place(PlaceState(name="table", pose=Pose(x=0, y=0)))
    m0 = await used()
    for i in range(n):
        await mem.upsert_object(
            ObjectState(
                name=f"object{i:05d}",
                type="cup",
                on="table",
                pose=Pose(x=i / 100, y=1),
                attrs={"colour": "red"},
            )
        )
    m1 = await used()
    for i in range(n):
        await mem.register_robot(
            RobotState(
                id=f"robot{i:05d}",
                embodiment="mobile_manipulator",
                capabilities=("navigate", "manipulate"),
                pose=Pose(x=i / 100, y=2),
            )
        )
    m2 = await used()
    # a robot's pose history at its full length (entity_history_maxlen=1000 updates)
    for k in range(1000):
        await mem.update_robot("robot00000", pose=Pose(x=k / 100, y=2, yaw=0.1))
    k_obj = mem.keys.record(EntityKind.object, "object00000")
    k_rob = mem.keys.record(EntityKind.robot, "robot00001")
    out = {
        "object_total": (m1 - m0) / n,
        "robot_total": (m2 - m1) / n,
        "object_record": float(await raw.memory_usage(k_obj) or 0),
        "robot_record": float(await raw.memory_usage(k_rob) or 0),
        "object_history": float(
            await raw.memory_usage(mem.keys.entity_history(EntityKind.object, "object00000")) or 0
        ),
        "robot_history_full": float(
            await raw.memory_usage(
                mem.keys.entity_history(EntityKind.robot, "robot00000"), samples=0
            )
            or 0
        ),
        "changes_stream_per_entry": float(await raw.memory_usage(mem.keys.changes, samples=0) or 0)
        / max(1, await raw.xlen(mem.keys.changes)),
    }
    await mem.close()
    await raw.aclose()
    return out


async def main(args: argparse.Namespace) -> None:
    with EmbeddedRedis() as server:
        url = server.url
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"redis-server {server.port}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs,"
            f" load average {load} (other work on the machine skews the figures)"
        )
        print("\n1. change -> subscriber latency (one change in flight at a time)")
        base = await baseline_pubsub(url, args.samples)
        memo = await memory_change_latency(url, args.samples)
        print(f"   raw PUBLISH -> receive        p50 {ms(pct(base, 50))}  p99 {ms(pct(base, 99))}")
        print(f"   update_robot -> subscribe()   p50 {ms(pct(memo, 50))}  p99 {ms(pct(memo, 99))}")
        print(f"   ratio at p50: {pct(memo, 50) / pct(base, 50):.2f}x   (target <= 2x)")

        print(f"\n2. pose updates: {args.robots} robots x {args.hz:g} Hz for {args.seconds:g} s")
        d = await pose_load(url, args.robots, args.hz, args.seconds)
        late = f"{d['late']:.0f} beats late by more than a period"
        print(f"   achieved {d['rate']:.0f}/s of {d['target']:.0f}/s target; {late}")
        print(f"   write latency p50 {ms(d['write_p50'])}  p99 {ms(d['write_p99'])}")
        seen = f"{d['seen']:.0f}/{d['total']:.0f}"
        print(f"   subscriber saw {seen}; lag p50 {ms(d['lag_p50'])}  p99 {ms(d['lag_p99'])}")
        cpu = f"client {d['client_cpu']:.2f} s/s, redis-server {d['redis_cpu']:.2f} s/s"
        print(f"   CPU per second of load: {cpu}")
        burst = f"{d['burst']:.0f} updates/s = {d['burst'] / d['target']:.1f}x the target"
        print(f"   unthrottled capacity {burst}")
        print(f"   load average now {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")

        n, interval = args.live_robots, args.interval
        print(f"\n3. liveness: {n} robots stop heartbeating (interval {interval:g} s)")
        delays = await liveness(url, n, interval)
        bound = f"bound 2 x interval = {ms(2 * interval)}"
        spread = f"p50 {ms(pct(delays, 50))}  max {ms(max(delays))}"
        print(f"   offline after last heartbeat: {spread}  ({bound})")

        for node_bytes in (4096, 1024):
            raw = aioredis.from_url(url)
            await raw.config_set("stream-node-max-bytes", node_bytes)
            await raw.aclose()
            n = args.footprint
            print(f"\n4. footprint ({n} objects, {n} robots), stream-node-max-bytes {node_bytes}")
            f = await footprint(url, args.footprint, f"bench-foot-{node_bytes}")
            print(
                f"   per object: {f['object_total']:.0f} B in all"
                f" (record {f['object_record']:.0f} B, own history stream"
                f" {f['object_history']:.0f} B, the rest indexes and global stream)"
            )
            print(
                f"   per robot: {f['robot_total']:.0f} B in all (record {f['robot_record']:.0f} B);"
                f" a full 1000-entry pose history {f['robot_history_full'] / 1024:.0f} KiB"
            )
            print(f"   global change stream: {f['changes_stream_per_entry']:.0f} B per entry")


if __name__ == "__main__":
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--robots", type=int, default=100)
    p.add_argument("--hz", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--live-robots", type=int, default=20)
    p.add_argument("--footprint", type=int, default=1000)
    p.add_argument("--quick", action="store_true", help="fewer samples, 5 s of load")
    a = p.parse_args()
    if a.quick:
        a.samples, a.seconds, a.footprint = 500, 5.0, 300
    asyncio.run(main(a))
