"""Records: robots, objects and places; versions and stamps; schema version; bad input."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from robo_os_memory import (
    SCHEMA_VERSION,
    EntityKind,
    InvalidUpdateError,
    Memory,
    NotFoundError,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
    RobotStatusValue,
    SchemaMismatchError,
    StoreUnavailableError,
    VersionConflictError,
)

from robo_os.services import free_port


async def test_schema_version_is_stored_and_checked(redis_url: str, key_prefix: str) -> None:
    raw = aioredis.from_url(redis_url, decode_responses=True)
    try:
        # a neighbour's keys must survive our connect: we never flush anything
        await raw.set(f"{key_prefix}-neighbour:x", "keep")
        mem = await Memory.connect(redis_url, prefix=key_prefix)
        await mem.close()
        assert await raw.get(f"{key_prefix}:schema") == str(SCHEMA_VERSION)
        assert await raw.get(f"{key_prefix}-neighbour:x") == "keep"

        await raw.set(f"{key_prefix}:schema", "999")
        with pytest.raises(SchemaMismatchError, match="999"):
            await Memory.connect(redis_url, prefix=key_prefix)
    finally:
        await raw.delete(f"{key_prefix}-neighbour:x", f"{key_prefix}:schema")
        await raw.aclose()


async def test_unreachable_redis_is_an_operator_error() -> None:
    with pytest.raises(StoreUnavailableError):
        await Memory.connect(
            f"redis://127.0.0.1:{free_port()}/0", prefix="nowhere", socket_connect_timeout=2
        )


async def test_bad_prefix_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        await Memory.connect(redis_url, prefix="a b")


async def test_robot_register_get_update_list(memory: Memory) -> None:
    r = await memory.register_robot(
        RobotState(
            id="r1",
            embodiment="mobile_manipulator",
            capabilities=("navigate", "manipulate"),
            pose=Pose(x=1, y=2),
        )
    )
    assert r.version == 1 and r.updated_by == "test" and r.updated_at > 0
    assert r.last_heartbeat is not None and r.status == RobotStatusValue.idle

    r2 = await memory.update_robot(
        "r1", pose=Pose(x=1.5, y=2, yaw=0.3), status="busy", current_subtask="c1", by="r1"
    )
    assert r2.version == 2 and r2.updated_by == "r1" and r2.updated_at >= r.updated_at
    assert r2.pose == Pose(x=1.5, y=2, yaw=0.3) and r2.status == RobotStatusValue.busy
    assert await memory.get_robot("r1") == r2

    await memory.register_robot(RobotState(id="r2", embodiment="arm", place="table"))
    assert [x.id for x in await memory.list_robots()] == ["r1", "r2"]
    assert await memory.get_robot("nobody") is None


async def test_robot_update_errors_change_nothing(memory: Memory) -> None:
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    with pytest.raises(NotFoundError, match="ghost"):
        await memory.update_robot("ghost", status="busy")
    with pytest.raises(InvalidUpdateError, match="colour"):
        await memory.update_robot("r1", colour="red")
    with pytest.raises(InvalidUpdateError, match="pick/place/transfer"):
        await memory.update_robot("r1", holding="cup")
    with pytest.raises(InvalidUpdateError, match="status"):
        await memory.update_robot("r1", status="dancing")
    with pytest.raises(InvalidUpdateError, match="outside"):
        await memory.update_robot("r1", pose=Pose(x=1e9, y=0))
    r = await memory.get_robot("r1")
    assert r is not None and r.version == 1


async def test_optimistic_version_check(memory: Memory) -> None:
    await memory.upsert_object(ObjectState(name="box", attrs={"n": 0}))
    await memory.update_object("box", expected_version=1, attrs={"n": 1})
    with pytest.raises(VersionConflictError) as e:
        await memory.update_object("box", expected_version=1, attrs={"n": 99})
    assert e.value.actual == 2
    box = await memory.get_object("box")
    assert box is not None and box.attrs == {"n": 1} and box.version == 2


async def test_objects_places_contents_and_attr_merge(memory: Memory) -> None:
    await memory.upsert_place(
        PlaceState(name="table", kind="table", pose=Pose(x=2, y=0), size=(1.2, 0.8, 0.75))
    )
    await memory.upsert_place(PlaceState(name="shelf", pose=Pose(x=-2, y=1)))
    await memory.upsert_object(
        ObjectState(
            name="cup", type="cup", on="table", pose=Pose(x=2, y=0.1), attrs={"colour": "red"}
        )
    )
    await memory.upsert_object(ObjectState(name="apple", type="fruit", on="table"))
    assert await memory.place_contents("table") == ["apple", "cup"]

    cup = await memory.update_object("cup", on="shelf", attrs={"full": True})
    assert cup.on == "shelf" and cup.attrs == {"colour": "red", "full": True} and cup.version == 2
    assert await memory.place_contents("table") == ["apple"]
    assert await memory.place_contents("shelf") == ["cup"]

    # replacing a record replaces its attributes too (and keeps counting versions)
    cup = await memory.upsert_object(ObjectState(name="cup", type="mug", on="shelf"))
    assert cup.attrs == {} and cup.type == "mug" and cup.version == 3

    place = await memory.update_place("shelf", attrs={"height": 1.2})
    assert place.attrs == {"height": 1.2} and place.version == 2
    assert [p.name for p in await memory.list_places()] == ["shelf", "table"]
    assert [o.name for o in await memory.list_objects()] == ["apple", "cup"]
    assert await memory.get_place("nowhere") is None and await memory.get_object("nothing") is None
    with pytest.raises(NotFoundError):
        await memory.update_place("nowhere", attrs={"x": 1})
    with pytest.raises(InvalidUpdateError, match="itself"):
        await memory.update_object("cup", on="cup")


async def test_skill_catalogue(memory: Memory) -> None:
    await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
    await memory.register_robot(RobotState(id="r2", embodiment="arm"))
    specs = {
        "pick": {"name": "pick", "parameters": {"type": "object"}},
        "navigate": {"name": "navigate"},
    }
    await memory.set_robot_skills("r1", specs)
    assert await memory.robot_skills() == {"r1": specs}
    r1 = await memory.get_robot("r1")
    assert r1 is not None and r1.skills == ("navigate", "pick") and r1.version == 2
    with pytest.raises(NotFoundError):
        await memory.set_robot_skills("ghost", specs)


async def test_published_skills_are_decoded_once_and_follow_republishing(memory: Memory) -> None:
    specs = {"pick": {"name": "pick", "timeout_s": 5}, "look": {"name": "look"}}
    for rid in ("r1", "r2", "r3"):
        await memory.register_robot(RobotState(id=rid, embodiment="arm"))
        await memory.set_robot_skills(rid, specs)
    first = await memory.robot_skills()
    assert first == {rid: specs for rid in ("r1", "r2", "r3")}
    # robots publishing the same specs share them, and an unchanged answer is not decoded again
    assert first["r1"]["pick"] is first["r2"]["pick"]
    again = await memory.robot_skills()
    assert again["r3"]["look"] is first["r3"]["look"]
    first["r1"].pop("look")  # each answer's per-robot mapping is its own
    assert "look" in (await memory.robot_skills())["r1"]
    # a republished spec is read anew (and only that robot's)
    await memory.set_robot_skills("r2", {"pick": {"name": "pick", "timeout_s": 9}})
    now = await memory.robot_skills()
    assert now["r2"] == {"pick": {"name": "pick", "timeout_s": 9}}
    assert now["r1"] == specs and now["r1"]["pick"] is first["r1"]["pick"]


async def test_names_read_the_index_without_the_records(memory: Memory) -> None:
    for rid in ("r2", "r1"):
        await memory.register_robot(RobotState(id=rid, embodiment="arm"))
    await memory.upsert_object(ObjectState(name="cup", type="cup"))
    assert await memory.names(EntityKind.robot) == ["r1", "r2"]
    assert await memory.names(EntityKind.object) == ["cup"]
    assert await memory.names(EntityKind.place) == []
    await memory.delete(EntityKind.robot, "r1")
    assert await memory.names(EntityKind.robot) == ["r2"]


async def test_snapshot_and_bounded_summary(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=0, y=0)))
    await memory.register_robot(
        RobotState(id="r1", embodiment="mobile", capabilities=("navigate",), pose=Pose(x=1, y=1))
    )
    for i in range(200):
        await memory.upsert_object(
            ObjectState(name=f"thing{i:03d}", type="block", on="table", attrs={"colour": "blue"})
        )
    await memory.upsert_object(ObjectState(name="ball", pose=Pose(x=3, y=3)))

    robots, objects, places = await memory.snapshot()
    assert (
        [r.id for r in robots] == ["r1"]
        and len(objects) == 201
        and [p.name for p in places] == ["table"]
    )

    full = await memory.world_summary(max_chars=100_000)
    assert full.splitlines()[0].startswith("robot r1 (mobile) idle")
    assert (
        "thing199 (block) [colour=blue]" in full
        and "object ball (object) loose @(3.00,3.00)" in full
    )
    short = await memory.world_summary(max_chars=300)
    assert len(short) <= 300
    assert short.startswith("robot r1") and short.endswith("more lines omitted")


async def test_records_are_isolated_by_prefix(
    memory: Memory, redis_url: str, key_prefix: str
) -> None:
    other = await Memory.connect(redis_url, prefix=f"{key_prefix}-other")
    try:
        await memory.register_robot(RobotState(id="r1", embodiment="mobile"))
        assert await other.list_robots() == []
        assert await other.get_robot("r1") is None
    finally:
        await other.close()
    assert memory.keys.record(EntityKind.robot, "r1") == f"{key_prefix}:robot:r1"
