"""Planar frames and the few rotations the simulator needs."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Frame2", "quat_yaw", "wrap_angle", "yaw_quat"]


def wrap_angle(a: float) -> float:
    """The same angle in (-pi, pi]."""
    return math.atan2(math.sin(a), math.cos(a))


def yaw_quat(yaw: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a rotation about +z."""
    return (0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0))


def quat_yaw(q: tuple[float, ...] | list[float]) -> float:
    """Yaw (about +z) of a quaternion (x, y, z, w)."""
    x, y, z, w = q
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


@dataclass(frozen=True)
class Frame2:
    """A planar frame: origin (x, y) and heading yaw in the world."""

    x: float
    y: float
    yaw: float = 0.0

    def to_world(self, lx: float, ly: float) -> tuple[float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return (self.x + c * lx - s * ly, self.y + s * lx + c * ly)

    def to_local(self, wx: float, wy: float) -> tuple[float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = wx - self.x, wy - self.y
        return (c * dx + s * dy, -s * dx + c * dy)

    def compose(self, lx: float, ly: float, lyaw: float = 0.0) -> Frame2:
        """The frame at (lx, ly, lyaw) expressed in this one."""
        x, y = self.to_world(lx, ly)
        return Frame2(x, y, wrap_angle(self.yaw + lyaw))

    def distance_to(self, x: float, y: float) -> float:
        return math.hypot(x - self.x, y - self.y)
