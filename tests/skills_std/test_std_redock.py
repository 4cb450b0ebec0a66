"""A mobile manipulator docked at a long place whose arm cannot reach the object from
its slot: the pick skill moves it to a free slot of the same place nearer the object
and picks from there (memory says the new slot); with every nearer slot taken it stays
and fails saying the object is out of reach."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from robo_os_memory import slot_resource
from robo_os_skills import navigate_to, pick

from robo_os.contracts import ErrorCode
from robo_os.fleet import FleetConfig

from .std_world import StdWorld

MakeStd = Callable[..., Awaitable[StdWorld]]


def long_bench(end: float) -> FleetConfig:
    """A bench 2.4 m long, an object `end` m from its middle along it, a manipulator
    parked away from it."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 8.0],
                "places": [
                    {"name": "bench", "kind": "table", "pose": {"x": 0.0, "y": 1.5},
                     "size": [2.4, 0.6, 0.75]},
                    {"name": "park", "kind": "table", "pose": {"x": 0.0, "y": -2.5},
                     "size": [0.6, 0.6, 0.75]},
                ],
                "objects": [{"name": "can", "type": "cup", "at": "bench", "offset": [end, 0.0]}],
            },
            "robots": [{"id": "mm1", "embodiment": "mobile_manipulator", "at": "park"}],
        }
    )  # fmt: skip


async def _docked_far_from_the_can(std: StdWorld) -> int:
    """Dock mm1 at the bench's slot farthest from the can; its index."""
    slots = await std.robots["mm1"].base.slots("bench")  # type: ignore[union-attr]
    can = std.world.object_pose("can")
    far = max(slots, key=lambda s: s.pose.distance_to(can) if s.pose else 0.0)
    # take every other slot first so that navigate_to has only the far one left
    others = [
        await std.memory.acquire(slot_resource("bench", s.index), "someone", 60.0)
        for s in slots
        if s.index != far.index
    ]
    got = await std.run("mm1", navigate_to, target="bench")
    assert got.ok, got.message
    for lease in others:
        await std.memory.release(lease)
    record = await std.memory.get_robot("mm1")
    assert record is not None and record.slot == far.index
    return far.index


async def test_the_pick_moves_to_a_nearer_slot_of_the_same_place(make_std: MakeStd) -> None:
    std = await make_std(long_bench(1.0))
    far = await _docked_far_from_the_can(std)
    result = await std.run("mm1", pick, object="can")
    assert result.ok, result.message
    record = await std.memory.get_robot("mm1")
    assert record is not None and record.place == "bench" and record.slot != far
    assert record.holding == "can"
    can = await std.memory.get_object("can")
    assert can is not None and can.held_by == "mm1"


async def test_with_every_nearer_slot_taken_it_stays_and_says_why(make_std: MakeStd) -> None:
    std = await make_std(long_bench(1.0))
    far = await _docked_far_from_the_can(std)
    slots = await std.robots["mm1"].base.slots("bench")  # type: ignore[union-attr]
    for s in slots:
        if s.index != far:
            await std.memory.acquire(slot_resource("bench", s.index), "someone", 60.0)
    result = await std.run("mm1", pick, object="can")
    assert not result.ok and result.error == ErrorCode.unreachable, result
    record = await std.memory.get_robot("mm1")
    assert record is not None and record.slot == far and record.holding is None
