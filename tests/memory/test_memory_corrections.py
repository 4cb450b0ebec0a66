"""Corrections from observation (`reconcile`) and releasing a dead holder's leases
(`release_all`): atomic, marked observed, and refusing stale or old-token writers."""

from __future__ import annotations

import asyncio

import pytest
from robo_os_memory import (
    EntityKind,
    LeaseLostError,
    Memory,
    ObjectCorrection,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
)


async def _scene(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="shelf", pose=Pose(x=2, y=0)))
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=-2, y=0)))
    await memory.upsert_object(ObjectState(name="mug", on="shelf", pose=Pose(x=2, y=0.1)))
    await memory.upsert_object(ObjectState(name="cup", on="shelf", pose=Pose(x=2, y=-0.1)))
    await memory.register_robot(RobotState(id="r1", embodiment="mobile", pose=Pose(x=1.5, y=0)))
    await memory.register_robot(RobotState(id="r2", embodiment="mobile", pose=Pose(x=-1.5, y=0)))


async def test_fallen_object_recorded_on_the_floor_with_its_pose(memory: Memory) -> None:
    await _scene(memory)
    mug = await memory.get_object("mug")
    assert mug is not None and mug.source == "believed"
    floor = Pose(x=1.6, y=0.4, z=0.035, yaw=0.3)
    reply = await memory.reconcile(
        [ObjectCorrection(name="mug", pose=floor, expected_version=mug.version)],
        robot="r1",
        robot_pose=Pose(x=1.4, y=0.0),
        observed_at=1000.5,
    )
    assert reply.outcomes == {"mug": "applied"}
    got = await memory.get_object("mug")
    assert got is not None
    assert (got.on, got.held_by, got.pose, got.source, got.observed_at) == (
        None,
        None,
        floor,
        "observed",
        1000.5,
    )
    assert got.unknown_since is None
    assert await memory.place_contents("shelf") == ["cup"]
    r1 = await memory.get_robot("r1")
    assert r1 is not None and r1.source == "observed" and r1.pose == Pose(x=1.4, y=0.0)
    # it is where it lies in the spatial index too
    near = {n for _, n, _ in await memory.within(1.6, 0.4, 0.05, kind=EntityKind.object)}
    assert near == {"mug"}
    # the next skill's move is a belief again
    await memory.pick("r1", "mug")
    moved = await memory.get_object("mug")
    assert moved is not None and moved.source == "believed" and moved.held_by == "r1"


async def test_holding_follows_the_objects_and_mirrors_stay_true(memory: Memory) -> None:
    await _scene(memory)
    await memory.pick("r1", "mug")  # memory believes r1 holds the mug
    # r1 really holds the cup; the mug fell back on the shelf
    reply = await memory.reconcile(
        [
            ObjectCorrection(name="cup", held_by="r1"),
            ObjectCorrection(name="mug", on="shelf", pose=Pose(x=2, y=0.2)),
        ],
        robot="r1",
    )
    assert set(reply.outcomes.values()) == {"applied"}
    r1 = await memory.get_robot("r1")
    cup, mug = await memory.get_object("cup"), await memory.get_object("mug")
    assert r1 is not None and cup is not None and mug is not None
    assert r1.holding == "cup" and cup.held_by == "r1" and cup.on is None
    assert mug.held_by is None and mug.on == "shelf"
    assert await memory.place_contents("shelf") == ["mug"]


async def test_a_holder_found_holding_another_object_loses_the_first(memory: Memory) -> None:
    await _scene(memory)
    await memory.pick("r1", "mug")
    await memory.reconcile([ObjectCorrection(name="cup", held_by="r1")], robot="r1")
    mug = await memory.get_object("mug")
    assert mug is not None and mug.held_by is None and mug.unknown_since is not None


