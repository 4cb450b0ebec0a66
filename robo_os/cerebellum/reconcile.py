"""Reconciliation: where memory and a robot's own observation disagree, and writing the
observation's answer to memory (atomically, marked `observed`).

The agent reconciles after every failed or cancelled skill and, with a setting,
periodically; the brain's stack reconciles a robot whose agent died
(`robo_os.recovery`); `GET /v1/world/diff` lists the disagreements without writing.

    reconciler = Reconciler(robot.id, observer_of(robot), memory)
    rec = await reconciler.run("pick failed", about=["mug"])
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from robo_os_memory import Memory, ObjectCorrection
from robo_os_memory.models import ObjectState, Pose, RobotState

from ..skill.observation import Observation, Observer

__all__ = [
    "OBJECT_POSE_TOLERANCE_M",
    "ROBOT_POSE_TOLERANCE_M",
    "Disagreement",
    "Reconciler",
    "Reconciliation",
    "compare",
    "diff_all",
    "expected_near",
]

log = logging.getLogger(__name__)

OBJECT_POSE_TOLERANCE_M = 0.05
"""An object observed farther than this from its recorded pose is recorded anew."""
ROBOT_POSE_TOLERANCE_M = 0.10
EXPECT_NEAR_M = 1.5
"""Objects memory has this close to the robot are ones it should be able to account for."""


class Disagreement(BaseModel):
    """One field where memory (believed) and an observation differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["object", "robot"]
    name: str
    field: str
    memory: Any
    observed: Any
    by: str
    """The robot whose observation it is."""


class Reconciliation(BaseModel):
    """What one reconciliation found and wrote."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    robot: str
    reason: str
    at: float
    disagreements: list[Disagreement] = Field(default_factory=list)
    outcomes: dict[str, str] = Field(default_factory=dict)
    """Per corrected object: applied, stale, leased, missing or invalid."""

    def as_data(self) -> dict[str, Any]:
        """For a skill result's `data["reconciled"]` (what the replanner reads)."""
        return {
            "robot": self.robot,
            "at": self.at,
            "corrections": [
                {
                    "kind": d.kind,
                    "name": d.name,
                    "field": d.field,
                    "was": d.memory,
                    "now": d.observed,
                    "written": self.outcomes.get(d.name, "applied")
                    if d.kind == "object"
                    else "applied",
                }
                for d in self.disagreements
            ],
        }


