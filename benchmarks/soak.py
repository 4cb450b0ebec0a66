"""Soak: many tasks against the whole stack, with faults, checking that memory stays true.

    .venv/bin/python benchmarks/soak.py                          # 200 tasks on 4 robots
    .venv/bin/python benchmarks/soak.py --tasks 6 --robots 3     # a quick look
    .venv/bin/python benchmarks/soak.py --slip 0.05 --drop 0.02 --cancel 0.1 --seed 3 --json

Starts the stack `robo-os up` runs (embedded Redis, local Ray, the pybullet world actor,
one agent actor per robot, the brain with the embedded planner) on the household scene,
with extra mobile manipulators for `--robots` above 3 and three more objects. Keeps `--concurrency` tasks in
flight (each on objects no other task in flight names), mixing "bring the X to the Y"
and "put the X on the Y"; the simulator injects grasp slips (`--slip` per pick), drops
while carrying (`--drop` per drive) and slow motions (`--slow`), and `--cancel` of the tasks are cancelled at a
random moment (their running skills are killed). After every task, `GET /v1/world/diff`
is asked about the objects it touched (disagreements counted); at the end about
everything (must be 0), and any task that did not end within `--task-timeout` is stuck
(must be 0). An object that ends on the floor stays there (no robot picks from the
floor): it is counted and left out of later tasks.

Prints: tasks completed / failed / cancelled / stuck, the injected faults, put-downs after
failed or cancelled tasks, disagreements after tasks and at the end, p50/p95 task
seconds, wall time. Exits 1 when anything is stuck or memory disagrees at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from robo_os.fleet import FleetConfig, load_fleet
from robo_os.services import free_port
from robo_os.settings import Settings
from robo_os.stack import Stack

TOKEN = "soak-token"
TERMINAL = {"succeeded", "failed", "cancelled"}
EXTRA_AT = ["dining_table", "sink", "kitchen_counter", "shelf"]
"""Where extra mobile manipulators start (in turn)."""
EXTRA_OBJECTS = [
    {"name": "apple2", "type": "apple", "at": "kitchen_counter", "offset": [0.15, 0.0]},
    {"name": "cube1", "type": "cube", "at": "dining_table", "offset": [-0.3, -0.2]},
    # not in the sink's corner (0.25, 0.25): the open hand is 21 cm wide and fits there
    # from no side, so every pick of it was refused (docs/reliability.md, "Grasps that fit")
    {"name": "cube2", "type": "cube", "at": "sink", "offset": [0.0, 0.2]},
]
"""Objects added to the household's six, so that a few lost to the floor (no robot
picks from it) leave enough to work with."""
TARGETS = ["kitchen_counter", "dining_table", "shelf", "sink"]
FORMS = ["bring the {o} to the {p}", "put the {o} on the {p}"]


def fleet_of(robots: int) -> FleetConfig:
    """The household scene with `robots` robots: mm1, arm1, carrier1, then mm2, mm3..."""
    base = load_fleet().model_dump(mode="json")
    by_id = {r["id"]: r for r in base["robots"]}
    chosen = [by_id[i] for i in ("mm1", "arm1", "carrier1")][:robots]
    for k in range(max(0, robots - 3)):
        chosen.append(
            {"id": f"mm{k + 2}", "embodiment": "mobile_manipulator", "at": EXTRA_AT[k % 4]}
        )
    base["robots"] = chosen
    base["scene"]["objects"] += EXTRA_OBJECTS
    return FleetConfig.model_validate(base)


@dataclass
class Report:
    tasks: int = 0
    status: Counter[str] = field(default_factory=Counter)
    stuck: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    replans: int = 0
    put_downs: int = 0
    on_floor: set[str] = field(default_factory=set)
    """Objects that ended on the floor (dropped): no robot picks from it; left out after."""
    attention: list[str] = field(default_factory=list)
    disagreements_after_tasks: int = 0
    disagreements_at_end: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        d = sorted(self.durations)
        p95 = d[min(len(d) - 1, int(0.95 * len(d)))] if d else 0.0
        return {
            "tasks": self.tasks,
            "succeeded": self.status["succeeded"],
            "failed": self.status["failed"],
            "cancelled": self.status["cancelled"],
            "stuck": len(self.stuck),
            "replans": self.replans,
            "put_downs": self.put_downs,
            "objects_lost_to_floor": sorted(self.on_floor),
            "robots_needing_attention": self.attention,
            "faults_injected": self.faults,
            "disagreements_after_tasks": self.disagreements_after_tasks,
            "disagreements_at_end": len(self.disagreements_at_end),
            "task_s_p50": round(statistics.median(d), 2) if d else 0.0,
            "task_s_p95": round(p95, 2),
            "wall_s": round(self.wall_s, 1),
        }


class Soak:
    def __init__(self, client: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.c = client
        self.args = args
        self.rng = random.Random(args.seed)
        self.report = Report()
        self.busy: set[str] = set()
        """Objects named by tasks in flight."""

    async def objects(self) -> list[str]:
        r = await self.c.get("/v1/memory/objects")
        r.raise_for_status()
        return sorted(o["name"] for o in r.json()["objects"])

    async def diff(self) -> list[dict[str, Any]]:
        r = await self.c.get("/v1/world/diff")
        r.raise_for_status()
        rows: list[dict[str, Any]] = r.json()["disagreements"]
        return rows

    async def one(self, n: int, names: list[str]) -> None:
        usable = [o for o in names if o not in self.report.on_floor]
        free = [o for o in usable if o not in self.busy]
        obj = self.rng.choice(free or usable or names)
        self.busy.add(obj)
        r = await self.c.get(f"/v1/memory/objects/{obj}")
        here = r.json().get("on") if r.status_code == 200 else None
        target = self.rng.choice([p for p in TARGETS if p != here])
        text = self.rng.choice(FORMS).format(o=obj, p=target)
        cancel_after = self.rng.uniform(1.0, 8.0) if self.rng.random() < self.args.cancel else None
        t0 = time.monotonic()
        try:
            r = await self.c.post("/v1/tasks", json={"instruction": text})
            r.raise_for_status()
            task_id = r.json()["id"]
            canceller = (
                asyncio.create_task(self._cancel_later(task_id, cancel_after))
                if cancel_after is not None
                else None
            )
            task = await self._wait(task_id, t0 + self.args.task_timeout)
            if canceller is not None:
                canceller.cancel()
            status = task["status"]
            if status not in TERMINAL:
                # what it was doing when its time ran out: the open subtasks, what it waits for
                doing = [
                    f"{s['id']} {s['skill']} on {s['robot']} {s['status']}"
                    f" (attempt {s.get('attempts', 0)})"
                    for s in task["subtasks"]
                    if s["status"] not in ("succeeded", "skipped")
                ][:3]
                waits = task.get("waiting_for") or []
                self.report.stuck.append(
                    f"{task_id} ({text}): {status}; {', '.join(doing) or 'no open subtask'}"
                    + (f"; waiting for {waits}" if waits else "")
                )
                await self.c.post(f"/v1/tasks/{task_id}/cancel")
                return
            self.report.status[status] += 1
            self.report.durations.append(time.monotonic() - t0)
            self.report.replans += task.get("replans", 0)
            self.report.put_downs += sum(
                1
                for s in task["subtasks"]
                if s["id"].startswith("putaway-") and s["status"] == "succeeded"
            )
            for o in task.get("objects", []):
                if o.get("on") is None and o.get("held_by") is None:
                    self.report.on_floor.add(o["name"])
                if o.get("attention"):
                    self.report.attention.append(f"{o['attention']} ({o['note']})")
            touched = {o["name"] for o in task.get("objects", [])} | {obj}
            quiet = touched - (self.busy - {obj})
            rows = [d for d in await self.diff() if d["kind"] == "object" and d["name"] in quiet]
            self.report.disagreements_after_tasks += len(rows)
            if self.args.verbose:
                print(
                    f"{n:4d} {status:9s} {time.monotonic() - t0:6.1f}s {text}"
                    + (f" [{len(rows)} disagree]" if rows else "")
                    + (f" :: {task['error']['message'][:160]}" if task.get("error") else ""),
                    flush=True,
                )
                for row in rows:
                    print(f"       disagrees: {row}", flush=True)
        finally:
            self.busy.discard(obj)

    async def _cancel_later(self, task_id: str, after_s: float) -> None:
        await asyncio.sleep(after_s)  # a user changing their mind at a random moment
        await self.c.post(f"/v1/tasks/{task_id}/cancel")

    async def _wait(self, task_id: str, deadline: float) -> dict[str, Any]:
        while True:
            left = deadline - time.monotonic()
            r = await self.c.get(
                f"/v1/tasks/{task_id}/wait", params={"timeout": max(1.0, min(30.0, left))}
            )
            r.raise_for_status()
            task: dict[str, Any] = r.json()
            if task["status"] in TERMINAL or time.monotonic() >= deadline:
                return task

    async def ready(self, within_s: float = 60.0) -> None:
        """Wait until every robot is registered, idle and offers its skills (agents
        beat and publish after the stack returns; on a loaded machine that takes a while)."""
        deadline = time.monotonic() + within_s
        while True:
            robots = (await self.c.get("/v1/robots")).json()["robots"]
            ready = [r for r in robots if r["status"] == "idle" and r["skills"]]
            if robots and len(ready) == len(robots):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"robots not ready after {within_s:.0f} s: {robots}")
            await asyncio.sleep(0.5)  # a benchmark's start-up poll, bounded above

    async def run(self) -> Report:
        await self.ready()
        t0 = time.monotonic()
        names = await self.objects()
        pending = list(range(self.args.tasks))
        running: set[asyncio.Task[None]] = set()
        started = 0
        while pending or running:
            if (
                self.args.max_minutes is not None
                and time.monotonic() - t0 > 60 * self.args.max_minutes
            ):
                pending.clear()  # out of time: the tasks in flight end, no new ones start
            while pending and len(running) < self.args.concurrency:
                n = pending.pop(0)
                started += 1
                running.add(asyncio.create_task(self.one(n, names)))
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for job in done:
                job.result()
        self.report.tasks = started
        self.report.disagreements_at_end = await self.diff()
        self.report.wall_s = time.monotonic() - t0
        return self.report


async def soak(args: argparse.Namespace) -> Report:
    """Start the stack, run the tasks, stop the stack; the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate(
            {
                "redis": {"url": None, "key_prefix": f"soak-{uuid.uuid4().hex[:8]}"},
                "ray": {"namespace": f"soak-{uuid.uuid4().hex[:8]}"},
                "api": {"host": "127.0.0.1", "port": free_port(), "token": SecretStr(TOKEN)},
                "memory": {"heartbeat_interval_s": args.heartbeat},
                "sim": {
                    "seed": args.seed,
                    "faults": {
                        "grasp_slip": args.slip,
                        "drop_carrying": args.drop,
                        "slow": args.slow,
                        "seed": args.seed,
                    },
                },
                "state_dir": Path(tmp),
            }
        )
        stack = Stack(settings, fleet_of(args.robots))
        app = await stack.start()
        try:
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://brain",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=120,
                ) as client:
                    report = await Soak(client, args).run()
                    with contextlib.suppress(Exception):
                        report.faults = dict(await stack.world.faults.remote())
        finally:
            await stack.stop()
    return report