async def test_unknown_object_keeps_its_first_unknown_time(memory: Memory) -> None:
    await _scene(memory)
    await memory.reconcile(
        [ObjectCorrection(name="mug", unknown=True)], robot="r1", observed_at=10.0
    )
    await memory.reconcile(
        [ObjectCorrection(name="mug", unknown=True)], robot="r1", observed_at=20.0
    )
    mug = await memory.get_object("mug")
    assert mug is not None and mug.on is None and mug.held_by is None
    assert mug.unknown_since == 10.0 and mug.observed_at == 20.0
    assert mug.pose == Pose(x=2, y=0.1)  # where it was last seen
    await memory.reconcile([ObjectCorrection(name="mug", on="table")], robot="r2")
    found = await memory.get_object("mug")
    assert found is not None and found.unknown_since is None and found.on == "table"


async def test_stale_and_invalid_corrections_are_skipped(memory: Memory) -> None:
    await _scene(memory)
    mug = await memory.get_object("mug")
    assert mug is not None
    await memory.pick("r2", "mug")  # another robot moved it after the observation
    reply = await memory.reconcile(
        [
            ObjectCorrection(name="mug", on="table", expected_version=mug.version),
            ObjectCorrection(name="cup", on="nowhere"),
            ObjectCorrection(name="ghost", on="table"),
        ],
        robot="r1",
    )
    assert reply.outcomes == {"mug": "stale", "cup": "invalid", "ghost": "missing"}
    got = await memory.get_object("mug")
    assert got is not None and got.held_by == "r2"
    cup = await memory.get_object("cup")
    assert cup is not None and cup.on == "shelf"


async def test_concurrent_reconciles_leave_a_consistent_world(memory: Memory) -> None:
    """Two robots correct the same objects at once: every write is whole, and each
    holder's `holding` mirrors the objects' `held_by` whatever the interleaving."""
    await _scene(memory)

    async def one(robot: str, obj: str) -> None:
        for _ in range(20):
            await memory.reconcile([ObjectCorrection(name=obj, held_by=robot)], robot=robot)
            await memory.reconcile([ObjectCorrection(name=obj, on="table")], robot=robot)

    await asyncio.gather(one("r1", "mug"), one("r2", "mug"), one("r1", "cup"))
    robots = {r.id: r for r in await memory.list_robots()}
    for obj in await memory.list_objects():
        if obj.held_by is not None:
            assert robots[obj.held_by].holding == obj.name
    for r in robots.values():
        if r.holding is not None:
            held = await memory.get_object(r.holding)
            assert held is not None and held.held_by == r.id


async def test_release_all_frees_a_dead_holders_leases_and_fences_it(memory: Memory) -> None:
    await _scene(memory)
    mug = await memory.acquire("mug", "r1", 60.0)
    await memory.acquire("shelf", "r1", 60.0)
    other = await memory.acquire("cup", "r2", 60.0)
    cursor = await memory.latest_cursor()
    assert sorted(await memory.release_all("r1")) == ["mug", "shelf"]
    assert await memory.lease_of("mug") is None and await memory.lease_of("shelf") is None
    assert await memory.lease_of("cup") == other  # someone else's lease is untouched
    changes, _ = await memory.changes_since(cursor, kinds=[EntityKind.lease])
    assert sorted((c.name, c.op) for c in changes) == [("mug", "release"), ("shelf", "release")]
    # the zombie's write with its old token is refused, and so is its release
    with pytest.raises(LeaseLostError):
        await memory.pick("r1", "mug", lease=mug)
    with pytest.raises(LeaseLostError):
        await memory.release(mug)
    # the next holder gets a higher token
    again = await memory.acquire("mug", "r2", 60.0)
    assert again.token > mug.token
    assert await memory.release_all("r1") == []


async def test_an_object_leased_by_another_robot_is_left_to_its_skill(memory: Memory) -> None:
    await _scene(memory)
    await memory.acquire("mug", "r2", 60.0)
    await memory.acquire("cup", "r1", 60.0)
    reply = await memory.reconcile(
        [ObjectCorrection(name="mug", on="table"), ObjectCorrection(name="cup", on="table")],
        robot="r1",
    )
    assert reply.outcomes == {"mug": "leased", "cup": "applied"}
