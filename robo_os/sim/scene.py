"""Static scene: floor, places with real geometry (one builder per place kind), their
docking slots, and the obstacles mobile bases plan around.

Every place is built in its *front frame*: origin at the place's centre, +x pointing out
of the side that faces the room's centre (where robots dock and drawers open), `depth`
along x and `width` along y.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pybullet as p

from ..fleet import PlaceConfig
from .geometry import Frame2, wrap_angle, yaw_quat
from .planning import Obstacle

__all__ = [
    "DOCK_GAP",
    "Drawer",
    "PlaceBody",
    "PlaceBuilder",
    "PlaceKind",
    "Slot",
    "build_place",
    "builtin_place_kinds",
]

SIDES = ("front", "left", "right", "back")
DOCK_GAP = 0.04
"""Gap between a docked robot's front and the place's edge (m)."""
APPROACH_CLEARANCE = 0.5
"""Distance from the edge at which a robot turns to dock (outside every inflated obstacle)."""


@dataclass
class Slot:
    """Where one robot docks at a place: facing the place, `standoff` from its edge."""

    place: str
    index: int
    frame: Frame2
    """Docked pose of the robot's centre, yaw facing the place."""
    approach: tuple[float, float]
    side: str
    occupant: str | None = None

    def dock_pose(self, half_length: float) -> Frame2:
        """The docked pose for a robot whose centre is `half_length` behind its front."""
        return self.frame.compose(-half_length, 0.0)


@dataclass
class Drawer:
    joint: int
    travel: float
    handle: tuple[float, float, float]
    """Handle centre in the place's front frame when closed (x, y, z)."""


@dataclass
class PlaceBody:
    config: PlaceConfig
    body: int
    frame: Frame2
    """Front frame (see module doc)."""
    depth: float
    width: float
    height: float
    surface_z: float
    """Height objects rest at (a sink's basin is lower than its rim)."""
    region: tuple[float, float, float, float]
    """Usable surface in the front frame: x_min, x_max, y_min, y_max."""
    drawer: Drawer | None = None
    slots: list[Slot] = field(default_factory=list)
    sides: tuple[str, ...] = SIDES
    """The sides robots may dock at."""
    parts: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = ()
    """Its boxes (centre in the front frame with z, half extents): what an arm's links
    are kept clear of on the way to a spot."""

    @property
    def name(self) -> str:
        return self.config.name

    def obstacle(self) -> Obstacle:
        return Obstacle(self.frame, self.depth / 2, self.width / 2)

    def on_surface(self, x: float, y: float, margin: float = 0.0) -> bool:
        lx, ly = self.frame.to_local(x, y)
        x0, x1, y0, y1 = self.region
        return x0 - margin <= lx <= x1 + margin and y0 - margin <= ly <= y1 + margin


@dataclass(frozen=True)
class _Part:
    half: tuple[float, float, float]
    pos: tuple[float, float, float]


PlaceGeometry = tuple[list[_Part], float, tuple[float, float, float, float]]
"""(boxes in the front frame, surface height, usable region)."""
PlaceBuilder = Callable[[float, float, float], PlaceGeometry]
"""(depth, width, height) -> geometry in the front frame."""


@dataclass(frozen=True)
class PlaceKind:
    """How one kind of place is built."""

    build: PlaceBuilder
    drawer: bool = False
    """Articulated: a drawer slides out of the front (what `open`/`close` operate)."""
    rgba: tuple[float, float, float, float] = (0.6, 0.6, 0.6, 1.0)
    sides: tuple[str, ...] = SIDES
    """The sides robots may dock at (a place's `sides` overrides them): a shelf's
    back panel leaves no room for a tray's overhang at its back or ends, so a shelf has
    front slots only."""
    slots: int | None = None
    """At most this many slots unless `attrs.slots` says otherwise (a charging dock: 1)."""


def _region(depth: float, width: float, margin: float = 0.06) -> tuple[float, float, float, float]:
    return (-depth / 2 + margin, depth / 2 - margin, -width / 2 + margin, width / 2 - margin)


def _counter(depth: float, width: float, h: float) -> PlaceGeometry:
    return [_Part((depth / 2, width / 2, h / 2), (0, 0, h / 2))], h, _region(depth, width)


def _table(depth: float, width: float, h: float) -> PlaceGeometry:
    parts = [_Part((depth / 2, width / 2, 0.02), (0, 0, h - 0.02))]
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(
                _Part(
                    (0.025, 0.025, (h - 0.04) / 2),
                    (sx * (depth / 2 - 0.06), sy * (width / 2 - 0.06), (h - 0.04) / 2),
                )
            )
    return parts, h, _region(depth, width)


def _shelf(depth: float, width: float, h: float) -> PlaceGeometry:
    back = 0.03
    parts = [
        _Part((depth / 2, width / 2, h / 2), (0, 0, h / 2)),
        _Part((back / 2, width / 2, 0.45), (-depth / 2 + back / 2, 0, h + 0.45)),
    ]
    x0, x1, y0, y1 = _region(depth, width)
    return parts, h, (x0 + back, x1, y0, y1)


