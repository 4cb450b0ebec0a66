"""The standard skills and the sim driver behind real cerebellum agents: each agent
registers its simulated robot (place, reach, skills by capability) and runs skill calls
that move things in physics."""

from __future__ import annotations

from robo_os_skills import SKILLS

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.contracts import SkillCall
from robo_os.skill.registry import SkillRegistry

from .std_world import StdWorld


async def test_agents_register_sim_robots_and_run_the_relay(std: StdWorld) -> None:
    registry = SkillRegistry(SKILLS)
    agents = {
        rid: CerebellumAgent(robot, std.memory, registry) for rid, robot in std.robots.items()
    }
    try:
        for agent in agents.values():
            await agent.start()
        arm1, carrier1, mm1 = [await std.memory.get_robot(r) for r in ("arm1", "carrier1", "mm1")]
        assert arm1 is not None and carrier1 is not None and mm1 is not None
        assert (arm1.place, arm1.reach) == ("kitchen_counter", ("kitchen_counter",))
        assert set(arm1.skills) == {"pick", "place", "put_in", "look", "open", "close"}
        assert (carrier1.place, set(carrier1.skills)) == (
            "dining_table",
            {"navigate_to", "navigate_to_pose", "deliver"},
        )
        assert mm1.place == "shelf" and "navigate_to" in mm1.skills and "pick" in mm1.skills

        def call(n: int, robot: str, skill: str, **args: str) -> SkillCall:
            return SkillCall(
                call_id=f"relay/{n}", robot=robot, skill=skill, args=args, timeout_s=60.0
            )

        steps = [
            call(1, "arm1", "pick", object="apple"),
            call(2, "carrier1", "navigate_to", target="kitchen_counter"),
            call(3, "arm1", "place", object="apple", target="carrier1"),
            call(4, "carrier1", "navigate_to", target="dining_table"),
            call(5, "carrier1", "deliver", object="apple", target="dining_table"),
        ]
        for step in steps:
            result = await agents[step.robot].run(step)
            assert result.ok, (step, result)
        assert std.world.support_of("apple") == "dining_table"
        apple = await std.memory.get_object("apple")
        assert apple is not None and apple.on == "dining_table"
    finally:
        for agent in agents.values():
            await agent.stop()
