"""Benchmark of the pybullet world: real-time factor with 4 robots moving at once,
next to the stepping rate of the same world with nothing moving (the baseline),
measured in the same run.

    .venv/bin/python benchmarks/sim_bench.py             # about 30 s
    .venv/bin/python benchmarks/sim_bench.py --seconds 5 # quicker

The scene is the household demo plus a second carrier (4 robots: a fixed arm picking
and placing, two carriers and a mobile manipulator driving between places). Prints:
1. idle: physics steps per wall second with no motion (and the real-time factor that
   gives at the configured timestep);
2. moving, stepped directly: simulated seconds per wall second while all 4 robots move;
3. moving, through the async runner and the sim robot drivers (`SimRobot` parts over
   `LocalWorldClient`): the path agents use, including their waits and pose reports.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import time

from robo_os.fleet import FleetConfig, RobotConfig, load_fleet
from robo_os.settings import SimSettings
from robo_os.sim import LocalWorldClient, Navigate, Pick, Place, SimRobot, SimWorld
from robo_os.sim.models import MotionRequest
from robo_os.skill.parts import MotionResult

ROUTES: dict[str, list[str]] = {
    "carrier1": ["kitchen_counter", "dining_table"],
    "carrier2": ["shelf", "sink"],
    "mm1": ["cabinet", "dining_table", "shelf"],
}


def bench_fleet() -> FleetConfig:
    fleet = load_fleet()
    extra = RobotConfig(id="carrier2", embodiment="carrier", at="sink")
    return fleet.model_copy(update={"robots": [*fleet.robots, extra]})


def arm_cycle() -> itertools.cycle[MotionRequest]:
    return itertools.cycle([Pick(object="cup"), Place(object="cup", target="kitchen_counter")])


def idle_rate(world: SimWorld, steps: int) -> float:
    t0 = time.perf_counter()
    world.step(steps)
    return steps / (time.perf_counter() - t0)


def moving_direct(world: SimWorld, sim_seconds: float) -> tuple[float, int]:
    """Keep every robot busy (a new motion as soon as one ends); step directly."""
    routes = {r: itertools.cycle(ps) for r, ps in ROUTES.items()}
    arm = arm_cycle()
    active: dict[str, str] = {}
    finished = 0

    def next_motion(robot: str) -> str:
        request: MotionRequest = (
            next(arm) if robot == "arm1" else Navigate(target=next(routes[robot]))
        )
        return world.start(robot, request)

    for robot in ["arm1", *ROUTES]:
        active[robot] = next_motion(robot)
    s0, t0 = world.sim_time, time.perf_counter()
    while world.sim_time - s0 < sim_seconds:
        world.step(8)
        for robot, motion in list(active.items()):
            result = world.result(motion)
            if result is not None:
                finished += 1
                if not result.ok:
                    logging.warning("%s: %s %s", robot, result.outcome, result.message)
                active[robot] = next_motion(robot)
    return (world.sim_time - s0) / (time.perf_counter() - t0), finished


async def moving_runner(world: SimWorld, sim_seconds: float) -> tuple[float, int]:
    client = LocalWorldClient(world)
    robots = {cfg.id: SimRobot(cfg, client) for cfg in world.fleet.robots}
    s0 = world.sim_time
    finished = 0

    async def pose_report(_pose: object) -> None:
        return None

    async def drive(robot: SimRobot, places: list[str]) -> None:
        nonlocal finished
        assert robot.base is not None
        for target in itertools.cycle(places):
            if world.sim_time - s0 >= sim_seconds:
                return
            result: MotionResult = await robot.base.move_to(target, on_pose=pose_report)
            finished += 1
            if not result.ok:
                logging.warning("%s: %s %s", robot.id, result.outcome, result.message)

    async def work_arm(robot: SimRobot) -> None:
        nonlocal finished
        assert robot.arm is not None
        while world.sim_time - s0 < sim_seconds:
            for result in (
                await robot.arm.pick("cup"),
                await robot.arm.place("cup", "kitchen_counter"),
            ):
                finished += 1
                if not result.ok:
                    logging.warning("arm1: %s %s", result.outcome, result.message)

    t0 = time.perf_counter()
    await asyncio.gather(
        work_arm(robots["arm1"]), *(drive(robots[r], ps) for r, ps in ROUTES.items())
    )
    elapsed = time.perf_counter() - t0
    await world.stop()
    return (world.sim_time - s0) / elapsed, finished


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="simulated seconds per moving run"
    )
    parser.add_argument("--idle-steps", type=int, default=4000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings = SimSettings()
    dt = settings.timestep_s

    world = SimWorld(bench_fleet(), settings)
    world.step(240)
    idle = idle_rate(world, args.idle_steps)
    direct_rtf, direct_done = moving_direct(world, args.seconds)
    world.close()

    world = SimWorld(bench_fleet(), settings)
    runner_rtf, runner_done = asyncio.run(moving_runner(world, args.seconds))
    world.close()

    print(f"sim benchmark: household + carrier2 (4 robots), timestep {dt * 1000:.2f} ms")
    print("  RTF = real-time factor, simulated seconds per wall-clock second")
    print(
        f"  idle (nothing moving)        : {idle:8.0f} steps/s = RTF {idle * dt:6.2f}  [baseline]"
    )
    print(
        f"  4 robots moving, direct step : {direct_rtf / dt:8.0f} steps/s = RTF {direct_rtf:6.2f}"
        f"  ({direct_rtf / (idle * dt):.2f} x idle, {direct_done} motions finished)"
    )
    print(
        f"  4 robots moving, async runner: {runner_rtf / dt:8.0f} steps/s = RTF {runner_rtf:6.2f}"
        f"  ({runner_rtf / (idle * dt):.2f} x idle, {runner_done} motions finished)"
    )


if __name__ == "__main__":
    main()
