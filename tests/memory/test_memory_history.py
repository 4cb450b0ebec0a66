"""The temporal side: change feed with resumable cursors and filters, per-entity history,
the object as it was at time t, retention."""

from __future__ import annotations

import pytest
from robo_os_memory import (
    ConflictError,
    EntityKind,
    InvalidUpdateError,
    Memory,
    NotFoundError,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
)


async def test_history_query_after_a_thousand_changes(memory: Memory) -> None:
    await memory.register_robot(RobotState(id="r1", embodiment="mobile", pose=Pose(x=0, y=0)))
    await memory.upsert_object(ObjectState(name="cup", pose=Pose(x=5, y=5)))
    stamps: list[float] = []
    for i in range(1000):
        r = await memory.update_robot("r1", pose=Pose(x=i / 100, y=0))
        stamps.append(r.updated_at)
        if i == 500:
            await memory.update_object("cup", attrs={"touched": True})

    everything = await memory.history(EntityKind.robot, "r1")
    assert len(everything) == 1001  # registration + 1000 pose updates
    assert [c.version for c in everything] == list(range(1, 1002))
    assert everything[-1].fields == {"pose": {"x": 9.99, "y": 0.0, "z": 0.0, "yaw": 0.0}}

    window = await memory.history(EntityKind.robot, "r1", t0=stamps[200], t1=stamps[299])
    assert [c.fields["pose"]["x"] for c in window] == [i / 100 for i in range(200, 300)]  # type: ignore[index]
    assert all(stamps[200] <= c.ts <= stamps[299] for c in window)

    cup = await memory.history(EntityKind.object, "cup")
    assert [c.op for c in cup] == ["upsert", "update"] and cup[1].fields == {
        "attrs": {"touched": True}
    }
    assert await memory.history(EntityKind.object, "never-existed") == []


async def test_changes_since_pages_resumes_and_filters(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=0, y=0)))
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    for i in range(30):
        await memory.upsert_object(ObjectState(name=f"o{i}", on="table"))
        await memory.update_robot("r1", activity=f"step {i}")

    # page through everything, 7 at a time, resuming from each returned cursor
    seen: list[tuple[str, str]] = []
    cursor = "0"
    while True:
        page, cursor = await memory.changes_since(cursor, count=7)
        if not page:
            break
        assert len(page) <= 7
        seen += [(c.kind, c.name) for c in page]
    assert len(seen) == 1 + 1 + 30 + 30
    assert seen[:2] == [(EntityKind.place, "table"), (EntityKind.robot, "r1")]
    # nothing new: the same cursor gives nothing, and keeps its place
    assert await memory.changes_since(cursor) == ([], cursor)

    objects, _ = await memory.changes_since("0", kinds=[EntityKind.object], count=1000)
    assert [c.name for c in objects] == [f"o{i}" for i in range(30)]
    # a kind filter still fills the page when matches are sparse
    few, after = await memory.changes_since("0", kinds=[EntityKind.place], count=1)
    assert [c.name for c in few] == ["table"]
    assert (await memory.changes_since(after, kinds=[EntityKind.place]))[0] == []

    named, cur = await memory.changes_since("0", names=["o3", "o7"])
    assert [c.name for c in named] == ["o3", "o7"]
    await memory.update_object("o7", attrs={"x": 1})
    await memory.update_object("o8", attrs={"x": 1})
    more, _ = await memory.changes_since(cur, names=["o3", "o7"])
    assert [(c.name, c.op) for c in more] == [("o7", "update")]

    with pytest.raises(InvalidUpdateError, match="cursor"):
        await memory.changes_since("yesterday")


async def test_object_at_time(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=2, y=0)))
    await memory.upsert_place(PlaceState(name="sink", pose=Pose(x=-2, y=0)))
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    before = (await memory.get_place("sink")).updated_at  # type: ignore[union-attr]
    on_table = await memory.upsert_object(ObjectState(name="cup", on="table", pose=Pose(x=2, y=0)))
    held = await memory.pick("r1", "cup")
    in_sink = await memory.place("r1", "cup", "sink", pose=Pose(x=-2, y=0))

    assert await memory.object_at("cup", before) is None
    assert await memory.object_at("cup", on_table.updated_at) == on_table
    assert await memory.object_at("cup", held.updated_at) == held
    assert await memory.object_at("cup", in_sink.updated_at + 3600) == in_sink

    await memory.delete(EntityKind.object, "cup")
    assert await memory.get_object("cup") is None
    assert await memory.object_at("cup", in_sink.updated_at) == in_sink
    last = (await memory.history(EntityKind.object, "cup"))[-1]
    assert last.op == "delete"
    assert await memory.object_at("cup", last.ts) is None


async def test_delete_rules(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=2, y=0)))
    await memory.upsert_object(ObjectState(name="tray", on="table"))
    await memory.upsert_object(ObjectState(name="cup", on="tray"))
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    with pytest.raises(ConflictError, match="still carries tray"):
        await memory.delete(EntityKind.place, "table")
    await memory.pick("r1", "cup")
    with pytest.raises(ConflictError, match="holds cup"):
        await memory.delete(EntityKind.robot, "r1")
    # deleting a held object lets its holder go, in the same step
    await memory.delete(EntityKind.object, "cup")
    r1 = await memory.get_robot("r1")
    assert r1 is not None and r1.holding is None
    await memory.delete(EntityKind.robot, "r1")
    assert await memory.list_robots() == [] and await memory.robot_skills() == {}
    with pytest.raises(NotFoundError):
        await memory.delete(EntityKind.robot, "r1")


async def test_retention_by_length_and_age(redis_url: str, key_prefix: str) -> None:
    mem = await Memory.connect(
        redis_url,
        prefix=key_prefix,
        history_maxlen=100,
        entity_history_maxlen=50,
        history_max_age_s=3600,
    )
    try:
        await mem.register_robot(RobotState(id="r1", embodiment="mobile"))
        for i in range(1000):
            await mem.update_robot("r1", progress=i / 1000)
        # MAXLEN ~ trims whole stream nodes: a little over the limit, never unbounded
        assert 100 <= await mem.redis.xlen(mem.keys.changes) < 300
        hist = mem.keys.entity_history(EntityKind.robot, "r1")
        assert 50 <= await mem.redis.xlen(hist) < 250
        # with an age limit, an entity's history expires with its last change
        assert 0 < await mem.redis.ttl(hist) <= 3600
        recent = await mem.history(EntityKind.robot, "r1")
        assert recent[-1].fields == {"progress": 0.999}
    finally:
        await mem.close()


async def test_retention_by_age_trims_old_changes(redis_url: str, key_prefix: str) -> None:
    # 1 ms of history: every write trims what is older (in whole stream nodes)
    mem = await Memory.connect(redis_url, prefix=key_prefix, history_max_age_s=0.001)
    try:
        await mem.register_robot(RobotState(id="r1", embodiment="mobile"))
        for i in range(1000):
            await mem.update_robot("r1", progress=i / 1000)
        assert await mem.redis.xlen(mem.keys.changes) < 500
    finally:
        await mem.close()
