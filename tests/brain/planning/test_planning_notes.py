"""A planning outcome says each note once: groundings repeat theirs for every robot that
offers a skill and for every allocation the planner tries."""

from __future__ import annotations

from robo_os.brain.planning.planner import BrainPlanner

from .planning_world import StaticWorld


async def test_each_note_appears_once_in_the_outcome() -> None:
    planner = BrainPlanner(StaticWorld.household())
    try:
        for instruction in (
            "bring the apple to the dining table",
            "bring the apple and the mug to the dining table",
        ):
            out = await planner.plan("t", instruction)
            assert out.plan is not None
            notes = [n for n in out.message.split("; ") if n]
            assert len(notes) == len(set(notes)), out.message
    finally:
        await planner.close()


async def test_replanning_without_a_goal_says_why_for_plans_and_instructions() -> None:
    planner = BrainPlanner(StaticWorld.household())
    try:
        explicit = await planner.replan("t1", None, None, [], "s1 failed")
        assert explicit.plan is None
        assert "explicit plan" in explicit.problems[0].message
        unread = await planner.replan("t2", "do the usual thing", None, [], "s1 failed")
        assert unread.plan is None
        message = unread.problems[0].message
        assert "do the usual thing" in message and "not understood" not in message
    finally:
        await planner.close()
