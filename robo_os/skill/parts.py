"""Capability parts: what a robot driver offers besides `Robot` itself.

A driver exposes each part it has as an attribute (`robot.base`, `robot.arm`,
`robot.gripper`, `robot.camera`, `robot.tray`), or `None` when the embodiment lacks it;
`parts_of(robot)` reads them uniformly. Skills reach the hardware only through these
contracts, so a real driver that implements them runs the standard skills unchanged.

A skill declares the parts it needs by type (`arm: Arm`) and gets them injected;
`PART_SLOTS` is the one table saying where a driver exposes each part and which
capability a skill that needs it requires.

Every motion method has the same contract:
- it returns a `MotionResult` when the motion finished, failed or was stopped, and
  never raises for a world that does not cooperate (unreachable target, contact,
  missing object): those are outcomes, not exceptions;
- it stops within a bounded time (a driver documents its bound; the simulator stops on
  its next physics step) once `cancel` is set, returning `cancelled`, and once
  `deadline` (a `time.monotonic()` value) passes, returning `timeout`;
- after a stopped motion the robot holds still where it is; nothing is left moving.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from robo_os_memory.models import Pose

from .context import CancelToken

__all__ = [
    "PART_SLOTS",
    "Arm",
    "Base",
    "Camera",
    "CameraImage",
    "DockSlot",
    "DockingBase",
    "Gripper",
    "MotionOutcome",
    "MotionResult",
    "PartSlot",
    "Parts",
    "PoseCallback",
    "ToolPose",
    "Tray",
    "parts_of",
]


class MotionOutcome(StrEnum):
    """How a motion ended."""

    done = "done"
    collision = "collision"
    """Stopped by an unexpected contact."""
    unreachable = "unreachable"
    """No path to the goal, or the goal is outside the arm's workspace."""
    not_found = "not_found"
    """The object or place is not where the motion expected it (or does not exist)."""
    held_by_other = "held_by_other"
    """Another robot holds the object (or occupies the only slot)."""
    precondition_failed = "precondition_failed"
    """The robot's state forbids it: hand full, nothing held, part busy, not docked."""
    cancelled = "cancelled"
    timeout = "timeout"
    failed = "failed"
    """Anything else (the message says what)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MotionResult(_Frozen):
    """The outcome of one motion, with what the driver observed at its end."""

    outcome: MotionOutcome
    message: str = ""
    pose: Pose | None = None
    """Where the moved thing ended (the base for a drive, the object for pick/place)."""
    on: str | None = None
    """What the object rests on at the end of a place/unload (None: the floor, or held)."""
    data: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == MotionOutcome.done


class ToolPose(_Frozen):
    """Where an arm's end effector (the point between the finger pads) should be: a
    position in the world frame (metres) and, optionally, an orientation."""

    x: float
    y: float
    z: float
    orientation: tuple[float, float, float, float] | None = None
    """World-frame quaternion (x, y, z, w) of the end effector; None: pointing straight
    down, the fingers closing along the world's y axis (a top-down tool)."""


class CameraImage(_Frozen):
    """One camera frame and what perception found in it."""

    png: bytes
    width: int
    height: int
    visible: tuple[str, ...] = ()
    """Names of the objects (and places) seen, most pixels first."""
    eye: Pose | None = None
    """Where the camera was."""


PoseCallback = Callable[[Pose], Awaitable[None]]
"""Called with the base's pose every `progress_interval_s` while it drives."""


@runtime_checkable
class Base(Protocol):
    """A mobile base (capability `navigate`)."""

    async def pose(self) -> Pose:
        """Current pose in the world frame; cheap, never moves the robot."""
        ...

    async def place(self) -> str | None:
        """The place the base is docked at, or None while away from every place."""
        ...

    async def move_to(
        self,
        goal: str | Pose,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        on_pose: PoseCallback | None = None,
        progress_interval_s: float = 0.15,
    ) -> MotionResult:
        """Drive to a place's docking slot (a place name) or to a pose, around obstacles
        (never through them). `unreachable` when no path or no free slot exists;
        `collision` when it is stopped by contact. The result's pose is where it ended.
        `on_pose` is called about every `progress_interval_s` while moving and always
        once more with the pose it stopped at, however short the motion."""
        ...


class DockSlot(_Frozen):
    """One docking slot of a place, as a base sees it."""

    index: int
    blocks: tuple[int, ...] = ()
    """The place's other slots left without room for a robot while this one is used:
    whoever reserves this slot reserves those too."""
    pose: Pose | None = None
    """Where this robot's centre stands docked there, when the driver knows: lets a
    skill choose the slot nearest what it must reach (the pick skill moves to another
    slot of the same place when the object is out of its arm's reach)."""


