"""Kinematic world at fleet sizes: time to build N robots, memory, and one round of pose
reads for all of them, next to the pybullet world building the default household fleet
in the same run.

    .venv/bin/python benchmarks/kinematic_bench.py [--sizes 10 100 1000]
"""

from __future__ import annotations

import argparse
import resource
import time

from robo_os.fleet import FleetConfig, RobotConfig, load_fleet
from robo_os.settings import SimSettings
from robo_os.sim.engines import build_world
from robo_os.sim.kinematic import KinematicWorld


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fleet_of(n: int) -> FleetConfig:
    base = load_fleet(None)
    kinds = ("carrier", "mobile_manipulator")
    robots = [
        RobotConfig(id=f"r{i:04d}", embodiment=kinds[i % 2], at="dining_table") for i in range(n)
    ]
    return FleetConfig.model_validate(
        {**base.model_dump(), "robots": [r.model_dump() for r in robots]}
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    args = ap.parse_args()
    household = load_fleet(None)
    t = time.perf_counter()
    build_world(household, SimSettings())
    physics_s = time.perf_counter() - t
    t = time.perf_counter()
    build_world(household, SimSettings(engine="kinematic"))
    kin_s = time.perf_counter() - t
    print(
        f"household fleet ({len(household.robots)} robots): physics build {physics_s * 1e3:.1f} ms,"
        f" kinematic {kin_s * 1e3:.2f} ms (x{physics_s / kin_s:.0f} faster)"
    )
    for n in args.sizes:
        fleet = fleet_of(n)
        before = rss_mb()
        t = time.perf_counter()
        world = KinematicWorld(fleet, SimSettings(engine="kinematic"))
        build = time.perf_counter() - t
        t = time.perf_counter()
        rounds = 20
        for _ in range(rounds):
            poses = world.poses()
        per_round = (time.perf_counter() - t) / rounds
        assert len(poses) == n
        print(
            f"N={n:5d}: build {build * 1e3:8.1f} ms, pose round {per_round * 1e3:7.2f} ms"
            f" ({1 / per_round:,.0f} rounds/s), peak RSS +{rss_mb() - before:.1f} MB"
        )


if __name__ == "__main__":
    main()
