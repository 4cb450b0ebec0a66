"""The robot interface a driver implements: a real robot, the pybullet simulation, or a
test fake. Skills reach the hardware only through it.

Contract of every driver:
- `connect()` is called once before anything else and may block until the robot is
  ready; `close()` is called once at the end and must release every resource even if
  `connect()` failed half-way. Neither runs at import time.
- `state()` is cheap and never moves the robot.
- Motion methods (on the capability parts below) return when the motion finished, failed
  or was cancelled through the token they are given; they never block forever.
- Optional: `observe(expect)` (`robo_os.skill.observation.Observer`, on the driver or as
  its `observer` part) reports what the robot really senses; reconciliation corrects the
  memory from it after failures. Drivers without it are skipped.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from robo_os_memory.models import Pose

__all__ = ["Robot", "RobotInfo"]


class RobotInfo(Protocol):
    id: str
    embodiment: str
    capabilities: frozenset[str]


@runtime_checkable
class Robot(Protocol):
    """A robot driver. Capability-specific parts (base, arm, gripper, camera, tray) are
    attributes documented in `robo_os.skill.parts`."""

    @property
    def id(self) -> str: ...

    @property
    def embodiment(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[str]: ...

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def pose(self) -> Pose:
        """The robot base's current pose in the world frame."""
        ...