async def main(args: argparse.Namespace) -> int:
    report = await soak(args)
    out = report.summary()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(
            f"soak: {out['tasks']} tasks on {args.robots} robots, {args.concurrency} at a time,"
            f" per motion: grasp slips {args.slip:.0%}, drops while carrying {args.drop:.0%},"
            f" slow {args.slow:.0%}; {args.cancel:.0%} cancelled at random"
        )
        for k, v in out.items():
            print(f"  {k:28s} {v}")
        for row in report.stuck:
            print(f"  stuck: {row}")
        for d in report.disagreements_at_end:
            print(f"  disagrees at end: {d}")
    return 1 if report.stuck or report.disagreements_at_end else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--robots", type=int, default=4, help="1-3: household robots; more: +mm")
    ap.add_argument("--concurrency", type=int, default=None, help="tasks in flight (robots)")
    ap.add_argument("--slip", type=float, default=0.03, help="grasp slips per pick")
    ap.add_argument("--drop", type=float, default=0.01, help="drops per drive while holding")
    ap.add_argument("--slow", type=float, default=0.03, help="slow motions per motion")
    ap.add_argument("--cancel", type=float, default=0.08, help="share of tasks cancelled")
    ap.add_argument("--task-timeout", type=float, default=240.0)
    ap.add_argument(
        "--max-minutes", type=float, default=None, help="start no new task after this long"
    )
    ap.add_argument(
        "--heartbeat",
        type=float,
        default=2.0,
        help="agent heartbeat interval (s); a loaded"
        " machine needs slack, or live agents are declared dead",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per task")
    ap.add_argument("--log", default=None, help="write the stack's log (INFO) to this file")
    args = ap.parse_args(argv)
    if args.log:
        logging.basicConfig(
            filename=args.log, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
        )
    if args.robots < 1 or args.tasks < 1:
        ap.error("--tasks and --robots must be at least 1")
    args.concurrency = args.concurrency or args.robots
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
