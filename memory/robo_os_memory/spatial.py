"""The spatial index: Redis GEO sets on a local metric projection.

World (x, y) metres map to (longitude, latitude) near (0, 0) with every metre scaled by
GEO_SCALE, so the 52-bit geohash's ~0.6 m cells become ~6 mm. Near the equator this
equirectangular map is almost isometric; the small distortion left (1e-4 relative at
90 km from the origin) is removed by padding the server-side radius query and refining
the candidates' exact planar distances here. The scripts keep the sets in step with the
records (`reindex` in lua/common.lua); nothing here scans records.
"""

from __future__ import annotations

import math

from .errors import InvalidUpdateError
from .keys import Keys
from .models import EntityKind, Pose
from .scripts import RedisClient

__all__ = ["GEO_SCALE", "MAX_ABS_COORD_M", "check_pose", "check_xy", "nearest_place", "within"]

GEO_SCALE = 100.0
_EARTH_R = 6372797.560856  # the sphere Redis GEO computes on
_DEG_PER_M = GEO_SCALE / (_EARTH_R * math.pi / 180.0)
MAX_ABS_COORD_M = 90_000.0
"""|x| and |y| limit of the world frame (latitude stays inside GEO's +-85 degrees)."""
_SPATIAL_KINDS = (EntityKind.robot, EntityKind.object, EntityKind.place)


def check_xy(x: float, y: float) -> None:
    if not (abs(x) <= MAX_ABS_COORD_M and abs(y) <= MAX_ABS_COORD_M):
        raise InvalidUpdateError(
            f"pose ({x}, {y}) is outside the memory's world (|x|, |y| <= {MAX_ABS_COORD_M:.0f} m)"
        )


def check_pose(pose: Pose | None) -> None:
    if pose is not None:
        check_xy(pose.x, pose.y)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return x * _DEG_PER_M, y * _DEG_PER_M


async def _search(
    r: RedisClient,
    keys: Keys,
    kinds: tuple[EntityKind, ...],
    x: float,
    y: float,
    radius_m: float,
    count: int | None = None,
) -> list[tuple[EntityKind, str, float]]:
    lon, lat = _lonlat(x, y)
    # pad for the projection's distortion and geohash cells, refine exactly below
    padded = radius_m * GEO_SCALE * 1.001 + 0.05 * GEO_SCALE
    async with r.pipeline(transaction=False) as pipe:
        for kind in kinds:
            pipe.geosearch(
                keys.geo(kind),
                longitude=lon,
                latitude=lat,
                radius=padded,
                unit="m",
                sort="ASC",
                count=count,
                withcoord=True,
            )
        results = await pipe.execute()
    out: list[tuple[EntityKind, str, float]] = []
    for kind, hits in zip(kinds, results, strict=True):
        for name, (hlon, hlat) in hits:
            d = math.hypot(hlon / _DEG_PER_M - x, hlat / _DEG_PER_M - y)
            if d <= radius_m:
                out.append((kind, name, d))
    out.sort(key=lambda t: (t[2], t[0], t[1]))
    return out


async def within(
    r: RedisClient, keys: Keys, x: float, y: float, radius_m: float, kind: EntityKind | None = None
) -> list[tuple[EntityKind, str, float]]:
    if radius_m < 0 or not math.isfinite(radius_m):
        raise InvalidUpdateError(f"radius must be a finite number >= 0, not {radius_m}")
    check_pose(Pose(x=x, y=y))
    kinds = _SPATIAL_KINDS if kind is None else ((kind,) if kind in _SPATIAL_KINDS else ())
    if not kinds:
        return []
    return await _search(r, keys, kinds, x, y, radius_m)


async def nearest_place(r: RedisClient, keys: Keys, pose: Pose) -> tuple[str, float] | None:
    check_pose(pose)
    # grow the radius so a scene with a place close by never ranks every place
    for radius in (2.0, 20.0, 200.0, 4 * MAX_ABS_COORD_M):
        hits = await _search(
            r, keys, (EntityKind.place,), pose.x, pose.y, radius, count=None if radius > 200 else 64
        )
        if hits:
            _, name, d = hits[0]
            return name, d
    return None