@runtime_checkable
class DockingBase(Base, Protocol):
    """A mobile base that docks at numbered slots of a place, so that robots sharing a
    place can reserve one slot each in memory before they drive there (the standard
    navigation skills do; a plain `Base` is driven without slot reservations)."""

    async def slot(self) -> int | None:
        """The slot of `place()` the base is docked at, or None."""
        ...

    async def slots(self, place: str) -> list[DockSlot]:
        """The slots of `place` this base can dock at, best first for this robot (which
        robots hold or occupy them is the memory's business, not the driver's); empty
        when none fits it."""
        ...

    async def move_to(
        self,
        goal: str | Pose,
        *,
        slot: int | None = None,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        on_pose: PoseCallback | None = None,
        progress_interval_s: float = 0.15,
    ) -> MotionResult:
        """As `Base.move_to`; with `slot`, dock at exactly that slot of the place
        (`held_by_other` when another robot is docked there)."""
        ...


@runtime_checkable
class Gripper(Protocol):
    """An end effector (part of capability `manipulate`)."""

    async def holding(self) -> str | None:
        """The object held now (as the driver senses it), or None."""
        ...


@runtime_checkable
class Arm(Protocol):
    """A manipulator with a gripper (capability `manipulate`). The task motions (pick,
    place, operate) take names: a place, a robot (its tray) or a receptacle object; the
    driver finds the poses. The free motions (`move_tool`, `follow`) take `ToolPose`s
    in the world frame, for skills that move the tool themselves (wiping, scanning)."""

    async def reaches(self, target: str) -> bool:
        """Whether the arm can reach `target` (place, robot tray, object) from where the
        robot is now, without moving the base. Cheap; never moves the arm."""
        ...

    async def pick(
        self, obj: str, *, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> MotionResult:
        """Grasp `obj` and lift it; on `done` the object is held firmly through any later
        motion. `not_found` when it is not there or the grasp closed on nothing;
        `held_by_other` when another robot holds it; `precondition_failed` when the
        hand is full."""
        ...

    async def place(
        self,
        obj: str,
        target: str,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        """Put the held `obj` down on/in `target` and let go; `done` only when the object
        has come to rest there (the result's `on` says where it rests)."""
        ...

    async def operate(
        self,
        target: str,
        open: bool,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        """Open (or close) an articulated target, e.g. pull a cabinet's drawer out."""
        ...

    async def move_tool(
        self,
        pose: ToolPose,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        """Free motion: bring the end effector to `pose` (whatever the hand holds comes
        along). `unreachable` before anything moves when the pose is outside the arm's
        workspace from where the robot stands (the message says how far); `collision`
        when the arm is stopped on the way. The result's pose is the end effector's."""
        ...

    async def follow(
        self,
        path: Sequence[ToolPose],
        *,
        speed: float = 0.15,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        """Move the end effector along straight lines through each waypoint in turn at
        about `speed` m/s (a wiping stroke, a scan). Every waypoint is checked for reach
        before anything moves (`unreachable` names the first one out of reach); `done`
        only when the end effector reached each of them; `data["reached"]` counts the
        waypoints reached, also when the path was cancelled or timed out midway."""
        ...


@runtime_checkable
class Camera(Protocol):
    """A camera with object perception (capability `camera`)."""

    async def capture(self, target: str | None = None) -> CameraImage:
        """One frame looking at `target` (a place, object or robot), or straight ahead."""
        ...


@runtime_checkable
class Tray(Protocol):
    """A load carrier with an unload mechanism (capability `carry`)."""

    async def contents(self) -> list[str]:
        """Objects resting on the tray now."""
        ...

    async def unload(
        self, obj: str, *, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> MotionResult:
        """Put `obj` from the tray onto the place the robot is docked at; `done` when it
        rests there. `precondition_failed` when not docked or `obj` is not on the tray."""
        ...


@dataclass(frozen=True)
class PartSlot:
    """Where a driver exposes one kind of part, and the capability it stands for."""

    attribute: str
    """The driver's attribute holding the part (None when the robot has none)."""
    capability: str
    """What a skill that needs the part requires of the robot (the planner offers the
    skill only to robots with it)."""


PART_SLOTS: dict[type[Any], PartSlot] = {
    Base: PartSlot("base", "navigate"),
    Arm: PartSlot("arm", "manipulate"),
    Gripper: PartSlot("gripper", "manipulate"),
    Camera: PartSlot("camera", "camera"),
    Tray: PartSlot("tray", "carry"),
}
"""Each part protocol a skill parameter may be annotated with."""


@dataclass(frozen=True)
class Parts:
    """The parts a robot has (None where its embodiment has none)."""

    base: Base | None = None
    arm: Arm | None = None
    gripper: Gripper | None = None
    camera: Camera | None = None
    tray: Tray | None = None


def parts_of(robot: object) -> Parts:
    """Read a driver's parts from its attributes (missing attributes count as None)."""
    return Parts(**{s.attribute: getattr(robot, s.attribute, None) for s in PART_SLOTS.values()})
