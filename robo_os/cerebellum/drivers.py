"""Robot drivers: build a `Robot` from a fleet file's `RobotConfig`.

`driver: sim` makes a `SimRobot` in the simulated world; `driver: package.module:Class`
imports a real driver class and calls `Class(config)`. Drivers are looked up by name in a
`DriverRegistry` instance, so a deployment can add its own without touching this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, UnknownNameError
from ..fleet import RobotConfig
from ..skill.robot import Robot

__all__ = ["DriverFactory", "DriverRegistry", "DriverResources", "build_robot", "default_drivers"]


@dataclass(frozen=True)
class DriverResources:
    """What drivers may need besides their config (the sim driver needs the world)."""

    world: Any | None = None
    """A `robo_os.sim.client.WorldClient`, for `driver: sim`."""
    extras: Mapping[str, Any] = field(default_factory=dict)


DriverFactory = Callable[[RobotConfig, DriverResources], Robot]


def _sim_driver(config: RobotConfig, resources: DriverResources) -> Robot:
    from ..sim.client import WorldClient
    from ..sim.robot import SimRobot

    if not isinstance(resources.world, WorldClient):
        raise ConfigError(
            f"robot {config.id!r} uses the sim driver, but no simulated world was given"
        )
    return SimRobot(config, resources.world)


def _import_driver(config: RobotConfig) -> Robot:
    module_name, _, attr = config.driver.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"robot {config.id!r}: cannot import driver {config.driver!r}: {e}"
        ) from e
    try:
        robot = cls(config)
    except Exception as e:
        raise ConfigError(
            f"robot {config.id!r}: driver {config.driver!r} failed to start: {e}"
        ) from e
    if not isinstance(robot, Robot):
        raise ConfigError(
            f"robot {config.id!r}: {config.driver!r} does not implement the Robot protocol"
        )
    return robot


class DriverRegistry:
    """Drivers by name; a name of the form `package.module:Class` is imported instead."""

    def __init__(self, factories: Mapping[str, DriverFactory] | None = None) -> None:
        self._factories: dict[str, DriverFactory] = dict(factories or {})

    def register(self, name: str, factory: DriverFactory) -> None:
        self._factories[name] = factory

    @property
    def names(self) -> list[str]:
        return sorted(self._factories)

    def build(self, config: RobotConfig, resources: DriverResources | None = None) -> Robot:
        factory = self._factories.get(config.driver)
        if factory is not None:
            return factory(config, resources or DriverResources())
        if ":" in config.driver:
            return _import_driver(config)
        raise ConfigError(
            f"robot {config.id!r}: {UnknownNameError('driver', config.driver, self.names)}"
            " (or give `package.module:Class`)"
        )


def default_drivers() -> DriverRegistry:
    """A registry with the built-in drivers (`sim`)."""
    return DriverRegistry({"sim": _sim_driver})


def build_robot(
    config: RobotConfig, *, world: Any | None = None, registry: DriverRegistry | None = None
) -> Robot:
    """Build the driver a robot's config names; `world` is the sim world client."""
    return (registry or default_drivers()).build(config, DriverResources(world=world))
