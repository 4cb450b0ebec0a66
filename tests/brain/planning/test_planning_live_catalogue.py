"""The catalogue kept current from memory's change feed equals one built from a fresh
snapshot after any mix of writes by other clients, while reading only what changed."""

from __future__ import annotations

import asyncio
import random

from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.live import LiveCatalogue

from .planning_world import offered_skills
from .test_planning_memory import seed


def same(a: Catalogue, b: Catalogue) -> None:
    assert a.robots == b.robots
    assert a.objects == b.objects
    assert a.places == b.places
    assert {r: sorted(m) for r, m in a.offered.items()} == {
        r: sorted(m) for r, m in b.offered.items()
    }
    assert a.available_robots == b.available_robots


async def test_any_mix_of_writes_is_followed_and_only_changes_are_read(
    memory: Memory, redis_url: str, key_prefix: str
) -> None:
    await seed(memory)
    live = LiveCatalogue(memory)
    first = await live.get()
    assert await live.get() is first and live.full_reads == 1  # unchanged: no rebuild
    other = await Memory.connect(redis_url, prefix=key_prefix, writer="other")
    rng = random.Random(5)
    try:
        for step in range(40):
            roll = rng.random()
            if roll < 0.25:
                await other.update_robot(
                    rng.choice(["mm1", "carrier1"]), pose=Pose(x=rng.uniform(-2, 2), y=0.5)
                )
            elif roll < 0.4:
                await other.update_object("book", attrs={"step": step})
            elif roll < 0.5:
                await other.upsert_object(ObjectState(name=f"new{step}", type="cube", on="shelf"))
            elif roll < 0.6:
                await other.upsert_place(
                    PlaceState(name=f"spot{step}", kind="surface", pose=Pose(x=3, y=step / 10))
                )
            elif roll < 0.7:
                await other.update_robot("carrier1", status=rng.choice(["offline", "idle"]))
            elif roll < 0.8:
                robot = RobotState(id=f"extra{step}", embodiment="carrier", place="shelf")
                await other.register_robot(robot)
                await other.set_robot_skills(robot.id, offered_skills([robot])[robot.id])
            elif roll < 0.9 and step % 3 == 0:
                names = [o.name for o in (await other.snapshot())[1] if o.name.startswith("new")]
                if names:
                    await other.delete("object", names[0])  # type: ignore[arg-type]
            else:
                skills = offered_skills([first.robots["mm1"]])["mm1"]
                if step % 2:
                    skills.pop("pick", None)
                await other.set_robot_skills("mm1", skills)
            if step % 4 == 3:  # several writes between two reads, and reads after each
                same(await live.get(), await Catalogue.from_memory(memory))
        same(await live.get(), await Catalogue.from_memory(memory))
        assert live.full_reads == 1 and live.partial_reads >= 9
    finally:
        await other.close()


async def test_readers_racing_writers_end_on_the_truth(
    memory: Memory, redis_url: str, key_prefix: str
) -> None:
    await seed(memory)
    live = LiveCatalogue(memory)
    other = await Memory.connect(redis_url, prefix=key_prefix, writer="other")
    try:

        async def write() -> None:
            for k in range(60):
                await other.update_robot("mm1", pose=Pose(x=k / 60, y=0.0))

        async def read() -> None:
            for _ in range(30):
                await live.get()

        await asyncio.gather(write(), read(), read(), read())
        same(await live.get(), await Catalogue.from_memory(memory))
    finally:
        await other.close()


async def test_many_changes_or_an_old_copy_read_everything_again(memory: Memory) -> None:
    await seed(memory)
    live = LiveCatalogue(memory, max_changes=5)
    await live.get()
    for k in range(6):
        await memory.update_object("book", attrs={"k": k})
    same(await live.get(), await Catalogue.from_memory(memory))
    assert live.full_reads == 2
    live.max_age_s = 0.0
    await memory.update_object("book", attrs={"k": "old"})
    same(await live.get(), await Catalogue.from_memory(memory))
    assert live.full_reads == 3
