"""Scenes and helpers for the simulator tests (small where a test allows it: fewer
bodies step faster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robo_os_memory.models import Pose

import robo_os
from robo_os.fleet import FleetConfig, RobotConfig, load_fleet

WAIT_S = 60.0


def household() -> FleetConfig:
    return load_fleet()


def corridor() -> FleetConfig:
    """Two tables with a long wall between them: a base must drive around it."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 8.0],
                "places": [
                    {
                        "name": "west",
                        "kind": "table",
                        "pose": {"x": -2.5, "y": 0.0},
                        "size": [0.8, 0.8, 0.75],
                    },
                    {
                        "name": "east",
                        "kind": "table",
                        "pose": {"x": 2.5, "y": 0.0},
                        "size": [0.8, 0.8, 0.75],
                    },
                    {
                        "name": "wall",
                        "kind": "counter",
                        "pose": {"x": 0.0, "y": 0.0},
                        "size": [0.3, 4.0, 0.9],
                    },
                ],
                "objects": [],
            },
            "robots": [{"id": "carrier1", "embodiment": "carrier", "at": "west"}],
        }
    )


class ImportedDriver:
    """A driver a fleet file names as `tests.sim.sim_scenes:ImportedDriver`."""

    def __init__(self, config: RobotConfig) -> None:
        self._config = config

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def embodiment(self) -> str:
        return self._config.embodiment

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"navigate"})

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def pose(self) -> Pose:
        return Pose(x=0.0, y=0.0)


class NotADriver:
    def __init__(self, config: Any) -> None:
        self.config = config


def site() -> FleetConfig:
    """Every kind of place and object a scene can declare (`robo_os/data/site.yaml`, the
    documented example): a generic surface with an arm on a pedestal at its front, a
    floor zone, a charging dock, a shelf and a table; primitive shapes, an open crate,
    URDF objects from pybullet_data, and a block declared a receptacle."""
    return load_fleet(Path(robo_os.__file__).parent / "data" / "site.yaml")
