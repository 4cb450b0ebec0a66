"""The planner's catalogue is reused while memory has not changed (its change feed's
newest cursor is the same) and rebuilt as soon as anyone writes anything."""

from __future__ import annotations

from robo_os_memory import Memory

from robo_os.brain.planning.planner import BrainPlanner

from .planning_world import offered_skills
from .test_planning_memory import seed


async def test_unchanged_memory_reuses_the_catalogue_and_any_write_rebuilds_it(
    memory: Memory, redis_url: str, key_prefix: str
) -> None:
    await seed(memory)
    planner = BrainPlanner(memory)
    cat, state = await planner._world()
    again, state2 = await planner._world()
    assert again is cat and state2.atoms == state.atoms
    state2.atoms.clear()  # a caller's copy: the cached state is not changed
    assert (await planner._world())[1].atoms == state.atoms

    # another client (an agent) writes: the next catalogue sees it
    agent = await Memory.connect(redis_url, prefix=key_prefix, writer="agent")
    try:
        await agent.pick("arm1", "apple")
        cat2, state3 = await planner._world()
        assert cat2 is not cat and ("holding", "arm1", "apple") in state3.atoms
        await agent.update_robot("carrier1", status="offline")
        assert "carrier1" not in (await planner._world())[0].available_robots
        skills = offered_skills([r for r in cat.robots.values() if r.id == "mm1"])["mm1"]
        del skills["pick"]
        await agent.set_robot_skills("mm1", skills)
        assert "pick" not in (await planner._world())[0].offered["mm1"]
    finally:
        await agent.close()
