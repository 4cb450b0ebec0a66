"""Corrections from observation, and letting go of a dead holder's leases: each one Lua
script (lua/reconcile.lua, lua/release_holder.lua), so a reader never sees half of one."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from . import spatial as _spatial
from .base import MemoryBase
from .errors import InvalidUpdateError
from .models import Pose
from .scripts import map_redis_errors

__all__ = ["CorrectionsAPI", "ObjectCorrection", "ReconcileReply"]

Outcome = Literal["applied", "stale", "missing", "invalid", "leased"]


class ObjectCorrection(BaseModel):
    """Where an object really is, as a robot observed it: resting `on` something, held
    by `held_by`, or neither (loose at `pose`; with `unknown`, nobody found it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    on: str | None = None
    held_by: str | None = None
    pose: Pose | None = None
    unknown: bool = False
    expected_version: int | None = None
    """The version the correction was computed against: if the record changed since
    (another robot moved it), the correction is skipped as `stale`."""


class ReconcileReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    robot_version: int | None
    outcomes: dict[str, Outcome]


class CorrectionsAPI(MemoryBase):
    @map_redis_errors
    async def reconcile(
        self,
        corrections: Sequence[ObjectCorrection],
        *,
        robot: str | None = None,
        robot_pose: Pose | None = None,
        robot_place: str | None = None,
        robot_slot: int | None = None,
        set_place: bool = False,
        observed_at: float | None = None,
        by: str | None = None,
    ) -> ReconcileReply:
        """Atomically apply what one observation found: each object where it was seen
        (the holders' `holding` follow), the robot's pose (and its place and slot,
        together, with `set_place`). Everything written is marked `source: observed` at
        `observed_at` (default now); an `unknown` object gets `unknown_since` (kept if
        already set).
        A correction against a record that changed since `expected_version`, or of an
        object another holder has a lease on (its skill is moving it), is skipped."""
        for c in corrections:
            _spatial.check_pose(c.pose)
            if c.on is not None and c.held_by is not None:
                raise InvalidUpdateError(f"{c.name} cannot both rest on {c.on} and be held")
        _spatial.check_pose(robot_pose)
        fields: dict[str, object] = {}
        if robot_pose is not None:
            fields["pose"] = robot_pose.model_dump(mode="json")
        if set_place:
            fields["place"] = robot_place
            fields["slot"] = robot_slot
        payload = [
            {
                "n": c.name,
                "v": -1 if c.expected_version is None else c.expected_version,
                "on": c.on,
                "h": c.held_by,
                "pose": None if c.pose is None else c.pose.model_dump(mode="json"),
                "unknown": c.unknown,
            }
            for c in corrections
        ]
        reply = await self._scripts.run(
            "reconcile",
            by or robot or self.writer,
            [
                robot or "",
                json.dumps(fields) if fields else "",
                json.dumps(float(observed_at if observed_at is not None else time.time())),
                # cjson decodes [] as an empty object: an empty list travels as "[]" all the same
                json.dumps(payload) if payload else "[]",
            ],
        )
        version, outcomes = reply
        return ReconcileReply(
            robot_version=None if int(version) < 0 else int(version),
            outcomes={str(n): o for n, o in outcomes},
        )

    @map_redis_errors
    async def release_all(self, holder: str, *, reason: str = "holder is dead") -> list[str]:
        """Release every lease `holder` has now, at once (its robot is known dead); the
        resources released. A write guarded by one of those leases fails afterwards
        (LeaseLostError): the holder's zombie cannot write with its old token."""
        if not holder:
            raise InvalidUpdateError("release_all needs a holder")
        reply = await self._scripts.run("release_holder", self.writer, [holder, reason])
        return [str(r) for r in reply]
