"""Graspable objects: one small builder per object type, looked up by type name."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pybullet as p
import pybullet_data
from robo_os_memory.models import AttrValue

from ..errors import ConfigError
from ..fleet import ObjectConfig, ObjectTypeConfig

__all__ = [
    "COLOURS",
    "ObjectBody",
    "ObjectShape",
    "builtin_object_shapes",
    "object_attrs",
    "rgba_of",
    "shape_from_config",
]

COLOURS: Mapping[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.1, 0.1, 1.0),
    "green": (0.1, 0.6, 0.2, 1.0),
    "blue": (0.15, 0.3, 0.85, 1.0),
    "yellow": (0.95, 0.85, 0.15, 1.0),
    "white": (0.95, 0.95, 0.95, 1.0),
    "black": (0.1, 0.1, 0.1, 1.0),
    "orange": (0.95, 0.55, 0.1, 1.0),
    "brown": (0.5, 0.3, 0.15, 1.0),
    "grey": (0.55, 0.55, 0.55, 1.0),
}


def rgba_of(colour: object, default: str | None = None) -> tuple[float, float, float, float]:
    if colour is None and default is not None:
        colour = default
    return COLOURS.get(str(colour).lower(), (0.6, 0.6, 0.6, 1.0))


ShapeBuilder = Callable[[int, tuple[float, float, float, float]], tuple[int, int]]
"""(client, rgba) -> (collision shape, visual shape), centred on the object's middle."""


@dataclass(frozen=True)
class ObjectShape:
    """How the simulator builds and handles one object type."""

    build: ShapeBuilder
    height: float
    radius: float
    """Footprint radius: how far apart objects are put down."""
    mass: float = 0.15
    grasp_height: float = 0.5
    """Where the finger pads close, as a fraction of the height from the bottom."""
    grasp_offset: float = 0.0
    """Grasp point along the object's x axis (a bowl is grasped by its rim)."""
    grasp_yaw: float = 0.0
    """Gripper yaw relative to the object's (fingers close along this + 90 degrees)."""
    receptacle: bool = False
    """Other objects can be placed into it."""
    rolling_friction: float = 0.0
    symmetric: bool = False
    """Round about its vertical axis: any gripper yaw grasps it."""
    square: bool = False
    """Both its sides fit between the open fingers: a grasp turned a quarter works too
    (tried when the straight one would touch a wall or a neighbour)."""
    floor: float | None = None
    """Height above its bottom at which things put into it rest (a receptacle); None:
    on its top (a solid one)."""
    urdf: str | None = None
    """Loaded from this URDF file (`build` is then unused) with `scale`."""
    scale: float = 1.0
    centre_z: float = 0.0
    """Height of the middle of its bounding box above its body's origin (a URDF's origin
    need not be its middle; poses here are the middle's)."""
    colour: str | None = None
    """Colour when the object's attrs name none."""

    def rest_height(self) -> float:
        """Where things put into or onto it rest, above its bottom."""
        return self.height if self.floor is None else self.floor


@dataclass
class ObjectBody:
    """An object in the world: its name, type, pybullet body and shape."""

    name: str
    type: str
    body: int
    shape: ObjectShape
    attrs: dict[str, AttrValue] = field(default_factory=dict)

    @property
    def receptacle(self) -> bool:
        """Others can be put in or on it: its type says so, or the scene declared it."""
        return self.shape.receptacle or self.attrs.get("receptacle") is True


def _box(half: tuple[float, float, float]) -> ShapeBuilder:
    def build(client: int, rgba: tuple[float, float, float, float]) -> tuple[int, int]:
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
        vis = p.createVisualShape(
            p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=client
        )
        return col, vis

    return build


def _sphere(radius: float) -> ShapeBuilder:
    def build(client: int, rgba: tuple[float, float, float, float]) -> tuple[int, int]:
        col = p.createCollisionShape(p.GEOM_SPHERE, radius=radius, physicsClientId=client)
        vis = p.createVisualShape(
            p.GEOM_SPHERE, radius=radius, rgbaColor=rgba, physicsClientId=client
        )
        return col, vis

    return build


