"""Spatial queries answered by the server-side GEO index, kept in step with every write."""

from __future__ import annotations

import pytest
from robo_os_memory import (
    EntityKind,
    InvalidUpdateError,
    Memory,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
)


async def test_within_and_nearest_place(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="kitchen", pose=Pose(x=0, y=0), size=(4, 4, 0)))
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=3, y=0)))
    await memory.upsert_place(PlaceState(name="far_dock", pose=Pose(x=5000, y=-3000)))
    await memory.upsert_object(ObjectState(name="cup", pose=Pose(x=3.02, y=0.01)))
    await memory.upsert_object(ObjectState(name="spoon", pose=Pose(x=3.05, y=0.0)))
    await memory.upsert_object(ObjectState(name="idea"))  # no pose: not indexed
    await memory.register_robot(RobotState(id="r1", embodiment="mobile", pose=Pose(x=2.5, y=0)))

    near = await memory.within(3, 0, 0.6)
    assert [(k, n) for k, n, _ in near] == [
        (EntityKind.place, "table"),
        (EntityKind.object, "cup"),
        (EntityKind.object, "spoon"),
        (EntityKind.robot, "r1"),
    ]
    dists = [d for _, _, d in near]
    assert dists == sorted(dists)
    assert dists[1] == pytest.approx(0.0224, abs=0.01) and dists[3] == pytest.approx(0.5, abs=0.01)
    # centimetre resolution: a 4 cm radius separates cup (2.2 cm) from spoon (5 cm)
    assert [n for _, n, _ in await memory.within(3, 0, 0.04, kind=EntityKind.object)] == ["cup"]
    assert await memory.within(3, 0, 0.6, kind=EntityKind.lease) == []
    assert [n for _, n, _ in await memory.within(5000, -3000, 1)] == ["far_dock"]

    assert await memory.nearest_place(Pose(x=2.2, y=0.1)) == (
        "table",
        pytest.approx(0.806, abs=0.01),
    )
    assert (await memory.nearest_place(Pose(x=0.5, y=0)))[0] == "kitchen"  # type: ignore[index]
    assert (await memory.nearest_place(Pose(x=4000, y=-2000)))[0] == "far_dock"  # type: ignore[index]


async def test_index_follows_every_write(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=3, y=0)))
    await memory.upsert_object(ObjectState(name="cup", on="table", pose=Pose(x=3, y=0)))
    await memory.register_robot(RobotState(id="r1", embodiment="mobile", pose=Pose(x=0, y=0)))

    await memory.update_robot("r1", pose=Pose(x=10, y=10))
    assert [n for _, n, _ in await memory.within(10, 10, 0.1)] == ["r1"]
    assert await memory.within(0, 0, 0.1) == []

    await memory.pick("r1", "cup")
    assert [n for _, n, _ in await memory.within(3, 0, 0.1)] == ["table"]  # the cup went with r1
    await memory.place("r1", "cup", "table")  # no pose given: back where it was
    assert [n for _, n, _ in await memory.within(3, 0, 0.1, kind=EntityKind.object)] == ["cup"]
    await memory.update_object("cup", pose=Pose(x=3.5, y=0))
    assert [n for _, n, _ in await memory.within(3.5, 0, 0.01)] == ["cup"]
    await memory.delete(EntityKind.object, "cup")
    assert await memory.within(3.5, 0, 0.01) == []

    await memory.update_robot("r1", pose=None)
    assert await memory.within(10, 10, 0.1) == []


async def test_spatial_bad_input(memory: Memory) -> None:
    with pytest.raises(InvalidUpdateError, match="radius"):
        await memory.within(0, 0, -1)
    with pytest.raises(InvalidUpdateError, match="outside"):
        await memory.nearest_place(Pose(x=0, y=1e7))
    assert await memory.nearest_place(Pose(x=0, y=0)) is None
