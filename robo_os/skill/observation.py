"""What a robot senses: the optional observation part of the robot contract.

A driver that can tell what is really there (the simulator's ground truth; a real
robot's perception, gripper and tray sensors) implements `Observer`; reconciliation
(`robo_os.cerebellum.reconcile`) turns its `Observation` into corrections of the shared
memory. Drivers without it are skipped: memory then keeps what the skills believed.

Contract of `observe(expect)`:
- it never moves the robot and returns within a few seconds;
- `holding` and `tray` are what the robot's own sensors say now (`tray` is None for a
  robot without one);
- `objects` are the objects it can see or knows to be near it, with where they rest
  (`on`: a place, receptacle or robot; None with a pose: loose on the floor);
- `missing`: names from `expect` (what memory believes is held by, on, or near the
  robot) that it looked for and could not find. An observer that cannot tell leaves a
  name out of both lists.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from robo_os_memory.models import Pose

__all__ = ["Observation", "ObservedObject", "Observer", "observer_of"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ObservedObject(_Frozen):
    name: str
    pose: Pose | None = None
    on: str | None = None
    """The place, receptacle object or robot (tray) it rests on; None: held or loose."""
    held_by: str | None = None


class Observation(_Frozen):
    robot: str
    at: float = Field(default_factory=time.time)
    """Unix time of the observation."""
    pose: Pose | None = None
    place: str | None = None
    """The place the robot is docked (or mounted) at."""
    slot: int | None = None
    """The docking slot of `place` it occupies (with `has_slots`)."""
    has_slots: bool = False
    """False: `slot` says nothing (a base that does not dock at numbered slots)."""
    holding: str | None = None
    has_gripper: bool = False
    """False: `holding` says nothing (a robot without a gripper)."""
    tray: tuple[str, ...] | None = None
    objects: tuple[ObservedObject, ...] = ()
    missing: tuple[str, ...] = ()


@runtime_checkable
class Observer(Protocol):
    async def observe(self, expect: tuple[str, ...] = ()) -> Observation:
        """What the robot senses now; `expect` names objects memory believes near it."""
        ...


def observer_of(robot: object) -> Observer | None:
    """The robot itself when its driver observes, else its `observer` part, else None."""
    if isinstance(robot, Observer):
        return robot
    part = getattr(robot, "observer", None)
    return part if isinstance(part, Observer) else None
