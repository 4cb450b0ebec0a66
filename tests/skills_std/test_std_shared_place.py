"""The bowl onto the kitchen counter, the goal that failed in physics: mm1 brings it from
the dining table and puts it down at the counter that arm1 works (arm1's stowed arm
hangs over the counter's back half, where mm1 docks); then arm1 moves it on the counter.
Memory and pybullet agree at each step."""

from __future__ import annotations

from robo_os_skills import navigate_to, pick, place

from .std_world import StdWorld


async def test_bowl_onto_the_counter_arm1_works(std: StdWorld) -> None:
    assert (await std.run("mm1", navigate_to, target="dining_table")).ok
    assert (await std.run("mm1", pick, object="bowl")).ok
    assert (await std.run("mm1", navigate_to, target="kitchen_counter")).ok
    placed = await std.run("mm1", place, object="bowl", target="kitchen_counter")
    assert placed.ok, placed  # before: "collision: arm blocked while moving bowl above ..."
    assert std.world.support_of("bowl") == "kitchen_counter"
    bowl = await std.memory.get_object("bowl")
    assert bowl is not None and bowl.on == "kitchen_counter" and bowl.held_by is None
    assert bowl.pose is not None and bowl.pose.distance_to(std.world.object_pose("bowl")) < 0.02

    # the fixed arm reaches it where mm1 left it, with mm1 still docked at the back
    assert (await std.run("arm1", pick, object="bowl")).ok
    again = await std.run("arm1", place, object="bowl", target="kitchen_counter")
    assert again.ok, again
    assert std.world.support_of("bowl") == "kitchen_counter"
    bowl = await std.memory.get_object("bowl")
    assert bowl is not None and bowl.on == "kitchen_counter"