def _far(a: Pose | None, b: Pose | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is not b and b is not None
    return a.distance_to(b) > tolerance or abs(a.z - b.z) > tolerance


def _pose_json(pose: Pose | None) -> dict[str, float] | None:
    return None if pose is None else pose.model_dump()


def expected_near(
    robot: RobotState | None, objects: Iterable[ObjectState], about: Iterable[str] = ()
) -> tuple[str, ...]:
    """What memory believes the robot should see: what it holds, what is on its tray or
    at its place, what lies near it, and the objects a failed call was about."""
    names = set(about)
    if robot is not None:
        for o in objects:
            if o.held_by == robot.id or o.on == robot.id:
                names.add(o.name)
            elif robot.place is not None and o.on == robot.place:
                names.add(o.name)
            elif (
                robot.pose is not None
                and o.pose is not None
                and o.held_by is None
                and o.pose.distance_to(robot.pose) <= EXPECT_NEAR_M
            ):
                names.add(o.name)
    return tuple(sorted(names))


def compare(
    observation: Observation,
    robot: RobotState | None,
    objects: Mapping[str, ObjectState],
) -> tuple[list[Disagreement], list[ObjectCorrection], dict[str, Any]]:
    """(disagreements, object corrections, robot fields to correct) of one observation
    against memory. Pure: no I/O."""
    by = observation.robot
    found: list[Disagreement] = []
    fixes: list[ObjectCorrection] = []

    def differ(kind: Literal["object", "robot"], name: str, field: str, m: Any, o: Any) -> None:
        found.append(Disagreement(kind=kind, name=name, field=field, memory=m, observed=o, by=by))

    for seen in observation.objects:
        m = objects.get(seen.name)
        if m is None:
            continue
        before = len(found)
        if m.held_by != seen.held_by:
            differ("object", seen.name, "held_by", m.held_by, seen.held_by)
        if m.on != seen.on:
            differ("object", seen.name, "on", m.on, seen.on)
        if seen.held_by is None and _far(m.pose, seen.pose, OBJECT_POSE_TOLERANCE_M):
            differ("object", seen.name, "pose", _pose_json(m.pose), _pose_json(seen.pose))
        if m.unknown_since is not None:
            differ("object", seen.name, "unknown_since", m.unknown_since, None)
        if len(found) > before:
            fixes.append(
                ObjectCorrection(
                    name=seen.name,
                    on=seen.on,
                    held_by=seen.held_by,
                    pose=seen.pose if seen.held_by is None else None,
                    expected_version=m.version,
                )
            )
    for name in observation.missing:
        m = objects.get(name)
        if m is None or (m.unknown_since is not None and m.on is None and m.held_by is None):
            continue
        differ("object", name, "unknown_since", None, observation.at)
        fixes.append(ObjectCorrection(name=name, unknown=True, expected_version=m.version))

    robot_fields: dict[str, Any] = {}
    if robot is not None:
        if observation.pose is not None and _far(
            robot.pose, observation.pose, ROBOT_POSE_TOLERANCE_M
        ):
            differ("robot", robot.id, "pose", _pose_json(robot.pose), _pose_json(observation.pose))
            robot_fields["robot_pose"] = observation.pose
        moved = observation.place != robot.place
        if moved:
            differ("robot", robot.id, "place", robot.place, observation.place)
        # the slot goes with the place: a robot found elsewhere is at the slot it is seen
        # at (none when the observer knows no slots), never at its old place's slot
        slot = observation.slot if observation.has_slots else None
        if (moved or observation.has_slots) and slot != robot.slot:
            differ("robot", robot.id, "slot", robot.slot, slot)
            moved = True
        if moved:
            robot_fields["robot_place"] = observation.place
            robot_fields["robot_slot"] = slot
            robot_fields["set_place"] = True
        if observation.has_gripper and observation.holding != robot.holding:
            # corrected through the objects (their held_by): listed here for the reader
            differ("robot", robot.id, "holding", robot.holding, observation.holding)
    return found, fixes, robot_fields


class Reconciler:
    """Observes one robot and writes what memory got wrong. `observer` is the driver's
    (`robo_os.skill.observation.observer_of`)."""

    def __init__(
        self, robot_id: str, observer: Observer, memory: Memory, *, by: str | None = None
    ) -> None:
        self.robot_id = robot_id
        self.observer = observer
        self.memory = memory
        self.by = by or robot_id

    async def observe(
        self, about: Sequence[str] = ()
    ) -> tuple[Observation, RobotState | None, dict[str, ObjectState]]:
        """The observation, with the memory snapshot it is to be compared with (read
        first, so that a correction never overwrites a write made after it)."""
        robots, objects, _ = await self.memory.snapshot()
        robot = next((r for r in robots if r.id == self.robot_id), None)
        by_name = {o.name: o for o in objects}
        expect = expected_near(robot, objects, (a for a in about if a in by_name))
        return await self.observer.observe(expect), robot, by_name

    async def diff(self, about: Sequence[str] = ()) -> list[Disagreement]:
        """The disagreements now, written nowhere."""
        observation, robot, objects = await self.observe(about)
        return compare(observation, robot, objects)[0]

    async def run(self, reason: str, about: Sequence[str] = ()) -> Reconciliation:
        """Observe, compare and write the corrections (one atomic script)."""
        observation, robot, objects = await self.observe(about)
        found, fixes, robot_fields = compare(observation, robot, objects)
        outcomes: dict[str, str] = {}
        if found:
            reply = await self.memory.reconcile(
                fixes,
                robot=self.robot_id if robot is not None else None,
                observed_at=observation.at,
                by=self.by,
                **robot_fields,
            )
            outcomes = dict(reply.outcomes)
            log.info(
                "robot=%s reconciled after %s: %s",
                self.robot_id,
                reason,
                "; ".join(
                    f"{d.kind} {d.name}.{d.field}: {d.memory} -> {d.observed}"
                    f"{'' if outcomes.get(d.name, 'applied') == 'applied' else ' (' + outcomes[d.name] + ')'}"
                    for d in found
                ),
            )
        return Reconciliation(
            robot=self.robot_id,
            reason=reason,
            at=observation.at,
            disagreements=found,
            outcomes=outcomes,
        )


async def diff_all(
    memory: Memory, observers: Mapping[str, Observer], *, ask_all: bool = False
) -> list[Disagreement]:
    """Where memory and the robots' observations disagree now, written nowhere. Each
    robot is asked about what memory has near it; with `ask_all` (an all-seeing observer
    such as the simulator's) about every object. Each (entity, field) is listed once."""
    robots, objects, _ = await memory.snapshot()
    by_name = {o.name: o for o in objects}
    by_id = {r.id: r for r in robots}
    out: list[Disagreement] = []
    seen: set[tuple[str, str, str]] = set()
    for robot_id, observer in sorted(observers.items()):
        robot = by_id.get(robot_id)
        expect = tuple(sorted(by_name)) if ask_all else expected_near(robot, objects)
        found, _, _ = compare(await observer.observe(expect), robot, by_name)
        for d in found:
            key = (d.kind, d.name, d.field)
            if key not in seen:
                seen.add(key)
                out.append(d)
    return out
