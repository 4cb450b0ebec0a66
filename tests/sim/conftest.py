"""Fixtures for the simulator tests: a world per test, closed (and its stepping task
stopped) at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from robo_os.fleet import FleetConfig
from robo_os.settings import SimSettings
from robo_os.sim import SimWorld, WorldMemory


@pytest.fixture
async def make_world() -> AsyncIterator[Callable[..., SimWorld]]:
    worlds: list[SimWorld] = []

    def make(
        fleet: FleetConfig, *, memory: WorldMemory | None = None, **settings: object
    ) -> SimWorld:
        """`memory`: rebuilt where it has things (a restart), else from the scene file."""
        world = SimWorld(fleet, SimSettings(**settings), memory=memory)  # type: ignore[arg-type]
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.stop()
        world.close()
