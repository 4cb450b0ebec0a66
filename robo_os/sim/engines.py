"""Which world a fleet runs on: `sim.engine` picks the pybullet world (`physics`, the
default) or the kinematic one (`kinematic`, for large fleets)."""

from __future__ import annotations

from typing import Any

from ..fleet import FleetConfig
from ..settings import SimSettings
from .restore import WorldMemory

__all__ = ["build_world"]


def build_world(
    fleet: FleetConfig, settings: SimSettings | None = None, *, memory: WorldMemory | None = None
) -> Any:
    """The world `settings.engine` names, built from the fleet file (`memory`: rebuilt
    where the shared memory has things). Both offer the methods `WorldActor` calls."""
    settings = settings or SimSettings()
    if settings.engine == "kinematic":
        from .kinematic import KinematicWorld

        return KinematicWorld(fleet, settings, memory=memory)
    from .world import SimWorld

    return SimWorld(fleet, settings, memory=memory)
