"""What crosses the world's boundary (in-process or through Ray): motion requests and
observations. Frozen models: they are pickled to and from the world actor."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from robo_os_memory.models import AttrValue, Pose

from ..skill.parts import ToolPose

__all__ = [
    "MotionRequest",
    "MoveTool",
    "Navigate",
    "ObjectInfo",
    "Operate",
    "Pick",
    "Place",
    "PlaceInfo",
    "RobotInfo",
    "Unload",
    "WorldInfo",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Navigate(_Frozen):
    """Drive to a place's docking slot (`target`) or to a free pose."""

    kind: Literal["navigate"] = "navigate"
    target: str | None = None
    pose: Pose | None = None
    slot: int | None = None
    """With `target`: dock at exactly this slot of the place (else the world picks one)."""


class Pick(_Frozen):
    kind: Literal["pick"] = "pick"
    object: str


class Place(_Frozen):
    """Put the held object on a place, into a receptacle object, or on a robot's tray."""

    kind: Literal["place"] = "place"
    object: str
    target: str


class Unload(_Frozen):
    """Push an object off the tray onto the place the carrier is docked at."""

    kind: Literal["unload"] = "unload"
    object: str


class Operate(_Frozen):
    """Open or close an articulated place (a cabinet's drawer)."""

    kind: Literal["operate"] = "operate"
    target: str
    open: bool


class MoveTool(_Frozen):
    """Free arm motion: the end effector along straight lines through each waypoint."""

    kind: Literal["move_tool"] = "move_tool"
    path: tuple[ToolPose, ...] = Field(min_length=1)
    speed: float = Field(default=0.15, gt=0.0, le=1.0)
    """Cartesian speed along the path (m/s)."""


MotionRequest = Navigate | Pick | Place | Unload | Operate | MoveTool


class RobotInfo(_Frozen):
    id: str
    embodiment: str
    capabilities: tuple[str, ...]
    pose: Pose
    place: str | None
    """The place it is docked at (a fixed arm: mounted at)."""
    slot: int | None = None
    """Which of the place's docking slots a mobile robot is docked at."""
    reach: tuple[str, ...]
    """Places a fixed arm reaches; empty for mobile robots (they reach where they are)."""
    holding: str | None = None
    tray: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()
    """Parts with a motion running ("base", "arm", "tray")."""


class ObjectInfo(_Frozen):
    name: str
    type: str
    pose: Pose
    on: str | None
    """Place, receptacle object or robot (tray) it rests on; None when held or on the floor."""
    held_by: str | None = None
    attrs: dict[str, AttrValue] = {}


class PlaceInfo(_Frozen):
    name: str
    kind: str
    pose: Pose
    size: tuple[float, float, float]
    attrs: dict[str, AttrValue] = {}
    articulated: bool = False


class WorldInfo(_Frozen):
    places: tuple[PlaceInfo, ...]
    objects: tuple[ObjectInfo, ...]
    robots: tuple[RobotInfo, ...]
    sim_time: float
    engine: str = "physics"
    """`physics` (pybullet) or `kinematic` (settings.sim.engine)."""
