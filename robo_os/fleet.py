"""The fleet and scene file (`robo-os up --config FILE`): robots, places, objects.

With no file, the embedded household demo (`robo_os/data/household.yaml`) is used.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from robo_os_memory.models import AttrValue, Pose

from .errors import ConfigError

__all__ = ["FleetConfig", "ObjectConfig", "PlaceConfig", "RobotConfig", "SceneConfig", "load_fleet"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaceConfig(_Config):
    name: str
    kind: str = "table"
    """counter, table, shelf, sink, cabinet, ... (the simulator builds its geometry)."""
    pose: Pose
    size: tuple[float, float, float] = (1.0, 0.6, 0.75)
    """Footprint x, y and surface height z, in metres."""
    attrs: dict[str, AttrValue] = Field(default_factory=dict)


class ObjectConfig(_Config):
    name: str
    type: str
    """apple, cup, mug, bowl, sponge, book, cube, ... (the simulator builds its body)."""
    at: str
    """The place it starts on (YAML reads a bare `on:` key as a boolean, hence `at`)."""
    offset: tuple[float, float] = (0.0, 0.0)
    """Where on the place's surface, from its centre (m)."""
    attrs: dict[str, AttrValue] = Field(default_factory=dict)


class RobotConfig(_Config):
    id: str
    embodiment: str
    """fixed_arm, carrier, mobile_manipulator, ... (a simulator embodiment or a driver's)."""
    driver: str = "sim"
    """`sim` for the pybullet world, or `package.module:Class` of a real robot driver."""
    at: str
    """The place the robot starts at (a fixed arm is mounted there)."""
    reach: list[str] = Field(default_factory=list)
    """Extra places a fixed arm reaches besides `at`."""
    on_robot_node: bool = False
    """Run the agent on the Ray node offering the custom resource `robot:<id>` (the
    robot's own edge machine) instead of anywhere in the cluster."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Driver options, and `mcp:` servers whose tools become this robot's skills."""


class SceneConfig(_Config):
    size: tuple[float, float] = (8.0, 8.0)
    """Floor extent x, y in metres, centred on the origin."""
    places: list[PlaceConfig]
    objects: list[ObjectConfig] = Field(default_factory=list)


class FleetConfig(_Config):
    scene: SceneConfig
    robots: list[RobotConfig]

    @model_validator(mode="after")
    def _names_resolve(self) -> FleetConfig:
        places = [p.name for p in self.scene.places]
        objects = [o.name for o in self.scene.objects]
        robots = [r.id for r in self.robots]
        names = places + objects + robots
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"names must be unique across places, objects and robots: {dupes}")
        for o in self.scene.objects:
            if o.at not in places:
                raise ValueError(f"object {o.name!r} is at unknown place {o.at!r}")
        for r in self.robots:
            for p in [r.at, *r.reach]:
                if p not in places:
                    raise ValueError(f"robot {r.id!r} names unknown place {p!r}")
        return self

    def place(self, name: str) -> PlaceConfig:
        return next(p for p in self.scene.places if p.name == name)


def load_fleet(path: Path | None = None) -> FleetConfig:
    """Read and validate a fleet file; None reads the embedded household demo.

    The file may also carry a `settings:` section (see robo_os.settings.load_settings);
    a file with only settings runs the embedded scene."""
    try:
        if path is None:
            text = resources.files("robo_os.data").joinpath("household.yaml").read_text()
            where = "embedded household.yaml"
        else:
            text = Path(path).read_text()
            where = str(path)
    except OSError as e:
        raise ConfigError(f"cannot read fleet file {path}: {e}") from e
    try:
        data = yaml.safe_load(text) or {}
        if isinstance(data, dict):
            data.pop("settings", None)  # read by robo_os.settings.load_settings
            if path is not None and not data:
                return load_fleet(None)  # a settings-only file runs the embedded scene
        return FleetConfig.model_validate(data)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML: {e}") from e
    except ValidationError as e:
        raise ConfigError(f"{where} is not a valid fleet file:\n{e}") from e
