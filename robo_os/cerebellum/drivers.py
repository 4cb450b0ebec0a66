"""Robot drivers: build a `Robot` from a fleet file's `RobotConfig`.

A fleet file's `driver:` is either a name or an import path:

- a name is looked up in a `DriverRegistry` instance: first the factories registered on
  it, then the installed `robo_os.drivers` entry points, loaded on first use. The
  simulator registers itself there like any third-party driver would:

      [project.entry-points."robo_os.drivers"]
      sim = "robo_os.sim.robot:sim_driver"

  An entry point names a `DriverFactory`: `factory(config, resources) -> Robot`.
- `package.module:Class` is resolved with `pkgutil.resolve_name` and called as
  `Class(config)`.

This module knows no driver itself: what a driver needs besides its config (the sim
driver's world client) comes in `DriverResources`.
"""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..errors import ConfigError, UnknownNameError
from ..fleet import RobotConfig
from ..skill.robot import Robot

__all__ = [
    "ENTRY_POINT_GROUP",
    "DriverFactory",
    "DriverRegistry",
    "DriverResources",
    "build_robot",
    "default_drivers",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "robo_os.drivers"


@dataclass(frozen=True)
class DriverResources:
    """What drivers may need besides their config."""

    world: Any | None = None
    """The simulated world's client (a `robo_os.sim.WorldClient`), for `driver: sim`."""
    extras: Mapping[str, Any] = field(default_factory=dict)


DriverFactory = Callable[[RobotConfig, DriverResources], Robot]


def _checked(config: RobotConfig, robot: object) -> Robot:
    if not isinstance(robot, Robot):
        raise ConfigError(
            f"robot {config.id!r}: {config.driver!r} does not implement the Robot protocol"
        )
    return robot


def _import_driver(config: RobotConfig) -> Robot:
    try:
        cls = pkgutil.resolve_name(config.driver)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(
            f"robot {config.id!r}: cannot import driver {config.driver!r}: {e}"
        ) from e
    try:
        robot = cls(config)
    except Exception as e:
        raise ConfigError(
            f"robot {config.id!r}: driver {config.driver!r} failed to start: {e}"
        ) from e
    return _checked(config, robot)


class DriverRegistry:
    """Drivers by name: the factories given or registered, then (with `group`) the
    installed entry points of that group, each imported the first time it is built.
    A name of the form `package.module:Class` is imported instead."""

    def __init__(
        self, factories: Mapping[str, DriverFactory] | None = None, *, group: str | None = None
    ) -> None:
        self._factories: dict[str, DriverFactory] = dict(factories or {})
        self._group = group
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, name: str, factory: DriverFactory) -> None:
        self._factories[name] = factory

    def _installed(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found = entry_points(group=self._group) if self._group else ()
            self._entry_points = {ep.name: ep for ep in found}
        return self._entry_points

    @property
    def names(self) -> list[str]:
        """Every driver name this registry knows (entry points are listed, not imported)."""
        return sorted(self._factories.keys() | self._installed().keys())

    def factory(self, name: str) -> DriverFactory | None:
        """The factory registered or installed as `name`, or None. An entry point that
        cannot be loaded is a `ConfigError` naming it and the error."""
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        ep = self._installed().get(name)
        if ep is None:
            return None
        try:
            loaded: object = ep.load()
        except Exception as e:  # any import-time failure of a plug-in is its own fault
            raise ConfigError(
                f"driver {name!r} (entry point {ep.group}: {ep.name} = {ep.value}) "
                f"cannot be loaded: {type(e).__name__}: {e}"
            ) from e
        if not callable(loaded):
            raise ConfigError(
                f"driver {name!r} (entry point {ep.group}: {ep.name} = {ep.value}) "
                f"is not a driver factory: {loaded!r}"
            )
        factory = loaded  # a callable is trusted to be a factory; `build` checks its robot
        log.debug("driver %s loaded from %s", name, ep.value)
        self._factories[name] = factory
        return factory

    def build(self, config: RobotConfig, resources: DriverResources | None = None) -> Robot:
        factory = self.factory(config.driver)
        if factory is not None:
            return _checked(config, factory(config, resources or DriverResources()))
        if ":" in config.driver:
            return _import_driver(config)
        raise ConfigError(
            f"robot {config.id!r}: {UnknownNameError('driver', config.driver, self.names)}"
            " (or give `package.module:Class`)"
        )


def default_drivers() -> DriverRegistry:
    """A registry of the installed drivers (the `robo_os.drivers` entry points)."""
    return DriverRegistry(group=ENTRY_POINT_GROUP)


def build_robot(
    config: RobotConfig, *, world: Any | None = None, registry: DriverRegistry | None = None
) -> Robot:
    """Build the driver a robot's config names; `world` is the sim world client."""
    return (registry or default_drivers()).build(config, DriverResources(world=world))