def _sink(depth: float, width: float, h: float) -> PlaceGeometry:
    wall, basin = 0.08, 0.12
    floor = h - basin
    parts = [
        _Part((depth / 2, width / 2, floor / 2), (0, 0, floor / 2)),
        _Part((wall / 2, width / 2, basin / 2), (depth / 2 - wall / 2, 0, floor + basin / 2)),
        _Part((wall / 2, width / 2, basin / 2), (-depth / 2 + wall / 2, 0, floor + basin / 2)),
        _Part(
            (depth / 2 - wall, wall / 2, basin / 2), (0, width / 2 - wall / 2, floor + basin / 2)
        ),
        _Part(
            (depth / 2 - wall, wall / 2, basin / 2), (0, -width / 2 + wall / 2, floor + basin / 2)
        ),
    ]
    return parts, floor, _region(depth, width, wall + 0.04)


def _cabinet(depth: float, width: float, h: float) -> PlaceGeometry:
    t = 0.03
    parts = [
        _Part((depth / 2, width / 2, t / 2), (0, 0, h - t / 2)),  # top
        _Part((depth / 2, width / 2, 0.15), (0, 0, 0.15)),  # plinth
        _Part((depth / 2, t / 2, h / 2), (0, width / 2 - t / 2, h / 2)),
        _Part((depth / 2, t / 2, h / 2), (0, -width / 2 + t / 2, h / 2)),
        _Part((t / 2, width / 2, h / 2), (-depth / 2 + t / 2, 0, h / 2)),
    ]
    return parts, h, _region(depth, width)


def _floor_zone(depth: float, width: float, h: float) -> PlaceGeometry:
    """A marked area of the floor: a plate `h` thick (at least 5 mm)."""
    t = max(h, 0.005)
    return [_Part((depth / 2, width / 2, t / 2), (0, 0, t / 2))], t, _region(depth, width, 0.04)


def builtin_place_kinds() -> dict[str, PlaceKind]:
    """Geometry per place kind; an unknown kind is built as a counter."""
    return {
        "counter": PlaceKind(_counter, rgba=(0.55, 0.6, 0.7, 1.0)),
        "surface": PlaceKind(_counter, rgba=(0.6, 0.6, 0.6, 1.0)),
        "table": PlaceKind(_table, rgba=(0.6, 0.42, 0.25, 1.0)),
        # a tray docked at a side or the back would run into the back panel: front only
        "shelf": PlaceKind(_shelf, rgba=(0.45, 0.32, 0.2, 1.0), sides=("front",)),
        "sink": PlaceKind(_sink, rgba=(0.8, 0.82, 0.85, 1.0)),
        "cabinet": PlaceKind(_cabinet, drawer=True, rgba=(0.7, 0.65, 0.55, 1.0)),
        "floor_zone": PlaceKind(_floor_zone, rgba=(0.3, 0.7, 0.35, 1.0)),
        "dock": PlaceKind(_counter, rgba=(0.2, 0.2, 0.25, 1.0), sides=("front",), slots=1),
    }


def _front_yaw(cfg: PlaceConfig) -> float:
    """World yaw of the side facing the room's centre (the origin)."""
    frame = Frame2(cfg.pose.x, cfg.pose.y, cfg.pose.yaw)
    lx, ly = frame.to_local(0.0, 0.0)
    if abs(lx) >= abs(ly):
        local = 0.0 if lx >= 0 else math.pi
    else:
        local = math.pi / 2 if ly >= 0 else -math.pi / 2
    return wrap_angle(cfg.pose.yaw + local)


def _drawer_link(
    client: int, depth: float, width: float, h: float
) -> tuple[dict[str, list[object]], Drawer]:
    """A drawer sliding out of the front (+x) between plinth and top."""
    t, z0, z1 = 0.02, 0.32, h - 0.05
    inner_w = width - 0.08
    d = depth - 0.06
    boxes = [
        ((d / 2, inner_w / 2, t / 2), (0.0, 0.0, z0 + t / 2)),  # bottom
        (
            (t / 2, width / 2 - 0.005, (z1 - z0) / 2),
            (d / 2 + t / 2, 0.0, (z0 + z1) / 2),
        ),  # front panel
        ((t / 2, inner_w / 2, 0.06), (-d / 2 + t / 2, 0.0, z0 + 0.06)),  # back
        # a fin handle: grasped from above, fingers either side, hand clear of the cabinet
        ((0.045, 0.01, 0.025), (d / 2 + t + 0.045, 0.0, z1 - 0.12)),
    ]
    halves = [b[0] for b in boxes]
    frames = [b[1] for b in boxes]
    col = p.createCollisionShapeArray(
        [p.GEOM_BOX] * len(boxes),
        halfExtents=halves,
        collisionFramePositions=frames,
        physicsClientId=client,
    )
    vis = p.createVisualShapeArray(
        [p.GEOM_BOX] * len(boxes),
        halfExtents=halves,
        visualFramePositions=frames,
        rgbaColors=[(0.8, 0.75, 0.6, 1.0)] * 3 + [(0.2, 0.2, 0.2, 1.0)],
        physicsClientId=client,
    )
    link = {
        "linkMasses": [2.0],
        "linkCollisionShapeIndices": [col],
        "linkVisualShapeIndices": [vis],
        "linkPositions": [(0.0, 0.0, 0.0)],
        "linkOrientations": [(0.0, 0.0, 0.0, 1.0)],
        "linkInertialFramePositions": [(0.0, 0.0, z0)],
        "linkInertialFrameOrientations": [(0.0, 0.0, 0.0, 1.0)],
        "linkParentIndices": [0],
        "linkJointTypes": [p.JOINT_PRISMATIC],
        "linkJointAxis": [(1.0, 0.0, 0.0)],
    }
    handle = (d / 2 + t + 0.065, 0.0, z1 - 0.12)
    return link, Drawer(joint=0, travel=min(0.22, depth * 0.5), handle=handle)


