"""How long things take: each skill call's expected duration and a plan's schedule.

One module owns timing, so the embedded planner, the allocation of a model's plan, the
expected finish time of a task and the benchmark all use the same numbers.

A skill call's duration, first that applies:

1. the robot's override (`Timing.robots[robot].durations[skill]`; the fleet file's
   robot `options: {timing: {durations: {pick: 5}}}`);
2. the skill's declared `duration_s` (`@skill(duration_s=...)`, in its spec);
3. for a navigation skill (its effects make `at(robot, <argument>)` true): the
   straight-line distance from where the robot is to the target place's pose over
   the robot's speed (`speed_mps`, overridable per robot), plus a docking overhead;
4. a typical time for the skill's name (`Timing.durations`);
5. `Timing.default_s`.

In 4 and 5 a call that names another robot (placing on a carrier's tray) takes
`handover_s` more: the two must line up, and one waits for the other.

A plan's schedule is what the runtime does with it: a subtask starts once every subtask
it depends on has ended and its robot is free (each robot runs one at a time, ties in
plan order). Robots move only by navigation, so a drive is timed from where the
robot's previous subtask in the schedule left it.

A robot busy with other tasks is free once their open subtasks are done
(`ready_times`): a schedule's `ready_at` starts each robot then, so a plan's expected
duration includes its waits for busy robots.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from robo_os_memory.models import Pose

from ...contracts import Plan, Subtask, SubtaskStatus

if TYPE_CHECKING:
    from ...fleet import FleetConfig
    from .catalogue import Catalogue
    from .interface import FleetWork

__all__ = [
    "DEFAULT_DURATIONS",
    "RobotTiming",
    "Schedule",
    "Timing",
    "navigation_target",
    "ready_poses",
    "ready_times",
    "schedule",
]

log = logging.getLogger(__name__)

DEFAULT_DURATIONS: Mapping[str, float] = {
    # typical times of the standard skills in the simulator (reach, grasp, lift, retreat)
    "pick": 8.0,
    "place": 8.0,
    "put_in": 8.0,
    "deliver": 6.0,
    "open": 10.0,
    "close": 10.0,
    "look": 1.0,
}


@dataclass(frozen=True)
class RobotTiming:
    """One robot's overrides (None / missing: the fleet-wide value)."""

    speed_mps: float | None = None
    durations: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    speed_mps: float = 0.6
    """Mobile robots' average speed between places (m/s), turns and accelerations included."""
    dock_s: float = 3.0
    """Added to every drive: approach and docking."""
    durations: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DURATIONS))
    default_s: float = 5.0
    handover_s: float = 5.0
    """Added to a call that names another robot (a handover onto its tray)."""
    robots: Mapping[str, RobotTiming] = field(default_factory=dict)

    @classmethod
    def from_fleet(cls, fleet: FleetConfig, **kw: Any) -> Timing:
        """Fleet-wide defaults plus each robot's `options.timing` (`speed_mps`, `durations`)."""
        robots: dict[str, RobotTiming] = {}
        for rc in fleet.robots:
            raw = rc.options.get("timing")
            if not isinstance(raw, Mapping):
                continue
            speed = raw.get("speed_mps")
            durations = raw.get("durations") or {}
            robots[rc.id] = RobotTiming(
                float(speed) if isinstance(speed, (int, float)) and speed > 0 else None,
                {
                    str(k): float(v)
                    for k, v in dict(durations).items()
                    if isinstance(v, (int, float))
                },
            )
        return cls(robots=robots, **kw)

    def speed(self, robot: str) -> float:
        own = self.robots.get(robot)
        return own.speed_mps if own is not None and own.speed_mps else self.speed_mps

    def travel_s(self, robot: str, here: Pose | None, there: Pose | None) -> float:
        if here is None or there is None:
            return self.dock_s
        d = here.distance_to(there)
        return self.dock_s + d / self.speed(robot) if d > 1e-6 else 0.0

    def duration(
        self,
        cat: Catalogue,
        robot: str,
        skill: str,
        args: Mapping[str, Any],
        here: Pose | None = None,
    ) -> float:
        """Expected seconds of one call of `skill` by `robot` from the pose `here`."""
        own = self.robots.get(robot)
        if own is not None and skill in own.durations:
            return own.durations[skill]
        model = cat.skill_for(robot, skill)
        if model is not None and model.spec.duration_s is not None:
            return model.spec.duration_s
        target = navigation_target(cat, robot, skill, args)
        if target is not None:
            return self.travel_s(robot, here, cat.places[target].pose)
        base = self.durations.get(skill, self.default_s)
        if any(isinstance(v, str) and v != robot and v in cat.robots for v in args.values()):
            base += self.handover_s
        return base

    def start_pose(self, cat: Catalogue, robot: str) -> Pose | None:
        """Where a robot starts: the place it is at, else its pose."""
        r = cat.robots.get(robot)
        if r is None:
            return None
        if r.place is not None and r.place in cat.places:
            return cat.places[r.place].pose
        return r.pose


