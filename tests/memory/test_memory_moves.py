"""pick / place / transfer: multi-entity moves that are atomic and refuse inconsistent
requests without changing anything."""

from __future__ import annotations

import pytest
from robo_os_memory import (
    ConflictError,
    EntityKind,
    InvalidUpdateError,
    LeaseLostError,
    Memory,
    NotFoundError,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
)


async def _scene(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=2, y=0)))
    await memory.upsert_place(PlaceState(name="shelf", pose=Pose(x=-2, y=0)))
    await memory.upsert_object(ObjectState(name="cup", on="table", pose=Pose(x=2, y=0.1)))
    await memory.upsert_object(ObjectState(name="apple", on="table", pose=Pose(x=2, y=-0.1)))
    await memory.register_robot(RobotState(id="r1", embodiment="mobile", pose=Pose(x=1.8, y=0)))
    await memory.register_robot(RobotState(id="r2", embodiment="mobile", pose=Pose(x=-1.8, y=0)))


async def test_pick_then_place(memory: Memory) -> None:
    await _scene(memory)
    cup = await memory.pick("r1", "cup")
    assert cup.held_by == "r1" and cup.on is None and cup.version == 2 and cup.updated_by == "r1"
    r1 = await memory.get_robot("r1")
    assert r1 is not None and r1.holding == "cup" and r1.version == 2
    assert await memory.place_contents("table") == ["apple"]
    # a held object is where its holder is: it leaves the spatial index
    assert (EntityKind.object, "cup") not in {
        (k, n) for k, n, _ in await memory.within(2, 0.1, 0.5)
    }

    cup = await memory.place("r1", "cup", "shelf", pose=Pose(x=-2, y=0.2, z=1.0))
    assert cup.held_by is None and cup.on == "shelf" and cup.pose == Pose(x=-2, y=0.2, z=1.0)
    r1 = await memory.get_robot("r1")
    assert r1 is not None and r1.holding is None
    assert await memory.place_contents("shelf") == ["cup"]
    near = await memory.within(-2, 0.2, 0.05, kind=EntityKind.object)
    assert [(k, n) for k, n, _ in near] == [(EntityKind.object, "cup")]


async def test_pick_conflicts_change_nothing(memory: Memory) -> None:
    await _scene(memory)
    await memory.pick("r1", "cup")
    with pytest.raises(ConflictError, match="r1 already holds cup"):
        await memory.pick("r1", "apple")
    with pytest.raises(ConflictError, match="cup is held by r1"):
        await memory.pick("r2", "cup")
    with pytest.raises(ConflictError, match="r2 does not hold cup"):
        await memory.place("r2", "cup", "shelf")
    with pytest.raises(NotFoundError, match="moon"):
        await memory.place("r1", "cup", "moon")
    with pytest.raises(NotFoundError, match="ghost"):
        await memory.pick("ghost", "apple")
    with pytest.raises(NotFoundError, match="unicorn"):
        await memory.pick("r2", "unicorn")
    with pytest.raises(ConflictError, match="held by r1"):
        await memory.update_object("cup", on="shelf")
    with pytest.raises(InvalidUpdateError, match="pick/place/transfer"):
        await memory.update_object("cup", held_by="r2")
    robots, objects, _ = await memory.snapshot()
    assert {r.id: (r.holding, r.version) for r in robots} == {"r1": ("cup", 2), "r2": (None, 1)}
    assert {o.name: (o.held_by, o.on, o.version) for o in objects} == {
        "cup": ("r1", None, 2),
        "apple": (None, "table", 1),
    }


async def test_transfer_hand_over_and_tray(memory: Memory) -> None:
    await _scene(memory)
    await memory.pick("r1", "cup")
    cup = await memory.transfer("cup", to_on=None, to_holder="r2", by="brain")
    assert cup.held_by == "r2"
    r1, r2 = await memory.get_robot("r1"), await memory.get_robot("r2")
    assert r1 is not None and r2 is not None and r1.holding is None and r2.holding == "cup"

    # a robot's tray: the object rests on the robot
    cup = await memory.transfer("cup", to_on="r1", to_holder=None)
    assert cup.on == "r1" and cup.held_by is None
    r2 = await memory.get_robot("r2")
    assert r2 is not None and r2.holding is None
    assert await memory.place_contents("r1") == ["cup"]
    assert "carrying cup" in await memory.world_summary()

    with pytest.raises(InvalidUpdateError, match="not both"):
        await memory.transfer("cup", to_on="table", to_holder="r1")
    await memory.pick("r2", "apple")
    with pytest.raises(ConflictError, match="r2 already holds apple"):
        await memory.transfer("cup", to_on=None, to_holder="r2")


async def test_move_history_is_one_step(memory: Memory) -> None:
    await _scene(memory)
    start = await memory.latest_cursor()
    await memory.pick("r1", "cup")
    changes, _ = await memory.changes_since(start)
    assert [(c.kind, c.name, c.fields) for c in changes] == [
        (EntityKind.object, "cup", {"held_by": "r1", "on": None}),
        (EntityKind.robot, "r1", {"holding": "cup"}),
    ]
    # both changes carry the same time stamp: they happened in one step
    assert changes[0].ts == changes[1].ts


async def test_lease_guarded_writes(memory: Memory) -> None:
    await _scene(memory)
    lease = await memory.acquire("cup", "r1", ttl_s=30)
    await memory.pick("r1", "cup", lease=lease)
    await memory.release(lease)
    newer = await memory.acquire("cup", "r2", ttl_s=30)
    assert newer.token > lease.token
    # r1's old lease no longer fences anything
    with pytest.raises(LeaseLostError):
        await memory.place("r1", "cup", "table", lease=lease)
    with pytest.raises(LeaseLostError):
        await memory.update_object("cup", attrs={"dirty": True}, lease=lease)
    cup = await memory.get_object("cup")
    assert cup is not None and cup.held_by == "r1" and cup.attrs == {}
    await memory.update_object("cup", attrs={"dirty": True}, lease=newer)
