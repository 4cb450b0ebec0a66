"""What the world's helpers may see of it: `Scene`, the world's bodies by name and the
read-only queries over them (implemented by `observation.WorldView`, a base of `SimWorld`).

Helpers (motions, manipulation, navigation, camera) take a `Scene`, or a protocol that
adds to it the little more they need, never the `SimWorld` itself: none of them imports
world.py, and each one's signature says what it touches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from robo_os_memory.models import Pose

from .objects import ObjectBody
from .rigs import RobotRig
from .scene import PlaceBody

__all__ = ["Scene"]


class Scene(Protocol):
    """The world as its helpers see it: one pybullet client and the bodies in it."""

    @property
    def client(self) -> int:
        """The pybullet client id every call must name."""
        ...

    @property
    def places(self) -> Mapping[str, PlaceBody]: ...

    @property
    def objects(self) -> Mapping[str, ObjectBody]: ...

    @property
    def robots(self) -> Mapping[str, RobotRig]: ...

    def object_body(self, name: str) -> int: ...

    def object_pose(self, name: str) -> Pose: ...

    def robot_pose(self, robot_id: str) -> Pose: ...

    def holder_of(self, obj: str) -> str | None: ...

    def support_of(self, obj: str) -> str | None: ...

    def drawer_open(self, place: str) -> bool | None: ...

    def unexpected_contact(self, rig: RobotRig) -> str | None: ...
