"""Records held in the shared memory.

Every record is a frozen pydantic model: it crosses process boundaries (Ray, REST)
and is replaced, never mutated. Every record carries who changed it last, when, and a
version that increases by one on every write, so a reader can tell stale from fresh.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AttrValue",
    "Change",
    "EntityKind",
    "Lease",
    "ObjectState",
    "PlaceState",
    "Pose",
    "RobotState",
    "RobotStatusValue",
    "Source",
]

AttrValue = str | int | float | bool | None
Source = Literal["observed", "believed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Pose(_Frozen):
    """A pose in the world frame: metres and radians (yaw about +z)."""

    x: float
    y: float
    z: float = 0.0
    yaw: float = 0.0

    def distance_to(self, other: Pose) -> float:
        """Planar (x, y) distance in metres."""
        return math.hypot(self.x - other.x, self.y - other.y)


class EntityKind(StrEnum):
    robot = "robot"
    object = "object"
    place = "place"
    lease = "lease"


class RobotStatusValue(StrEnum):
    idle = "idle"
    busy = "busy"
    offline = "offline"
    stopped = "stopped"


class _Stamped(_Frozen):
    updated_at: float = 0.0
    """Unix time (s) of the last write."""
    updated_by: str = ""
    """Who wrote last: a robot id, "brain", "sim", ..."""
    version: int = 0
    """0 for a record never written; the memory sets it on every write."""


class RobotState(_Stamped):
    id: str
    embodiment: str
    capabilities: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    pose: Pose | None = None
    place: str | None = None
    """The place the robot is docked at (a mobile robot, written by the navigation skills
    when it docks, cleared when it leaves) or mounted at (a fixed arm, from seeding). The
    one fact of where a robot is: the planner's `at(R, P)` reads only this (and `reach`)."""
    slot: int | None = None
    """Which of the place's docking slots it occupies (None: not docked, or mounted)."""
    reach: tuple[str, ...] = ()
    """Places a robot can reach without moving (a fixed arm's workspace)."""
    status: RobotStatusValue = RobotStatusValue.idle
    current_subtask: str | None = None
    """The call id of the skill call the robot runs now."""
    activity: str | None = None
    """Free text of what it is doing now ("pick apple: lifting")."""
    progress: float | None = None
    """Progress of the current call in [0, 1], if the skill reports it."""
    holding: str | None = None
    last_heartbeat: float | None = None
    source: Source = "believed"
    """Whether pose/place/holding were last set from the robot's own observation
    (reconciliation) or from what a skill was expected to do."""
    observed_at: float | None = None
    """Unix time of the last observation that corrected or confirmed this record."""
    node: str | None = None
    """The Ray node the agent runs on."""


class ObjectState(_Stamped):
    name: str
    type: str = "object"
    pose: Pose | None = None
    on: str | None = None
    """The place, receptacle, or robot (tray) the object rests on or in."""
    held_by: str | None = None
    attrs: dict[str, AttrValue] = Field(default_factory=dict)
    source: Source = "believed"
    """"observed": where/held_by/pose come from a robot's observation (reconciliation);
    "believed": from a skill's expected outcome or the scene file."""
    observed_at: float | None = None
    """Unix time of the observation that last corrected this record."""
    unknown_since: float | None = None
    """Set when a robot looked for the object where memory had it and nobody found it:
    `on`/`held_by` are then None and `pose` is only where it was last seen."""


class PlaceState(_Stamped):
    name: str
    kind: str = "place"
    pose: Pose
    size: tuple[float, float, float] = (1.0, 1.0, 0.0)
    """Extent (x, y, z) in metres of the place's region, centred on its pose."""
    attrs: dict[str, AttrValue] = Field(default_factory=dict)


class Change(_Frozen):
    """One entry of the history / change feed."""

    cursor: str
    """Stream id; pass it back to read everything after this change."""
    ts: float
    kind: EntityKind
    name: str
    op: Literal[
        "upsert", "update", "delete", "offline", "online", "acquire", "renew", "release", "expire"
    ]
    fields: dict[str, object] = Field(default_factory=dict)
    by: str = ""
    version: int = 0


class Lease(_Frozen):
    """A time-limited reservation of an object or place by one holder."""

    resource: str
    holder: str
    token: int
    """Fencing token: strictly increasing per resource; a writer guarded by a lease
    passes it so that a holder whose lease expired cannot overwrite a newer holder."""
    expires_at: float
