"""The fleet and scene file (`robo-os up --config FILE`): robots, places, objects.

With no file, the embedded household demo (`robo_os/data/household.yaml`) is used.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from robo_os_memory.models import AttrValue, Pose

from .errors import ConfigError

__all__ = [
    "FleetConfig",
    "MountConfig",
    "ObjectConfig",
    "ObjectTypeConfig",
    "PlaceConfig",
    "RobotConfig",
    "SceneConfig",
    "load_fleet",
]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaceConfig(_Config):
    name: str
    kind: str = "table"
    """counter, table, shelf, sink, cabinet, surface, floor_zone, dock, ... (the simulator
    builds its geometry; an unknown kind is built as a counter)."""
    pose: Pose
    size: tuple[float, float, float] = (1.0, 0.6, 0.75)
    """Footprint x, y and surface height z, in metres."""
    attrs: dict[str, AttrValue] = Field(default_factory=dict)
    """Free-form, and read by the simulator: `open` (a cabinet's drawer), `slots: N`
    (only N docking slots)."""
    sides: tuple[Literal["front", "left", "right", "back"], ...] | None = None
    """The sides robots may dock at (`front` faces the room's centre); None: the kind's
    (every side; a shelf and a dock only their front)."""

    @model_validator(mode="after")
    def _size_positive(self) -> PlaceConfig:
        if self.size[0] <= 0 or self.size[1] <= 0 or self.size[2] < 0:
            raise ValueError(f"place {self.name!r}: size must be positive, not {self.size}")
        if self.sides is not None and not self.sides:
            raise ValueError(f"place {self.name!r}: sides must name at least one side")
        return self


class ObjectTypeConfig(_Config):
    """An object type a scene declares: a primitive shape or a URDF file.

    `shape: box` with `size: [x, y, z]`, `shape: cylinder` with `size: [radius, height]`,
    `shape: sphere` with `size: [radius]`; or `urdf:` a path (absolute, or relative to
    pybullet_data: `objects/mug.urdf`, `tray/traybox.urdf`) with an optional `scale`."""

    shape: Literal["box", "cylinder", "sphere"] | None = None
    size: tuple[float, ...] = ()
    urdf: str | None = None
    scale: float = Field(default=1.0, gt=0)
    mass: float = Field(default=0.15, gt=0)
    """kg."""
    colour: str | None = None
    """Default colour of objects of this type (an object's `attrs.colour` wins)."""
    receptacle: bool = False
    """Other objects can be put in or on it."""
    open_top: bool = False
    """A box built as a bin (a bottom and four walls) rather than solid: a receptacle
    whose contents rest inside it."""

    @model_validator(mode="after")
    def _one_way_to_build(self) -> ObjectTypeConfig:
        if (self.shape is None) == (self.urdf is None):
            raise ValueError("give exactly one of `shape` (box, cylinder, sphere) or `urdf`")
        if self.shape is not None:
            n = {"box": 3, "cylinder": 2, "sphere": 1}[self.shape]
            what = {"box": "[x, y, z]", "cylinder": "[radius, height]", "sphere": "[radius]"}
            if len(self.size) != n or any(v <= 0 for v in self.size):
                raise ValueError(
                    f"size of a {self.shape} is {what[self.shape]} in metres, all positive;"
                    f" got {list(self.size)}"
                )
        elif self.size:
            raise ValueError("a urdf object's size comes from its file: use `scale`, not `size`")
        if self.open_top and self.shape != "box":
            raise ValueError("open_top is for a box")
        return self


class MountConfig(_Config):
    """Where a fixed arm's base stands: a pose in the world frame (x, y, yaw) on a place's
    surface (`on`) or on a pedestal of `height` on the floor."""

    x: float
    y: float
    yaw: float = 0.0
    on: str | None = None
    """A place whose surface the arm stands on (its height is the place's)."""
    height: float = Field(default=0.75, gt=0, le=2.0)
    """The pedestal's height when the arm is not `on` a place (m)."""


class ObjectConfig(_Config):
    name: str
    type: str
    """apple, cup, mug, bowl, sponge, book, cube, or one of the scene's `object_types`
    (the simulator builds its body; an unknown type is built as a cube)."""
    at: str
    """The place it starts on (YAML reads a bare `on:` key as a boolean, hence `at`)."""
    receptacle: bool = False
    """Other objects can be put in or on this one, whatever its type."""
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
    mount: MountConfig | None = None
    """A fixed arm's base pose; by default it stands on `at`, near its front edge."""
    on_robot_node: bool = False
    """Run the agent on the Ray node offering the custom resource `robot:<id>` (the
    robot's own edge machine) instead of anywhere in the cluster."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Driver options, and `mcp:` servers whose tools become this robot's skills."""
    skills: list[str] = Field(default_factory=list)
    """More skills for this robot's agent, besides the installed plug-ins: import paths
    (`package.module:SKILLS` for a list, `package.module:function` for one skill)."""


class SceneConfig(_Config):
    size: tuple[float, float] = (8.0, 8.0)
    """Floor extent x, y in metres, centred on the origin."""
    places: list[PlaceConfig]
    object_types: dict[str, ObjectTypeConfig] = Field(default_factory=dict)
    """Object types of this scene (primitive shapes or URDF files), by type name."""
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
            if r.mount is not None:
                self._check_mount(r.id, r.mount)
        return self

    def _check_mount(self, robot: str, mount: MountConfig) -> None:
        where = f"robots[{robot}].mount"
        if mount.on is None:
            return
        place = next((p for p in self.scene.places if p.name == mount.on), None)
        if place is None:
            raise ValueError(f"{where}.on names unknown place {mount.on!r}")
        # the place's footprint, in its own frame (size x along its yaw)
        c, s = math.cos(place.pose.yaw), math.sin(place.pose.yaw)
        dx, dy = mount.x - place.pose.x, mount.y - place.pose.y
        lx, ly = c * dx + s * dy, -s * dx + c * dy
        if abs(lx) > place.size[0] / 2 or abs(ly) > place.size[1] / 2:
            raise ValueError(
                f"{where}: ({mount.x}, {mount.y}) is not on {place.name}'s surface"
                f" (its footprint is {place.size[0]} x {place.size[1]} m around"
                f" ({place.pose.x}, {place.pose.y}))"
            )

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
