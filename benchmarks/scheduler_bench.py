"""The brain runtime's own overhead: scheduling, dispatch and durable state, with agents
that answer instantly, next to a RoboOS-style polling loop measured in the same run.

    .venv/bin/python benchmarks/scheduler_bench.py            # about 30 s
    .venv/bin/python benchmarks/scheduler_bench.py --quick    # about 10 s

Starts its own redis-server and prints:
1. the reference's task shape (2 subtasks of 2 skill calls each, the second subtask
   after the first, on two robots): submission -> succeeded, median over the runs, and
   the gap between r0's last call ending and r1's first call (which depends on it)
   starting; next to the
   baseline: the same calls run by a master that dispatches subtasks group by group
   (integer order) and polls a Redis "busy" flag every 0.5 s until the group's robot
   is idle (what RoboOS 2.0 does); the ratio of the medians is the figure (our plan
   has one subtask per skill call, so it stores the state of 4 subtasks durably);
2. throughput: many tasks of 3-subtask chains over 10 robots at once: tasks/s, and the
   runtime's cost per subtask (every state change stored with its event in Redis);
3. one versioned task write (Lua CAS + event) and one blocking-read wake-up, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import redis.asyncio as aioredis
from robo_os_memory import Memory, Pose, RobotState

from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.brain.runtime.scheduler import Scheduler
from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import (
    Plan,
    SkillCall,
    SkillResult,
    Subtask,
    Task,
    TaskEvent,
    TaskEventKind,
)
from robo_os.services import EmbeddedRedis
from robo_os.settings import SchedulerSettings
from robo_os.testing import ScriptedPlanner


class InstantAgent:
    """Answers every call at once and notes when each started and ended."""

    def __init__(self, robot: str, marks: dict[str, tuple[float, float]]) -> None:
        self.robot = robot
        self.marks = marks

    async def run(self, call: SkillCall) -> SkillResult:
        t = time.perf_counter()
        await asyncio.sleep(0)  # one loop turn, like any awaited skill
        self.marks[call.call_id] = (t, time.perf_counter())
        return SkillResult.success()

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        return False


def reference_plan() -> Plan:
    """2 subtasks x 2 skill calls, the second subtask after the first (RoboOS's shape)."""
    return Plan(
        subtasks=[
            Subtask(id="s1a", robot="r0", skill="navigate", args={"to": "counter"}),
            Subtask(id="s1b", robot="r0", skill="pick", args={"obj": "apple"}, depends_on=["s1a"]),
            Subtask(
                id="s2a", robot="r1", skill="navigate", args={"to": "table"}, depends_on=["s1b"]
            ),
            Subtask(
                id="s2b",
                robot="r1",
                skill="place",
                args={"obj": "apple", "on": "table"},
                depends_on=["s2a"],
            ),
        ]
    )


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def ours(url: str, runs: int) -> tuple[list[float], list[float]]:
    prefix = f"bench-{time.time_ns()}"
    memory = await Memory.connect(url, prefix=prefix, writer="bench")
    store = await TaskStore.connect(url, prefix)
    marks: dict[str, tuple[float, float]] = {}
    robots = [f"r{i}" for i in range(10)]
    for i, r in enumerate(robots):
        await memory.register_robot(
            RobotState(id=r, embodiment="bench", pose=Pose(x=float(i), y=0.0))
        )
        await memory.heartbeat(r, ttl_s=3600)
    dispatcher = LocalDispatcher({r: InstantAgent(r, marks) for r in robots})
    sched = Scheduler(store, memory, dispatcher, ScriptedPlanner(), SchedulerSettings(rebalance=False))
    await sched.start()
    totals, gaps = [], []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            task = await sched.submit(plan=reference_plan())
            done = await store.wait_terminal(task.id, 30)
            totals.append(time.perf_counter() - t0)
            assert done.status.value == "succeeded", done.error
            for dep, nxt in (("s1b", "s2a"),):  # the hand-over between the two robots
                gaps.append(marks[f"{task.id}/{nxt}/1"][0] - marks[f"{task.id}/{dep}/1"][1])
    finally:
        await sched.close()
        await store.close()
        await memory.close()
    return totals, gaps


async def polling_baseline(
    url: str, runs: int, poll_s: float = 0.5
) -> tuple[list[float], list[float]]:
    """RoboOS 2.0's master: subtasks grouped by order, each group dispatched, then a loop
    that reads a Redis busy flag every `poll_s` until the group's robot is idle (the
    baseline keeps no durable task state at all)."""
    r = aioredis.Redis.from_url(url, decode_responses=True)
    marks: dict[str, tuple[float, float]] = {}
    agents = {x: InstantAgent(x, marks) for x in ("r0", "r1")}
    totals, gaps = [], []
    keep: set[asyncio.Task[None]] = set()

    async def robot_side(robot: str, calls: list[SkillCall]) -> None:
        for call in calls:  # a RoboOS subtask: its skill calls run back to back on the robot
            await agents[robot].run(call)
        await r.set(f"baseline:busy:{robot}", "0")

    try:
        for n in range(runs):
            t0 = time.perf_counter()
            # Group by integer order: subtask 1 (r0: s1a, s1b), then subtask 2 (r1: s2a, s2b).
            for robot, sids in (("r0", ["s1a", "s1b"]), ("r1", ["s2a", "s2b"])):
                await r.set(f"baseline:busy:{robot}", "1")
                calls = [SkillCall(call_id=f"b{n}/{sid}", robot=robot, skill="x") for sid in sids]
                job = asyncio.create_task(robot_side(robot, calls))
                keep.add(job)
                job.add_done_callback(keep.discard)
                # The reference's polling, reproduced on purpose: it is the baseline.
                while await r.get(f"baseline:busy:{robot}") == "1":  # noqa: ASYNC110
                    await asyncio.sleep(poll_s)
            totals.append(time.perf_counter() - t0)
            for dep, nxt in (("s1b", "s2a"),):  # the hand-over between the two robots
                gaps.append(marks[f"b{n}/{nxt}"][0] - marks[f"b{n}/{dep}"][1])
    finally:
        await r.aclose()
    return totals, gaps


async def throughput(url: str, tasks: int) -> tuple[float, float, int]:
    prefix = f"bench-tp-{time.time_ns()}"
    memory = await Memory.connect(url, prefix=prefix, writer="bench")
    store = await TaskStore.connect(url, prefix)
    robots = [f"r{i}" for i in range(10)]
    for i, r in enumerate(robots):
        await memory.register_robot(
            RobotState(id=r, embodiment="bench", pose=Pose(x=float(i), y=0.0))
        )
        await memory.heartbeat(r, ttl_s=3600)
    marks: dict[str, tuple[float, float]] = {}
    sched = Scheduler(
        store,
        memory,
        LocalDispatcher({r: InstantAgent(r, marks) for r in robots}),
        ScriptedPlanner(),
        SchedulerSettings(rebalance=False),
    )
    await sched.start()
    try:
        t0 = time.perf_counter()
        submitted = []
        for i in range(tasks):
            robot = robots[i % len(robots)]
            plan = Plan(
                subtasks=[
                    Subtask(id="a", robot=robot, skill="navigate"),
                    Subtask(id="b", robot=robot, skill="pick", depends_on=["a"]),
                    Subtask(id="c", robot=robot, skill="place", depends_on=["b"]),
                ]
            )
            submitted.append(await sched.submit(plan=plan))
        results = await asyncio.gather(*(store.wait_terminal(t.id, 120) for t in submitted))
        elapsed = time.perf_counter() - t0
        assert all(t.status.value == "succeeded" for t in results)
    finally:
        await sched.close()
        await store.close()
        await memory.close()
    return tasks / elapsed, elapsed / (3 * tasks), len(marks)


async def store_ops(url: str, n: int) -> tuple[list[float], list[float]]:
    store = await TaskStore.connect(url, f"bench-store-{time.time_ns()}")
    writes, wakes = [], []
    try:
        task = await store.create(Task(id="w"))
        for _ in range(n):
            t0 = time.perf_counter()
            task = await store.save(
                task, task.version, [TaskEvent(task_id="w", kind=TaskEventKind.subtask_progress)]
            )
            writes.append(time.perf_counter() - t0)
        cursor = (await store.events("w"))[-1].cursor or "0-0"
        for _ in range(min(n, 200)):
            reader = asyncio.create_task(store.read_events("w", cursor, block_s=5))
            await asyncio.sleep(0.002)  # let the reader block first: we time its wake-up
            t0 = time.perf_counter()
            task = await store.save(
                task, task.version, [TaskEvent(task_id="w", kind=TaskEventKind.subtask_progress)]
            )
            events = await reader
            wakes.append(time.perf_counter() - t0)
            cursor = events[-1].cursor or cursor
    finally:
        await store.close()
    return writes, wakes


async def main(quick: bool) -> None:
    runs = 5 if quick else 12
    server = EmbeddedRedis().start()
    try:
        url = server.url
        print(
            f"robo-os scheduler benchmark ({'quick' if quick else 'full'}), python {sys.version.split()[0]}"
        )
        totals, gaps = await ours(url, runs)
        base_totals, base_gaps = await polling_baseline(url, max(3, runs // 3))
        print("\n1. reference task shape (4 skill calls, each after the previous), instant agents")
        print(
            f"   robo-os  submit->succeeded  p50 {1000 * statistics.median(totals):7.2f} ms   p99 {1000 * pct(totals, 0.99):7.2f} ms"
        )
        print(
            f"            robot hand-over gap  p50 {1000 * statistics.median(gaps):7.2f} ms   p99 {1000 * pct(gaps, 0.99):7.2f} ms"
        )
        print(
            f"   polling  submit->succeeded  p50 {1000 * statistics.median(base_totals):7.2f} ms   (0.5 s busy-flag polling, same run)"
        )
        print(f"            robot hand-over gap  p50 {1000 * statistics.median(base_gaps):7.2f} ms")
        print(
            f"   ratio baseline/robo-os (submit->succeeded p50): {statistics.median(base_totals) / statistics.median(totals):.1f}x faster"
        )
        n_tasks = 60 if quick else 200
        rate, per_subtask, calls = await throughput(url, n_tasks)
        print(f"\n2. throughput: {n_tasks} tasks x 3 chained subtasks on 10 robots ({calls} calls)")
        print(
            f"   {rate:.1f} tasks/s, {1000 * per_subtask:.2f} ms of wall time per subtask (all stored durably)"
        )
        writes, wakes = await store_ops(url, 300 if quick else 1000)
        print("\n3. task store")
        print(
            f"   versioned write + event   p50 {1000 * statistics.median(writes):.3f} ms   p99 {1000 * pct(writes, 0.99):.3f} ms"
        )
        print(
            f"   blocking-read wake-up     p50 {1000 * statistics.median(wakes):.3f} ms   p99 {1000 * pct(wakes, 0.99):.3f} ms"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