def navigation_target(
    cat: Catalogue, robot: str, skill: str, args: Mapping[str, Any]
) -> str | None:
    """The place a navigation call drives to: the skill's effects make
    `at(robot, <argument>)` true and the argument names a place."""
    model = cat.skill_for(robot, skill)
    if model is None:
        return None
    for c in model.effects:
        if c.negated or c.predicate != "at" or len(c.terms) != 2 or c.terms[0] != "robot":
            continue
        value = args.get(c.terms[1])
        if isinstance(value, str) and value in cat.places:
            return value
    return None


@dataclass(frozen=True)
class Schedule:
    """When each subtask is expected to start and end (seconds from the plan's start)."""

    start: Mapping[str, float]
    end: Mapping[str, float]
    robot: Mapping[str, str]
    makespan: float
    critical_path: float
    """The longest chain of dependencies (robot contention ignored)."""
    final_pose: Mapping[str, Pose | None] = field(default_factory=dict)
    """Where each robot of the plan is when its last subtask ends."""

    @property
    def work(self) -> float:
        """Robot-seconds of work: the sum of every subtask's duration."""
        return sum(self.end[s] - self.start[s] for s in self.start)

    @property
    def busiest(self) -> float:
        """The most work any one robot has (it runs one subtask at a time)."""
        per: dict[str, float] = {}
        for s in self.start:
            per[self.robot[s]] = per.get(self.robot[s], 0.0) + self.end[s] - self.start[s]
        return max(per.values(), default=0.0)

    @property
    def robots_used(self) -> set[str]:
        return set(self.robot.values())

    def overlapping(self) -> list[tuple[str, str]]:
        """Pairs of subtasks of different robots expected to run at the same time."""
        ids = sorted(self.start, key=lambda s: self.start[s])
        out = []
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if self.start[b] >= self.end[a]:
                    break
                if self.robot[a] != self.robot[b] and self.start[b] < self.end[a]:
                    out.append((a, b))
        return out

    def lower_bound(self, robots: int) -> float:
        """No schedule of this plan's work ends before this: its busiest robot's work,
        and the total work shared over `robots`."""
        return max(self.busiest, self.work / max(1, robots))


