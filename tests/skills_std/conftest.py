"""A fresh simulated household per test, its robots connected over an in-process world
client and the memory seeded from it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from robo_os_memory import Memory

from robo_os.fleet import FleetConfig, load_fleet
from robo_os.settings import SimSettings
from robo_os.sim import LocalWorldClient, SimRobot, SimWorld, seed_memory

from .std_world import StdWorld


@pytest.fixture
async def make_std(memory: Memory) -> AsyncIterator[Callable[..., Awaitable[StdWorld]]]:
    made: list[SimWorld] = []

    async def make(fleet: FleetConfig | None = None, *, real_time: bool = False) -> StdWorld:
        world = SimWorld(fleet or load_fleet(), SimSettings(real_time=real_time))
        made.append(world)
        client = LocalWorldClient(world)
        std = StdWorld(world, memory)
        for cfg in world.fleet.robots:
            robot = SimRobot(cfg, client)
            await robot.connect()
            std.robots[cfg.id] = robot
        await seed_memory(memory, client)
        return std

    yield make
    for world in made:
        await world.stop()
        world.close()


@pytest.fixture
async def std(make_std: Callable[..., Awaitable[StdWorld]]) -> StdWorld:
    return await make_std()
