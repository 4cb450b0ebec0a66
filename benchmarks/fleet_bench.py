"""Fleet allocation at planning level (symbolic, no physics): how soon N tasks on M robots
in a scene of K places are expected to be done.

    .venv/bin/python benchmarks/fleet_bench.py            # 20x5x8 and 50x10x12, 3 seeds each
    .venv/bin/python benchmarks/fleet_bench.py --quick    # 8x3x6 and 20x5x8, 1 seed

Each scene is generated (robo_os.testing.scenes, seeded): K places at random on a floor,
M robots (mobile manipulators, carriers, fixed arms), N objects each to be brought to
another place: one goal of N atoms. For each it prints, in expected (simulated) seconds
from robo_os.brain.planning.timing:

- **makespan** of the embedded planner's schedule (time-aware allocation), and which
  allocation won (CP-SAT or greedy) and the solver's status;
- **work LB**, a lower bound: the plan's total work shared over the M robots, or its
  busiest robot's work if more (no schedule of that work ends sooner);
- **goal chain**: the slowest goal's fastest chain (any team, from the start) — no plan
  does that goal sooner unless robots happen to start nearer (a yardstick, not a bound);
- **one-robot-at-a-time**: every goal done by one mobile manipulator, one subtask at a
  time — what users saw (everything on mm1, in sequence); planned by the same planner
  with the other robots offline, since the fewest-actions search alone gives up beyond
  a few objects;
- **tasks per minute** of expected time, for both;
- the planning time (wall clock).
"""

from __future__ import annotations

import argparse
import statistics
import time

from robo_os_skills import SKILLS

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.instructions import Goal
from robo_os.brain.planning.timing import Timing, schedule
from robo_os.skill.schema import build_spec
from robo_os.symbolic.state import symbolic_state
from robo_os.testing.scenes import generated_scene
from robo_os.testing.world import offered_skills

SPECS = {s.name: s for s in (build_spec(fn, source="robo-os-skills") for fn in SKILLS)}


def run(n: int, m: int, k: int, seed: int, check: bool) -> dict[str, float | str]:
    robots, objects, places, goals = generated_scene(seed, robots=m, places=k, objects=n)
    cat = Catalogue.build(robots, offered_skills(robots, SPECS), objects, places)
    state = symbolic_state(cat)
    goal = Goal((tuple(("on", o, p) for o, p in goals),), f"generated {n}x{m}x{k} seed {seed}")
    timing = Timing()
    t0 = time.perf_counter()
    res = EmbeddedPlanner(timing=timing).plan(cat, state, goal)
    plan_s = time.perf_counter() - t0
    assert res.plan is not None, res.problems
    if check:
        report = check_plan(res.plan, cat, state, goal=goal.final)
        assert report.ok, report.problems
    sched = schedule(res.plan, cat, timing)
    # the baseline: one robot (the first mobile manipulator) does everything, one
    # subtask at a time (the fewest-actions search alone gives up beyond a few objects)
    t1 = time.perf_counter()
    solo_robots = [
        r if r.id == robots[0].id else r.model_copy(update={"status": "offline"}) for r in robots
    ]
    solo = Catalogue.build(solo_robots, offered_skills(robots, SPECS), objects, places)
    base = EmbeddedPlanner(timing=timing).plan(solo, symbolic_state(solo), goal)
    base_plan_s = time.perf_counter() - t1
    assert base.plan is not None, base.problems
    serial = schedule(base.plan, solo, timing).work
    return {
        "makespan": sched.makespan,
        "chain": res.allocation.longest_goal_s,
        "work_lb": max(sched.work / m, sched.busiest),
        "serial": serial,
        "robots_used": len(sched.robots_used),
        "method": res.allocation.method,
        "solver": res.allocation.solver,
        "plan_s": plan_s,
        "base_plan_s": base_plan_s,
        "subtasks": len(res.plan.subtasks),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--no-check", action="store_true", help="skip the checker on each plan")
    args = ap.parse_args()
    sizes = [(8, 3, 6), (20, 5, 8)] if args.quick else [(20, 5, 8), (50, 10, 12)]
    seeds = args.seeds or (1 if args.quick else 3)
    print(
        f"{'N x M x K':>10} {'seed':>4} {'subt':>4} {'robots':>6} {'makespan':>9} {'goal chain':>10}"
        f" {'work LB':>8} {'1-robot':>8} {'speed-up':>8} {'tasks/min':>9} {'1-r t/min':>9}"
        f" {'alloc':>7} {'CP-SAT':>10} {'plan s':>6} {'1-r s':>8}"
    )
    for n, m, k in sizes:
        ratios = []
        for seed in range(seeds):
            r = run(n, m, k, seed, not args.no_check)
            ms, serial = float(r["makespan"]), float(r["serial"])
            ratios.append(serial / ms)
            print(
                f"{f'{n}x{m}x{k}':>10} {seed:>4} {r['subtasks']:>4} {r['robots_used']:>6}"
                f" {ms:>8.0f}s {float(r['chain']):>9.0f}s {float(r['work_lb']):>7.0f}s"
                f" {serial:>7.0f}s {serial / ms:>7.1f}x {60 * n / ms:>9.2f} {60 * n / serial:>9.2f}"
                f" {r['method']!s:>7} {r['solver']!s:>10} {float(r['plan_s']):>6.1f}"
                f" {float(r['base_plan_s']):>8.1f}"
            )
        print(
            f"{'':>10} median speed-up over one robot at a time: {statistics.median(ratios):.1f}x"
        )


if __name__ == "__main__":
    main()