def build_place(client: int, cfg: PlaceConfig, kinds: dict[str, PlaceKind]) -> PlaceBody:
    yaw = _front_yaw(cfg)
    along_x = abs(math.cos(yaw - cfg.pose.yaw)) > 0.5
    depth, width = (cfg.size[0], cfg.size[1]) if along_x else (cfg.size[1], cfg.size[0])
    h = cfg.size[2]
    kind = kinds.get(cfg.kind) or kinds.get("counter") or PlaceKind(_counter)
    parts, surface_z, region = kind.build(depth, width, h)
    rgba = kind.rgba
    col = p.createCollisionShapeArray(
        [p.GEOM_BOX] * len(parts),
        halfExtents=[q.half for q in parts],
        collisionFramePositions=[q.pos for q in parts],
        physicsClientId=client,
    )
    vis = p.createVisualShapeArray(
        [p.GEOM_BOX] * len(parts),
        halfExtents=[q.half for q in parts],
        visualFramePositions=[q.pos for q in parts],
        rgbaColors=[rgba] * len(parts),
        physicsClientId=client,
    )
    drawer: Drawer | None = None
    links: dict[str, list[object]] = {}
    if kind.drawer:
        links, drawer = _drawer_link(client, depth, width, h)
    body = p.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=col,
        baseVisualShapeIndex=vis,
        basePosition=(cfg.pose.x, cfg.pose.y, 0.0),
        baseOrientation=yaw_quat(yaw),
        physicsClientId=client,
        **links,
    )
    if drawer is not None:
        # friction in the runners: the drawer stays where it is left
        p.setJointMotorControl2(
            body,
            drawer.joint,
            p.VELOCITY_CONTROL,
            targetVelocity=0.0,
            force=8.0,
            physicsClientId=client,
        )
        if cfg.attrs.get("open") is True:
            p.resetJointState(body, drawer.joint, drawer.travel, physicsClientId=client)
    sides = kind.sides if cfg.sides is None else tuple(s for s in SIDES if s in cfg.sides)
    place = PlaceBody(
        cfg,
        body,
        Frame2(cfg.pose.x, cfg.pose.y, yaw),
        depth,
        width,
        h,
        surface_z,
        region,
        drawer,
        sides=sides,
        parts=tuple((q.pos, q.half) for q in parts),
    )
    place.slots = _slots(place, kind.slots)
    return place


def _slots(place: PlaceBody, default_limit: int | None = None) -> list[Slot]:
    """Docking slots on every side it allows; the front side first, centre before
    offsets. A place whose attrs say `slots: N` keeps only N of them (side centres
    first)."""
    extra = 0.4 if place.drawer is not None else 0.0  # room for the drawer and the arm pulling it
    sides = [  # (name, outward yaw in the front frame, half extent to the edge, side length)
        ("front", 0.0, place.depth / 2, place.width),
        ("left", math.pi / 2, place.width / 2, place.depth),
        ("right", -math.pi / 2, place.width / 2, place.depth),
        ("back", math.pi, place.depth / 2, place.width),
    ]
    slots: list[Slot] = []
    for side, a, edge, length in sides:
        if side not in place.sides:
            continue
        offsets = [0.0]
        if length >= 1.1:
            offsets += [length / 2 - 0.3, -(length / 2 - 0.3)]
        standoff = DOCK_GAP + (extra if side == "front" else 0.0)
        for off in offsets:
            normal = place.frame.compose(0.0, 0.0, a)
            front = normal.compose(edge + standoff, off, math.pi)
            approach = normal.to_world(edge + standoff + APPROACH_CLEARANCE, off)
            slots.append(Slot(place.name, len(slots), front, approach, side))
    limit = place.config.attrs.get("slots", default_limit)
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < len(slots):
        # a place that takes only so many robots (a narrow counter, one charging pad):
        # the centres of its sides first, front, back, left, right, then the offsets
        order = {"front": 0, "back": 1, "left": 2, "right": 3}
        kept = sorted(slots, key=lambda s: (s.index != _centre(slots, s), order[s.side]))
        slots = [Slot(s.place, i, s.frame, s.approach, s.side) for i, s in enumerate(kept[:limit])]
    return slots


def _centre(slots: list[Slot], slot: Slot) -> int:
    """The index of the centre slot of `slot`'s side (the first built on that side)."""
    return next(s.index for s in slots if s.side == slot.side)