def _bin(half: tuple[float, float, float], wall: float = 0.008) -> ShapeBuilder:
    """An open box: a bottom plate and four walls standing on it."""
    hx, hy, hz = half
    boxes = [
        ((hx, hy, wall / 2), (0.0, 0.0, -hz + wall / 2)),
        ((wall / 2, hy, hz - wall / 2), (hx - wall / 2, 0.0, wall / 2)),
        ((wall / 2, hy, hz - wall / 2), (-hx + wall / 2, 0.0, wall / 2)),
        ((hx - wall, wall / 2, hz - wall / 2), (0.0, hy - wall / 2, wall / 2)),
        ((hx - wall, wall / 2, hz - wall / 2), (0.0, -hy + wall / 2, wall / 2)),
    ]

    def build(client: int, rgba: tuple[float, float, float, float]) -> tuple[int, int]:
        kw = {"shapeTypes": [p.GEOM_BOX] * len(boxes), "halfExtents": [b[0] for b in boxes]}
        col = p.createCollisionShapeArray(
            collisionFramePositions=[b[1] for b in boxes], physicsClientId=client, **kw
        )
        vis = p.createVisualShapeArray(
            visualFramePositions=[b[1] for b in boxes],
            rgbaColors=[rgba] * len(boxes),
            physicsClientId=client,
            **kw,
        )
        return col, vis

    return build


def _cylinder(radius: float, height: float, handle: bool = False) -> ShapeBuilder:
    def build(client: int, rgba: tuple[float, float, float, float]) -> tuple[int, int]:
        types = [p.GEOM_CYLINDER]
        radii, lengths = [radius], [height]
        halves: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        frames: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        if handle:  # a mug's handle, sticking out along +x
            types.append(p.GEOM_BOX)
            radii.append(0.0)
            lengths.append(0.0)
            halves.append((0.012, 0.006, height * 0.3))
            frames.append((radius + 0.01, 0.0, 0.0))
        kw = {"shapeTypes": types, "radii": radii, "lengths": lengths, "halfExtents": halves}
        col = p.createCollisionShapeArray(
            collisionFramePositions=frames, physicsClientId=client, **kw
        )
        vis = p.createVisualShapeArray(
            visualFramePositions=frames,
            rgbaColors=[rgba] * len(types),
            physicsClientId=client,
            **kw,
        )
        return col, vis

    return build


def _bowl(radius: float, height: float, walls: int = 8) -> ShapeBuilder:
    def build(client: int, rgba: tuple[float, float, float, float]) -> tuple[int, int]:
        thickness = 0.01
        types, halves, frames, orns = (
            [p.GEOM_BOX],
            [(radius * 0.72, radius * 0.72, thickness / 2)],
            [(0.0, 0.0, -height / 2 + thickness / 2)],
            [(0.0, 0.0, 0.0, 1.0)],
        )
        side = 2 * radius * math.tan(math.pi / walls) / 2 + 0.002
        wall_h = (
            height - thickness
        )  # walls stand on the bottom plate: only the plate touches a surface
        for k in range(walls):
            a = 2 * math.pi * k / walls
            types.append(p.GEOM_BOX)
            halves.append((thickness / 2, side, wall_h / 2))
            frames.append(
                (
                    (radius - thickness / 2) * math.cos(a),
                    (radius - thickness / 2) * math.sin(a),
                    thickness / 2,
                )
            )
            orns.append(p.getQuaternionFromEuler((0.0, 0.0, a)))
        kw = {"shapeTypes": types, "halfExtents": halves}
        col = p.createCollisionShapeArray(
            collisionFramePositions=frames,
            collisionFrameOrientations=orns,
            physicsClientId=client,
            **kw,
        )
        vis = p.createVisualShapeArray(
            visualFramePositions=frames,
            visualFrameOrientations=orns,
            rgbaColors=[rgba] * len(types),
            physicsClientId=client,
            **kw,
        )
        return col, vis

    return build


SQUARE_MAX = 0.07
"""Widest side (m) a box may have and still be grasped across either side: inside the
open fingers' span (8 cm) with room to spare."""


def builtin_object_shapes() -> dict[str, ObjectShape]:
    """The object types the household scene uses; unknown types fall back to `cube`."""
    return {
        "apple": ObjectShape(
            _sphere(0.035), 0.07, 0.04, mass=0.15, rolling_friction=0.002, symmetric=True
        ),
        # cylinders roll once tipped over (a tray's unload can tip a tall one): rolling
        # friction stops a lying cup where it fell instead of letting it roll on for metres
        "cup": ObjectShape(
            _cylinder(0.03, 0.09),
            0.09,
            0.035,
            mass=0.12,
            grasp_height=0.55,
            rolling_friction=0.002,
            symmetric=True,
        ),
        "mug": ObjectShape(
            _cylinder(0.035, 0.09, handle=True),
            0.09,
            0.05,
            mass=0.2,
            grasp_height=0.55,
            rolling_friction=0.002,
        ),
        "book": ObjectShape(_box((0.07, 0.03, 0.018)), 0.036, 0.075, mass=0.25),
        "bowl": ObjectShape(
            _bowl(0.075, 0.05),
            0.05,
            0.08,
            mass=0.2,
            grasp_height=0.6,
            grasp_offset=0.07,
            grasp_yaw=-math.pi / 2,
            receptacle=True,
            floor=0.012,
        ),
        "sponge": ObjectShape(_box((0.045, 0.03, 0.02)), 0.04, 0.055, mass=0.05),
        "cube": ObjectShape(_box((0.025, 0.025, 0.025)), 0.05, 0.04, mass=0.1, square=True),
    }


