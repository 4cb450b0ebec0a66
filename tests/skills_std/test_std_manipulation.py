"""pick, place and put_in in physics: the object really moves (pybullet and memory
agree), and each failure really fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from robo_os_skills import pick, place, put_in

from robo_os.contracts import ErrorCode

from .std_world import StdWorld, household_with_bowl_on_counter


async def test_pick_then_place_on_the_counter(std: StdWorld) -> None:
    start = std.world.object_pose("cup")
    picked = await std.run("arm1", pick, object="cup")
    assert picked.ok, picked
    assert std.world.holder_of("cup") == "arm1"
    assert std.world.object_pose("cup").z > start.z + 0.2
    cup = await std.memory.get_object("cup")
    arm = await std.memory.get_robot("arm1")
    assert cup is not None and cup.held_by == "arm1" and cup.on is None
    assert arm is not None and arm.holding == "cup"
    assert await std.memory.lease_of("cup") is None  # released once the pick is recorded

    placed = await std.run("arm1", place, object="cup", target="kitchen_counter")
    assert placed.ok, placed
    assert std.world.support_of("cup") == "kitchen_counter" and std.world.holder_of("cup") is None
    rest = std.world.object_pose("cup")
    assert abs(rest.z - start.z) < 0.01
    cup = await std.memory.get_object("cup")
    arm = await std.memory.get_robot("arm1")
    assert cup is not None and cup.on == "kitchen_counter" and cup.held_by is None
    assert cup.pose is not None and cup.pose.distance_to(rest) < 0.02
    assert arm is not None and arm.holding is None
    assert "cup" in await std.memory.place_contents("kitchen_counter")


async def test_pick_failures(std: StdWorld) -> None:
    missing = await std.run("arm1", pick, object="teapot")
    assert missing.error == ErrorCode.not_found
    far = await std.run("arm1", pick, object="mug")
    assert far.error == ErrorCode.unreachable and "shelf" in far.message
    lease = await std.memory.acquire("cup", "mm1", 30.0)
    taken = await std.run("arm1", pick, object="cup")
    assert taken.error == ErrorCode.held_by_other and "mm1" in taken.message
    assert std.world.holder_of("cup") is None  # nothing moved
    await std.memory.release(lease)
    assert (await std.run("arm1", pick, object="apple")).ok
    full = await std.run("arm1", pick, object="cup")
    assert full.error == ErrorCode.precondition_failed and "apple" in full.message
    carrier = await std.run("carrier1", pick, object="bowl")
    assert carrier.error == ErrorCode.precondition_failed  # no arm
    assert (
        std.world.support_of("mug") == "shelf" and std.world.support_of("cup") == "kitchen_counter"
    )


async def test_place_failures(std: StdWorld) -> None:
    nothing = await std.run("arm1", place, object="cup", target="kitchen_counter")
    assert nothing.error == ErrorCode.precondition_failed
    assert (await std.run("arm1", pick, object="apple")).ok
    unknown = await std.run("arm1", place, object="apple", target="attic")
    assert unknown.error == ErrorCode.not_found
    away = await std.run("arm1", place, object="apple", target="carrier1")
    assert away.error == ErrorCode.unreachable  # the carrier is at the dining table
    other = await std.memory.acquire("kitchen_counter", "mm1", 30.0)
    reserved = await std.run("arm1", place, object="apple", target="kitchen_counter")
    assert reserved.error == ErrorCode.held_by_other
    await std.memory.release(other)
    assert std.world.holder_of("apple") == "arm1"
    apple = await std.memory.get_object("apple")
    assert apple is not None and apple.held_by == "arm1"


async def test_put_in_a_bowl(make_std: Callable[..., Awaitable[StdWorld]]) -> None:
    std = await make_std(household_with_bowl_on_counter())
    assert (await std.run("arm1", pick, object="apple")).ok
    result = await std.run("arm1", put_in, object="apple", container="bowl")
    assert result.ok, result
    assert std.world.support_of("apple") == "bowl"
    apple, bowl = std.world.object_pose("apple"), std.world.object_pose("bowl")
    assert apple.distance_to(bowl) < 0.05
    record = await std.memory.get_object("apple")
    assert record is not None and record.on == "bowl"
    not_a_container = await std.run("arm1", put_in, object="cup", container="apple")
    assert not_a_container.error == ErrorCode.precondition_failed
