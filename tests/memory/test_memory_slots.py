"""Docking slots in memory: which place and slot a robot is docked at is one field pair
of its record (versioned, in its history), and a slot's reservation is a fenced lease
under a key built in keys.py."""

from __future__ import annotations

import pytest
from robo_os_memory import (
    EntityKind,
    InvalidUpdateError,
    LeaseHeldError,
    LeaseLostError,
    Memory,
    Pose,
    RobotState,
    slot_resource,
)


async def test_docked_place_and_slot_are_one_fact_with_history(memory: Memory) -> None:
    await memory.register_robot(RobotState(id="r1", embodiment="carrier", place="a", slot=1))
    got = await memory.get_robot("r1")
    assert got is not None and (got.place, got.slot) == ("a", 1)
    left = await memory.update_robot("r1", place=None, slot=None, pose=Pose(x=1, y=0))
    assert (left.place, left.slot) == (None, None)
    back = await memory.update_robot("r1", place="b", slot=0)
    assert (back.place, back.slot) == ("b", 0) and back.version == left.version + 1
    changes = [c.fields for c in await memory.history(EntityKind.robot, "r1")]
    assert {
        "place": None,
        "slot": None,
        "pose": {"x": 1.0, "y": 0.0, "z": 0.0, "yaw": 0.0},
    } in changes
    assert {"place": "b", "slot": 0} in changes
    with pytest.raises(InvalidUpdateError):
        await memory.update_robot("r1", slot="front")


async def test_a_slot_lease_is_exclusive_and_fences_the_docking_write(memory: Memory) -> None:
    resource = slot_resource("counter", 0)
    assert resource == "slot:counter:0"
    assert memory.keys.slot_lease("counter", 0) == memory.keys.lease(resource)
    with pytest.raises(ValueError):
        slot_resource("", 0)
    with pytest.raises(ValueError):
        slot_resource("counter", -1)

    await memory.register_robot(RobotState(id="r1", embodiment="carrier"))
    first = await memory.acquire(resource, "r1", ttl_s=3.0)
    # SET PX: the reservation ends by itself if its holder dies
    assert 0 < await memory.redis.pttl(memory.keys.slot_lease("counter", 0)) <= 3000
    with pytest.raises(LeaseHeldError) as e:
        await memory.acquire(resource, "r2", ttl_s=5)
    assert e.value.holder == "r1"
    # a docking write fenced by the lease goes through while it is current ...
    await memory.update_robot("r1", place="counter", slot=0, lease=first)
    # ... and not once another robot holds the slot (r1's lease ended: released here,
    # expired in life)
    await memory.release(first)
    second = await memory.acquire(resource, "r2", ttl_s=5)
    assert second.token > first.token
    with pytest.raises(LeaseLostError):
        await memory.update_robot("r1", place="counter", slot=0, lease=first)
