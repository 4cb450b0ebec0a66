"""A restart on a memory an earlier run left (robo_os/restart.py): the previous run's
leases are released (and fenced), the world is rebuilt from memory, and memory is
corrected (`observed`) where the world could not honour it, instead of refusing to start."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from robo_os_memory import Memory, slot_resource
from robo_os_memory.errors import ConflictError, LeaseLostError
from robo_os_memory.models import PlaceState, Pose

from robo_os.cerebellum.reconcile import diff_all
from robo_os.restart import adopt_world, release_previous_leases, remembered_world
from robo_os.sim import LocalWorldClient, SimRobot, SimWorld, robot_record, seed_memory

from .test_sim_restore import _scene

MakeWorld = Callable[..., SimWorld]


async def _first_run(make_world: MakeWorld, memory: Memory) -> None:
    """What an earlier run leaves: the scene seeded, mm1 holding the cup, the carrier
    carrying the apple, the sponge on the floor, the book on a place since removed."""
    await seed_memory(memory, LocalWorldClient(make_world(_scene())))
    await memory.pick("mm1", "cup")
    await memory.transfer("apple", to_on="carrier1", to_holder=None)
    await memory.transfer("sponge", to_on=None, to_holder=None, pose=Pose(x=0.3, y=-1.6, z=0.02))
    await memory.upsert_place(PlaceState(name="attic", pose=Pose(x=2.5, y=2.5)))
    await memory.transfer("book", to_on="attic", to_holder=None)


async def test_a_restart_adopts_the_world_in_memory_and_corrects_what_it_cannot_honour(
    make_world: MakeWorld, memory: Memory
) -> None:
    await _first_run(make_world, memory)
    # what the stack did before: seeding from the scene file refuses a held object
    with pytest.raises(ConflictError, match="held by mm1"):
        await seed_memory(memory, LocalWorldClient(make_world(_scene())), robots=False)

    remembered = await remembered_world(memory)
    assert remembered is not None
    world = make_world(_scene(), memory=remembered)
    assert any("attic" in note for note in world.restore_notes)
    client = LocalWorldClient(world)
    before = time.time()
    adoption = await adopt_world(memory, client)

    assert world.holder_of("cup") == "mm1" and world.robot_info("carrier1").tray == ("apple",)
    cup, book = await memory.get_object("cup"), await memory.get_object("book")
    assert cup is not None and cup.held_by == "mm1"  # honoured: nothing to correct
    # the book's place is gone: it is where the world built it, written as observed
    assert book is not None and book.on == "c" and book.source == "observed"
    assert book.observed_at is not None and book.observed_at >= before
    assert {(d.name, d.field) for d in adoption.corrected} >= {("book", "on")}
    assert "cup" not in {d.name for d in adoption.corrected}
    assert adoption.removed == ["attic"] and await memory.get_place("attic") is None

    # the agents register their robots from the world; then memory agrees with it
    for info in (await client.describe()).robots:
        await memory.register_robot(robot_record(info))
    observers = {rc.id: SimRobot(rc, client) for rc in world.fleet.robots}
    assert await diff_all(memory, observers, ask_all=True) == []
    mm1 = await memory.get_robot("mm1")
    assert mm1 is not None and mm1.holding == "cup"


async def test_an_object_new_in_the_scene_file_is_seeded_and_one_gone_is_unknown(
    make_world: MakeWorld, memory: Memory
) -> None:
    await _first_run(make_world, memory)
    # the scene file lost the cube (so did memory's world: nobody can build it) and
    # gained a mug
    fleet = _scene()
    objects = [o for o in fleet.scene.objects if o.name != "cube"]
    objects.append(
        objects[0].model_copy(update={"name": "mug", "type": "mug", "offset": (0.2, -0.2)})
    )
    fleet = fleet.model_copy(update={"scene": fleet.scene.model_copy(update={"objects": objects})})
    await memory.transfer("cube", to_on=None, to_holder=None, pose=None)
    remembered = await remembered_world(memory)
    assert remembered is not None
    world = make_world(fleet, memory=remembered)
    adoption = await adopt_world(memory, LocalWorldClient(world))
    assert "mug" in adoption.added
    mug = await memory.get_object("mug")
    assert mug is not None and mug.on == "a"
    cube = await memory.get_object("cube")
    assert cube is not None and cube.unknown_since is not None and "cube" not in world.objects


async def test_leases_of_the_previous_run_are_released_and_fenced(
    make_world: MakeWorld, memory: Memory
) -> None:
    await seed_memory(memory, LocalWorldClient(make_world(_scene())))
    cup = await memory.acquire("cup", "mm1", ttl_s=600)
    dock = await memory.acquire(slot_resource("b", 0), "carrier1", ttl_s=600)
    other = await memory.acquire("apple", "someone-else", ttl_s=600)

    # mm1 is in the fleet; carrier1 only in memory (a robot the fleet file dropped)
    released = await release_previous_leases(memory, ["mm1"])
    assert released == {"mm1": ["cup"], "carrier1": [slot_resource("b", 0)]}
    assert await memory.lease_of("cup") is None
    assert await memory.lease_of("apple") == other  # not a robot's: untouched
    # fenced: the old run's tokens write nothing; the next holder gets a higher one
    with pytest.raises(LeaseLostError):
        await memory.update_object("cup", lease=cup, attrs={"x": 1})
    with pytest.raises(LeaseLostError):
        await memory.renew(dock, ttl_s=5)
    taken = await memory.acquire("cup", "mm2", ttl_s=5)
    assert taken.token > cup.token
    changes, _ = await memory.changes_since("0", names=["cup"])
    assert any(c.op == "release" and "restarted" in str(c.fields.get("reason")) for c in changes), (
        changes
    )
