"""Many concurrent writers lose nothing; readers never see half a move."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence

import pytest
from robo_os_memory import (
    ConflictError,
    EntityKind,
    Memory,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
    VersionConflictError,
)

WRITERS = 20


@pytest.fixture
async def clients(redis_url: str, key_prefix: str) -> AsyncIterator[list[Memory]]:
    """One Memory (own connection pool) per writer, all on the same key space."""
    mems = [
        await Memory.connect(redis_url, prefix=key_prefix, writer=f"w{i}") for i in range(WRITERS)
    ]
    try:
        yield mems
    finally:
        for m in mems:
            await m.close()


async def test_twenty_read_modify_writers_lose_no_update(
    memory: Memory, clients: list[Memory]
) -> None:
    await memory.upsert_object(ObjectState(name="counter", attrs={"n": 0}))
    per_writer = 10
    conflicts = 0

    async def writer(m: Memory) -> None:
        nonlocal conflicts
        done = 0
        while done < per_writer:
            cur = await m.get_object("counter")
            assert cur is not None
            n = cur.attrs["n"]
            assert isinstance(n, int)
            try:
                await m.update_object("counter", expected_version=cur.version, attrs={"n": n + 1})
            except VersionConflictError:
                conflicts += 1  # lost the race: learn it, re-read, retry
                continue
            done += 1

    await asyncio.gather(*(writer(m) for m in clients))
    final = await memory.get_object("counter")
    assert final is not None
    assert final.attrs["n"] == WRITERS * per_writer
    assert final.version == WRITERS * per_writer + 1
    # every increment is in the history exactly once, in order
    history = await memory.history(EntityKind.object, "counter")
    assert [c.fields["attrs"]["n"] for c in history[1:]] == list(range(1, WRITERS * per_writer + 1))  # type: ignore[index]
    assert conflicts > 0  # the writers really did compete


def _check_consistent(robots: Sequence[RobotState], objects: Sequence[ObjectState]) -> None:
    holding = {r.id: r.holding for r in robots}
    held = {o.name: o.held_by for o in objects}
    for o in objects:
        assert (o.on is None) != (o.held_by is None), f"{o.name} is both/neither on and held: {o}"
        if o.held_by is not None:
            assert holding[o.held_by] == o.name, (
                f"{o.name} held by {o.held_by} who holds {holding[o.held_by]}"
            )
    for r in robots:
        if r.holding is not None:
            assert held[r.holding] == r.id, f"{r.id} holds {r.holding} held by {held[r.holding]}"


async def test_competing_picks_and_atomic_snapshots(memory: Memory, clients: list[Memory]) -> None:
    objects = [f"obj{i}" for i in range(5)]
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=0, y=0)))
    for name in objects:
        await memory.upsert_object(ObjectState(name=name, on="table"))
    for i in range(WRITERS):
        await memory.register_robot(RobotState(id=f"r{i}", embodiment="arm"))
    start = await memory.latest_cursor()
    rounds = 15
    wins = [0] * WRITERS
    stop = asyncio.Event()
    snapshots = 0

    async def robot(i: int, m: Memory) -> None:
        rng = random.Random(i)
        for _ in range(rounds):
            target = rng.choice(objects)
            try:
                await m.pick(f"r{i}", target)
            except ConflictError:
                continue
            wins[i] += 1
            await m.place(f"r{i}", target, "table")

    async def reader() -> None:
        nonlocal snapshots
        while not stop.is_set():
            robots, objs, _ = await memory.snapshot()
            _check_consistent(robots, objs)
            snapshots += 1

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    try:
        await asyncio.gather(*(robot(i, m) for i, m in enumerate(clients)))
    finally:
        stop.set()
        await asyncio.gather(*readers)

    robots, objs, _ = await memory.snapshot()
    _check_consistent(robots, objs)
    assert all(o.on == "table" for o in objs) and all(r.holding is None for r in robots)
    assert await memory.place_contents("table") == objects
    # every won pick is in the history exactly once, and nothing else picked anything
    changes: list[object] = []
    cursor = start
    while True:
        page, cursor = await memory.changes_since(cursor, kinds=[EntityKind.object])
        if not page:
            break
        changes += [c for c in page if c.fields.get("held_by")]
    assert len(changes) == sum(wins) > 0
    assert snapshots > 0
    versions = {o.name: o.version for o in objs}
    # each object: 1 (created) + 2 per win (pick and place)
    assert sum(v - 1 for v in versions.values()) == 2 * sum(wins)
