"""The standard skills on a scene of declared kinds, through agents and real memory
(no reconciliation): a tin into an open crate, a URDF mug onto a block declared a
receptacle, a cube off a floor zone into a URDF tray on a shelf, a ball loaded by an
arm on a pedestal onto a carrier and delivered, while a manipulator and the carrier
share the bench's slots. Memory matches the simulator afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from robo_os_memory import Memory
from robo_os_skills import SKILLS

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.cerebellum.reconcile import diff_all
from robo_os.contracts import SkillCall, SkillResult
from robo_os.settings import AgentSettings, SimSettings
from robo_os.sim import LocalWorldClient, SimRobot, SimWorld, seed_memory
from robo_os.skill.registry import SkillRegistry

from .sim_scenes import site


class Site:
    def __init__(self, world: SimWorld, memory: Memory) -> None:
        self.world, self.memory = world, memory
        client = LocalWorldClient(world)
        self.robots = {rc.id: SimRobot(rc, client) for rc in world.fleet.robots}
        self.agents: dict[str, CerebellumAgent] = {}
        self.n = 0

    async def call(self, robot: str, skill: str, **args: str) -> SkillResult:
        self.n += 1
        call = SkillCall(
            call_id=f"t/{self.n}", robot=robot, skill=skill, args=dict(args), timeout_s=60
        )
        return await self.agents[robot].run(call)

    async def ok(self, robot: str, skill: str, **args: str) -> SkillResult:
        result = await self.call(robot, skill, **args)
        assert result.ok, (robot, skill, args, result.message)
        return result


@pytest.fixture
async def site_stack(memory: Memory) -> AsyncIterator[Site]:
    world = SimWorld(site(), SimSettings())
    s = Site(world, memory)
    await seed_memory(memory, LocalWorldClient(world))
    registry = SkillRegistry(SKILLS)
    try:
        for rid, robot in s.robots.items():
            agent = CerebellumAgent(robot, memory, registry, AgentSettings(reconcile="off"))
            await agent.start()
            s.agents[rid] = agent
        yield s
    finally:
        for agent in s.agents.values():
            await agent.stop()
        await world.stop()
        world.close()


async def test_standard_skills_on_every_kind_keep_memory_true(site_stack: Site) -> None:
    s = site_stack
    await s.ok("arm1", "pick", object="tin1")
    await s.ok("arm1", "put_in", object="tin1", container="crate1")
    await s.ok("mm1", "pick", object="mug1")
    await s.ok("mm1", "put_in", object="mug1", container="plinth")
    # two robots sent to one place at once take different slots
    mm1, car1 = await asyncio.gather(
        s.call("mm1", "navigate_to", target="bench"), s.call("car1", "navigate_to", target="bench")
    )
    assert mm1.ok and car1.ok, (mm1.message, car1.message)
    assert mm1.data["slot"] != car1.data["slot"]
    await s.ok("arm1", "pick", object="ball1")
    await s.ok("arm1", "place", object="ball1", target="car1")
    await s.ok("car1", "navigate_to", target="desk")
    await s.ok("car1", "deliver", object="ball1", target="desk")
    await s.ok("mm1", "navigate_to", target="zone")
    await s.ok("mm1", "pick", object="cube1")
    await s.ok("mm1", "navigate_to", target="rack")
    await s.ok("mm1", "put_in", object="cube1", container="tb")
    s.world.step(120)
    on = {o.name: o.on for o in await s.memory.list_objects()}
    assert on["tin1"] == "crate1" and on["mug1"] == "plinth"
    assert on["ball1"] == "desk" and on["cube1"] == "tb"
    assert await diff_all(s.memory, s.robots, ask_all=True) == []


async def test_a_put_in_what_is_no_receptacle_fails_and_memory_stays_true(
    site_stack: Site,
) -> None:
    s = site_stack
    await s.ok("arm1", "pick", object="tin1")
    refused = await s.call("arm1", "put_in", object="tin1", container="ball1")
    assert not refused.ok and "not a receptacle" in refused.message, refused
    held = await s.memory.get_object("tin1")
    assert held is not None and held.held_by == "arm1"
    assert await diff_all(s.memory, s.robots, ask_all=True) == []