def object_attrs(oc: ObjectConfig) -> dict[str, AttrValue]:
    """An object's attributes as the scene declares them (memory gets them too): a
    declared receptacle says so in `receptacle: true`."""
    return {**oc.attrs, "receptacle": True} if oc.receptacle else dict(oc.attrs)


def urdf_path(name: str) -> str:
    """A URDF file: an existing path as given, else relative to pybullet_data."""
    if os.path.isfile(name):
        return name
    return os.path.join(pybullet_data.getDataPath(), name)


def _unused_builder(client: int, rgba: tuple[float, float, float, float]) -> tuple[int, int]:
    raise AssertionError("a URDF object is loaded, not built from shapes")


def shape_from_config(client: int, name: str, cfg: ObjectTypeConfig) -> ObjectShape:
    """The shape of a scene's object type. A URDF is loaded once into `client` to measure
    it (and removed): its height and footprint come from its bounding box."""
    if cfg.urdf is not None:
        path = urdf_path(cfg.urdf)
        try:
            body = p.loadURDF(path, globalScaling=cfg.scale, physicsClientId=client)
        except p.error as e:
            raise ConfigError(
                f"scene.object_types.{name}.urdf: cannot load {cfg.urdf!r} (looked at {path})"
            ) from e
        lo, hi = p.getAABB(body, -1, physicsClientId=client)
        for link in range(p.getNumJoints(body, physicsClientId=client)):
            a, b = p.getAABB(body, link, physicsClientId=client)
            lo = tuple(min(u, v) for u, v in zip(lo, a, strict=True))
            hi = tuple(max(u, v) for u, v in zip(hi, b, strict=True))
        origin = p.getBasePositionAndOrientation(body, physicsClientId=client)[0]
        p.removeBody(body, physicsClientId=client)
        height = hi[2] - lo[2]
        dx, dy = hi[0] - lo[0], hi[1] - lo[1]
        return ObjectShape(
            _unused_builder,
            height,
            math.hypot(dx, dy) / 2,
            mass=cfg.mass,
            # the fingers close across the narrower side (a mug's body, not its handle)
            grasp_yaw=math.pi / 2 if dx < dy else 0.0,
            receptacle=cfg.receptacle,
            floor=0.015 if cfg.receptacle else None,
            rolling_friction=0.002,
            urdf=path,
            scale=cfg.scale,
            centre_z=(lo[2] + hi[2]) / 2 - origin[2],
            colour=cfg.colour,
        )
    size = cfg.size
    if cfg.shape == "box":
        half = (size[0] / 2, size[1] / 2, size[2] / 2)
        if cfg.open_top:  # grasped by a wall, as a bowl by its rim
            return ObjectShape(
                _bin(half),
                size[2],
                math.hypot(size[0], size[1]) / 2,
                mass=cfg.mass,
                grasp_height=0.6,
                grasp_offset=half[0] - 0.004,
                grasp_yaw=-math.pi / 2,
                receptacle=True,
                floor=0.008,
                colour=cfg.colour,
            )
        return ObjectShape(
            _box(half),
            size[2],
            math.hypot(size[0], size[1]) / 2,
            mass=cfg.mass,
            receptacle=cfg.receptacle,
            colour=cfg.colour,
            square=max(size[0], size[1]) <= SQUARE_MAX,
        )
    if cfg.shape == "cylinder":
        return ObjectShape(
            _cylinder(size[0], size[1]),
            size[1],
            size[0] + 0.005,
            mass=cfg.mass,
            grasp_height=0.55,
            rolling_friction=0.002,
            symmetric=True,
            receptacle=cfg.receptacle,
            colour=cfg.colour,
        )
    return ObjectShape(
        _sphere(size[0]),
        2 * size[0],
        size[0] + 0.005,
        mass=cfg.mass,
        rolling_friction=0.002,
        symmetric=True,
        receptacle=cfg.receptacle,
        colour=cfg.colour,
    )
