"""Which robot runs a subtask: availability, equivalent robots, and their ranking.

The plan names a robot for every subtask. The allocator keeps that choice while the
robot is available, and otherwise (or when the robot is busy and an equivalent one is
idle) asks the planner for equivalent robots (`Planner.reassign`, which checks skill,
capabilities and symbolic preconditions) and ranks them by current load, leases held on
the subtask's objects and places, and distance to its target (poses from memory).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from robo_os_memory.models import Pose, RobotStatusValue

from ...contracts import Subtask
from .lanes import RobotLanes

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from ..planning.interface import Planner

__all__ = ["Allocator", "SkillTimeouts"]

log = logging.getLogger(__name__)

UNAVAILABLE = frozenset({RobotStatusValue.offline, RobotStatusValue.stopped})
MAX_CANDIDATES = 8
"""Equivalent robots asked of the planner per decision (each is one `reassign` call)."""


class Allocator:
    def __init__(
        self, memory: Memory, planner: Planner, lanes: RobotLanes, *, suspect_s: float = 5.0
    ) -> None:
        self.memory = memory
        self.planner = planner
        self.lanes = lanes
        self.suspect_s = suspect_s
        self._suspect: dict[str, float] = {}

    def mark_unavailable(self, robot: str) -> None:
        """The dispatcher lost the robot's agent; memory may not know yet (its heartbeat
        has not expired), so keep work away from it for a while."""
        self._suspect[robot] = time.monotonic() + self.suspect_s

    def mark_available(self, robot: str) -> None:
        self._suspect.pop(robot, None)

    async def available(self, robot: str) -> bool:
        until = self._suspect.get(robot)
        if until is not None:
            if until > time.monotonic():
                return False
            del self._suspect[robot]
        state = await self.memory.get_robot(robot)
        return state is not None and state.status not in UNAVAILABLE

    async def alternatives(self, subtask: Subtask, exclude: set[str]) -> list[Subtask]:
        """Available equivalent robots' versions of the subtask (never one in `exclude`)."""
        out: list[Subtask] = []
        excluded = set(exclude) | {subtask.robot}
        for _ in range(MAX_CANDIDATES):
            candidate = await self.planner.reassign(subtask, set(excluded))
            if candidate is None or candidate.robot in excluded:
                break
            excluded.add(candidate.robot)
            if await self.available(candidate.robot):
                out.append(candidate)
        return out

    async def rank(
        self, candidates: Sequence[Subtask], *, task_id: str | None = None
    ) -> list[Subtask]:
        """Best first: fewest subtasks running or queued (a robot another task claims
        for a run counts one more: it is not free until that run ends), then leases (one
        the robot holds on the subtask's objects/places first, one another holder has
        last), then the planar distance from the robot to the subtask's target."""
        if len(candidates) <= 1:
            return list(candidates)
        robots, objects, places = await self.memory.snapshot()
        pose_of: dict[str, Pose] = {p.name: p.pose for p in places}
        pose_of.update({o.name: o.pose for o in objects if o.pose is not None})
        robot_pose = {r.id: r.pose for r in robots}
        scored: list[tuple[tuple[int, int, float], int, Subtask]] = []
        for i, cand in enumerate(candidates):
            names = [v for v in _strings(cand.args) if v in pose_of]
            lease = 0
            for name in names:
                held = await self.memory.lease_of(name)
                if held is not None:
                    lease = min(lease, -1) if _held_by(held.holder, cand.robot) else max(lease, 1)
            here = robot_pose.get(cand.robot)
            target = pose_of[names[0]] if names else None
            distance = here.distance_to(target) if here is not None and target is not None else 0.0
            busy = self.lanes.busy_for(cand.robot, task_id)
            scored.append(((busy, lease, distance), i, cand))
        scored.sort(key=lambda t: (t[0], t[1]))
        return [c for _, _, c in scored]


def _held_by(holder: str, robot: str) -> bool:
    return holder == robot or holder.startswith(f"{robot}:")


def _strings(args: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for v in args.values():
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out.extend(x for x in v if isinstance(x, str))
    return out


class SkillTimeouts:
    """Each skill's declared timeout on each robot, from the specs the agents publish."""

    def __init__(
        self, memory: Memory, *, override_s: float | None = None, fallback_s: float = 60.0
    ) -> None:
        self.memory = memory
        self.override_s = override_s
        self.fallback_s = fallback_s
        self._specs: dict[str, dict[str, dict[str, Any]]] | None = None

    def invalidate(self) -> None:
        self._specs = None

    async def specs(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every robot's published skill specs (cached until `invalidate`)."""
        if self._specs is None:
            self._specs = await self.memory.robot_skills()
        return self._specs

    async def timeout_s(self, robot: str, skill: str) -> float:
        if self.override_s is not None:
            return self.override_s
        spec = (self._specs or {}).get(robot, {}).get(skill)
        if spec is None:
            self._specs = await self.memory.robot_skills()
            spec = self._specs.get(robot, {}).get(skill)
        if spec is None:
            return self.fallback_s
        try:
            return float(spec.get("timeout_s", self.fallback_s))
        except (TypeError, ValueError):
            return self.fallback_s