def schedule(
    plan: Plan | Sequence[Subtask],
    cat: Catalogue,
    timing: Timing | None = None,
    *,
    ready_at: Mapping[str, float] | None = None,
    done_at: Mapping[str, float] | None = None,
    start_at: Mapping[str, Pose | None] | None = None,
) -> Schedule:
    """The plan's expected schedule: list scheduling (a ready subtask starts when its
    robot is free, earliest start first, ties in plan order), durations from `timing`
    with each drive timed from where the robot's previous subtask left it. `ready_at`:
    when each robot is expected to be free (seconds from now; busy with other work).
    `done_at`: when subtasks outside the plan that some of it depends on end.
    `start_at`: where robots start, when not where the catalogue has them (a busy
    robot starts where its queued work leaves it)."""
    timing = timing or Timing()
    subs = list(plan.subtasks if isinstance(plan, Plan) else plan)
    order = {s.id: i for i, s in enumerate(subs)}
    by_id = {s.id: s for s in subs}
    free = dict(ready_at or {})
    outside = done_at or {}
    pose: dict[str, Pose | None] = dict(start_at or {})
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    chain: dict[str, float] = {}
    left = {s.id for s in subs}
    while left:
        best: tuple[float, int, str] | None = None
        for sid in left:
            s = by_id[sid]
            if any(d in left for d in s.depends_on if d in by_id):
                continue
            t = max(
                [
                    free.get(s.robot, 0.0),
                    *(end[d] for d in s.depends_on if d in end),
                    *(outside[d] for d in s.depends_on if d in outside and d not in by_id),
                ]
            )
            key = (t, order[sid], sid)
            if best is None or key < best:
                best = key
        if best is None:  # a cycle: the checker names it; time the rest in plan order
            best = (0.0, 0, min(left, key=lambda x: order[x]))
        t, _, sid = best
        s = by_id[sid]
        here = pose[s.robot] if s.robot in pose else timing.start_pose(cat, s.robot)
        d = timing.duration(cat, s.robot, s.skill, s.args, here)
        target = navigation_target(cat, s.robot, s.skill, s.args)
        pose[s.robot] = cat.places[target].pose if target is not None else here
        start[sid], end[sid] = t, t + d
        free[s.robot] = t + d
        chain[sid] = d + max((chain[x] for x in s.depends_on if x in chain), default=0.0)
        left.discard(sid)
    return Schedule(
        start,
        end,
        {s.id: s.robot for s in subs},
        max(end.values(), default=0.0),
        max(chain.values(), default=0.0),
        {r: pose[r] for r in {s.robot for s in subs} if r in pose},
    )


def ready_times(
    work: FleetWork, cat: Catalogue, timing: Timing | None = None, *, now: float | None = None
) -> dict[str, float]:
    """When each robot with work of other tasks is expected to be free (seconds from
    `now`, default `work.at`). Tasks are served in `work`'s order, each from where the
    ones before it leave the robots' time: what is left of a running subtask (its
    expected duration less the time it has run, never below zero), then the task's
    pending subtasks scheduled as `schedule` does. Robots with no such work are absent."""
    return _fleet_ready(work, cat, timing or Timing(), now)[0]


def ready_poses(
    work: FleetWork, cat: Catalogue, timing: Timing | None = None, *, now: float | None = None
) -> dict[str, Pose | None]:
    """Where each robot with work of other tasks is expected to be once it is free (the
    place its last queued drive goes to), as `ready_times` times it."""
    return _fleet_ready(work, cat, timing or Timing(), now)[1]


def _fleet_ready(
    work: FleetWork, cat: Catalogue, timing: Timing, now: float | None
) -> tuple[dict[str, float], dict[str, Pose | None]]:
    at = work.at if now is None else now
    free: dict[str, float] = {}
    # where the work of the tasks served so far leaves each robot: a later task's drives
    # are timed from there, not from where the robot stands now
    where: dict[str, Pose | None] = {}
    for subs in work.tasks:
        done_at: dict[str, float] = {}
        queued: list[Subtask] = []
        for s in subs:
            if s.status == SubtaskStatus.running:
                here = where[s.robot] if s.robot in where else timing.start_pose(cat, s.robot)
                d = timing.duration(cat, s.robot, s.skill, s.args, here)
                ran = max(0.0, at - s.started_at) if s.started_at is not None else 0.0
                done_at[s.id] = free.get(s.robot, 0.0) + max(0.0, d - ran)
                free[s.robot] = done_at[s.id]
                target = navigation_target(cat, s.robot, s.skill, s.args)
                if target is not None:
                    where[s.robot] = cat.places[target].pose
            elif s.robot in cat.robots:
                queued.append(
                    Subtask(
                        id=s.id,
                        robot=s.robot,
                        skill=s.skill,
                        args=dict(s.args),
                        depends_on=list(s.depends_on),
                    )
                )
        if queued:
            sched = schedule(queued, cat, timing, ready_at=free, done_at=done_at, start_at=where)
            for sid, e in sched.end.items():
                robot = sched.robot[sid]
                free[robot] = max(free.get(robot, 0.0), e)
            where.update(sched.final_pose)
    return free, where
