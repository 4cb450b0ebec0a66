"""The relay the household demo needs: arm1 loads carrier1's tray at the counter, the
carrier drives to the dining table and unloads it there, in physics and in memory."""

from __future__ import annotations

import asyncio

from robo_os_skills import deliver, navigate_to, pick, place

from robo_os.contracts import ErrorCode

from .std_world import WAIT_S, StdWorld


async def test_arm_loads_the_carrier_which_delivers(std: StdWorld) -> None:
    picked, arrived = await asyncio.wait_for(
        asyncio.gather(
            std.run("arm1", pick, object="apple"),
            std.run("carrier1", navigate_to, target="kitchen_counter"),
        ),
        WAIT_S,
    )
    assert picked.ok and arrived.ok, (picked, arrived)

    loaded = await std.run("arm1", place, object="apple", target="carrier1")
    assert loaded.ok, loaded
    assert std.world.support_of("apple") == "carrier1"
    apple = await std.memory.get_object("apple")
    assert apple is not None and apple.on == "carrier1"

    # the arm reaches the docked tray both ways: it can take the load back off
    assert (await std.run("arm1", pick, object="apple")).ok
    apple = await std.memory.get_object("apple")
    assert apple is not None and apple.held_by == "arm1" and apple.on is None
    assert (await std.run("arm1", place, object="apple", target="carrier1")).ok
    assert std.world.support_of("apple") == "carrier1"

    early = await std.run("carrier1", deliver, object="apple", target="dining_table")
    assert early.error == ErrorCode.precondition_failed  # not there yet

    moved = await std.run("carrier1", navigate_to, target="dining_table")
    assert moved.ok, moved
    assert std.world.support_of("apple") == "carrier1"  # it rode along on the tray
    apple = await std.memory.get_object("apple")
    assert apple is not None and apple.pose is not None
    assert apple.pose.distance_to(std.world.robot_pose("carrier1")) < 0.3

    delivered = await std.run("carrier1", deliver, object="apple", target="dining_table")
    assert delivered.ok, delivered
    assert std.world.support_of("apple") == "dining_table"
    rest = std.world.object_pose("apple")
    assert abs(rest.z - (0.75 + 0.035)) < 0.01
    apple = await std.memory.get_object("apple")
    assert apple is not None and apple.on == "dining_table" and apple.held_by is None
    assert apple.pose is not None and apple.pose.distance_to(rest) < 0.02
    assert await std.memory.place_contents("carrier1") == []
    assert "apple" in await std.memory.place_contents("dining_table")


async def test_deliver_failures(std: StdWorld) -> None:
    empty = await std.run("carrier1", deliver, object="bowl", target="dining_table")
    assert empty.error == ErrorCode.precondition_failed and "tray" in empty.message
    unknown = await std.run("carrier1", deliver, object="teapot", target="dining_table")
    assert unknown.error == ErrorCode.not_found
    armless = await std.run("arm1", deliver, object="apple", target="kitchen_counter")
    assert armless.error == ErrorCode.precondition_failed
    assert std.world.support_of("bowl") == "dining_table"
