"""Graspable objects: one small builder per object type, looked up by type name."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pybullet as p
from robo_os_memory.models import AttrValue

__all__ = ["COLOURS", "ObjectBody", "ObjectShape", "builtin_object_shapes", "rgba_of"]

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


def rgba_of(colour: object) -> tuple[float, float, float, float]:
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


@dataclass
class ObjectBody:
    """An object in the world: its name, type, pybullet body and shape."""

    name: str
    type: str
    body: int
    shape: ObjectShape
    attrs: dict[str, AttrValue] = field(default_factory=dict)


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
        ),
        "sponge": ObjectShape(_box((0.045, 0.03, 0.02)), 0.04, 0.055, mass=0.05),
        "cube": ObjectShape(_box((0.025, 0.025, 0.025)), 0.05, 0.04, mass=0.1),
    }
