"""Path planning for mobile bases: an occupancy grid built from the static geometry,
inflated by the robot's radius, searched with A*, and shortcut by line of sight."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .geometry import Frame2

__all__ = ["Obstacle", "OccupancyGrid"]


@dataclass(frozen=True)
class Obstacle:
    """A rectangle on the floor: frame at its centre, half extents along its axes."""

    frame: Frame2
    hx: float
    hy: float


_NEIGHBOURS = [(dx, dy, math.hypot(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]


class OccupancyGrid:
    """Free space for a disc of a given radius on a floor of size (sx, sy) centred on the
    origin. A cell is blocked when its centre is closer than the radius to an obstacle
    or to the floor's edge."""

    def __init__(
        self,
        size: tuple[float, float],
        obstacles: Iterable[Obstacle],
        radius: float,
        resolution: float = 0.1,
    ) -> None:
        self.resolution = resolution
        self.radius = radius
        self.nx = max(2, round(size[0] / resolution))
        self.ny = max(2, round(size[1] / resolution))
        self.x0 = -size[0] / 2.0
        self.y0 = -size[1] / 2.0
        xs = self.x0 + (np.arange(self.nx) + 0.5) * resolution
        ys = self.y0 + (np.arange(self.ny) + 0.5) * resolution
        self._cx, self._cy = np.meshgrid(xs, ys, indexing="ij")
        blocked = (
            (self._cx - self.x0 < radius)
            | (-self.x0 - self._cx < radius)
            | (self._cy - self.y0 < radius)
            | (-self.y0 - self._cy < radius)
        )
        self._static = self._obstacles_mask(obstacles, radius) | blocked
        self.blocked: NDArray[np.bool_] = self._static.copy()

    def _obstacles_mask(self, obstacles: Iterable[Obstacle], radius: float) -> NDArray[np.bool_]:
        mask = np.zeros((self.nx, self.ny), dtype=bool)
        for ob in obstacles:
            c, s = math.cos(ob.frame.yaw), math.sin(ob.frame.yaw)
            dx, dy = self._cx - ob.frame.x, self._cy - ob.frame.y
            lx, ly = c * dx + s * dy, -s * dx + c * dy
            ex = np.maximum(np.abs(lx) - ob.hx, 0.0)
            ey = np.maximum(np.abs(ly) - ob.hy, 0.0)
            mask |= ex * ex + ey * ey < radius * radius
        return mask

    def with_discs(self, discs: Iterable[tuple[float, float, float]]) -> OccupancyGrid:
        """A copy that also blocks discs (x, y, r) grown by this grid's radius (other robots)."""
        other = object.__new__(OccupancyGrid)
        other.__dict__.update(self.__dict__)
        blocked = self._static.copy()
        for x, y, r in discs:
            reach = r + self.radius
            blocked |= (self._cx - x) ** 2 + (self._cy - y) ** 2 < reach * reach
        other.blocked = blocked
        return other

    # -- cells ---------------------------------------------------------------------------
    def cell(self, x: float, y: float) -> tuple[int, int]:
        i = math.floor((x - self.x0) / self.resolution)
        j = math.floor((y - self.y0) / self.resolution)
        return min(max(i, 0), self.nx - 1), min(max(j, 0), self.ny - 1)

    def centre(self, i: int, j: int) -> tuple[float, float]:
        return (self.x0 + (i + 0.5) * self.resolution, self.y0 + (j + 0.5) * self.resolution)

    def free(self, x: float, y: float) -> bool:
        if not (self.x0 <= x <= -self.x0 and self.y0 <= y <= -self.y0):
            return False
        i, j = self.cell(x, y)
        return not bool(self.blocked[i, j])

    def line_free(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        n = max(1, int(math.dist(a, b) / (self.resolution * 0.5)))
        return all(
            self.free(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n)
            for k in range(n + 1)
        )

    def nearest_free(self, x: float, y: float, max_m: float = 1.0) -> tuple[float, float] | None:
        """The centre of the free cell nearest to (x, y), within max_m."""
        if self.free(x, y):
            return (x, y)
        ci, cj = self.cell(x, y)
        best: tuple[float, tuple[float, float]] | None = None
        r = math.ceil(max_m / self.resolution)
        for i in range(max(0, ci - r), min(self.nx, ci + r + 1)):
            for j in range(max(0, cj - r), min(self.ny, cj + r + 1)):
                if not self.blocked[i, j]:
                    c = self.centre(i, j)
                    d = math.dist(c, (x, y))
                    if d <= max_m and (best is None or d < best[0]):
                        best = (d, c)
        return best[1] if best else None

    # -- search --------------------------------------------------------------------------
    def plan(
        self, start: tuple[float, float], goal: tuple[float, float]
    ) -> list[tuple[float, float]] | None:
        """A collision-free polyline from start to goal (both must be free), or None."""
        if not (self.free(*start) and self.free(*goal)):
            return None
        if self.line_free(start, goal):
            return [start, goal]
        s, g = self.cell(*start), self.cell(*goal)
        came: dict[tuple[int, int], tuple[int, int]] = {}
        cost = {s: 0.0}
        frontier = [(0.0, s)]
        while frontier:
            _, cur = heapq.heappop(frontier)
            if cur == g:
                break
            for dx, dy, step in _NEIGHBOURS:
                nxt = (cur[0] + dx, cur[1] + dy)
                if not (0 <= nxt[0] < self.nx and 0 <= nxt[1] < self.ny) or self.blocked[nxt]:
                    continue
                # no corner cutting between two blocked cells
                if (
                    dx
                    and dy
                    and (self.blocked[cur[0] + dx, cur[1]] or self.blocked[cur[0], cur[1] + dy])
                ):
                    continue
                c = cost[cur] + step
                if c < cost.get(nxt, math.inf):
                    cost[nxt] = c
                    came[nxt] = cur
                    h = math.hypot(g[0] - nxt[0], g[1] - nxt[1])
                    heapq.heappush(frontier, (c + h, nxt))
        if g not in cost:
            return None
        cells = [g]
        while cells[-1] != s:
            cells.append(came[cells[-1]])
        cells.reverse()
        points = [start, *(self.centre(*c) for c in cells[1:-1]), goal]
        return self._shortcut(points)

    def _shortcut(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out = [points[0]]
        i = 0
        while i < len(points) - 1:
            j = len(points) - 1
            while j > i + 1 and not self.line_free(points[i], points[j]):
                j -= 1
            out.append(points[j])
            i = j
        return out
