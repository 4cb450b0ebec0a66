"""The pybullet simulation: a household world with robots of several embodiments.

- `SimWorld`: the world (plain class, one DIRECT client, fixed timestep, seeded).
- `WorldActor` / `start_world_actor`: the world as one Ray actor.
- `WorldClient`: how robots reach the world; `LocalWorldClient` (in-process) and
  `RayWorldClient` (actor handle).
- `SimRobot`: the robot driver (implements `Robot` and the capability parts).
- `seed_memory`: the world's initial state into the shared memory.
- `WorldMemory`: what the memory says of the world, to rebuild a world from (a restart).
"""

from __future__ import annotations

from .actor import WORLD_ACTOR_NAME, WorldActor, start_world_actor
from .client import LocalWorldClient, RayWorldClient, WorldClient
from .embodiments import Embodiment, builtin_embodiments
from .models import (
    MotionRequest,
    MoveTool,
    Navigate,
    ObjectInfo,
    Operate,
    Pick,
    Place,
    PlaceInfo,
    RobotInfo,
    Unload,
    WorldInfo,
)
from .png import encode_png
from .restore import WorldMemory
from .robot import SimRobot
from .seed import robot_record, seed_memory
from .world import SimWorld

__all__ = [
    "WORLD_ACTOR_NAME",
    "Embodiment",
    "LocalWorldClient",
    "MotionRequest",
    "MoveTool",
    "Navigate",
    "ObjectInfo",
    "Operate",
    "Pick",
    "Place",
    "PlaceInfo",
    "RayWorldClient",
    "RobotInfo",
    "SimRobot",
    "SimWorld",
    "Unload",
    "WorldActor",
    "WorldClient",
    "WorldInfo",
    "WorldMemory",
    "builtin_embodiments",
    "encode_png",
    "robot_record",
    "seed_memory",
    "start_world_actor",
]
