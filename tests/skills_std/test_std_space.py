"""Space in physics: robots reserve a place's docking slots in memory before they drive
there, take turns when the slots are all taken, never touch each other, and the place a
robot is docked at (and its slot) is one fact in memory that the planner reads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from robo_os_memory import EntityKind, Pose, slot_resource
from robo_os_skills import navigate_to, navigate_to_pose

from robo_os.brain.planning.planner import BrainPlanner
from robo_os.contracts import ErrorCode, SkillResult
from robo_os.fleet import FleetConfig
from robo_os.sim.rigs import RobotRig
from tests.brain.planning.planning_world import offered_skills

from .std_world import WAIT_S, StdWorld

MakeStd = Callable[..., Awaitable[StdWorld]]


def _table(name: str, x: float, y: float, **attrs: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "table",
        "pose": {"x": x, "y": y},
        "size": [0.8, 0.8, 0.75],
        "attrs": attrs,
    }


def shared_place(slots: int, embodiment: str = "carrier") -> FleetConfig:
    """Two mobile robots on the west side, a place `goal` on the east with `slots`
    docking slots, and a place `away` to leave to."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 8.0],
                "places": [
                    _table("goal", 2.0, 0.0, slots=slots),
                    _table("home_a", -2.6, 1.8),
                    _table("home_b", -2.6, -1.8),
                    _table("away", 0.0, 3.0),
                ],
                "objects": [],
            },
            "robots": [
                {"id": "r1", "embodiment": embodiment, "at": "home_a"},
                {"id": "r2", "embodiment": embodiment, "at": "home_b"},
            ],
        }
    )


def watch_contacts(std: StdWorld) -> list[tuple[str, str]]:
    """Every robot-to-robot contact a moving base feels from now on."""
    hits: list[tuple[str, str]] = []
    feel = std.world.unexpected_contact

    def spy(rig: RobotRig) -> str | None:
        hit = feel(rig)
        if hit in std.world.robots:
            hits.append((rig.id, hit))
        return hit

    std.world.unexpected_contact = spy  # type: ignore[method-assign]
    return hits


def waiting_flag() -> tuple[asyncio.Event, Callable[[float, str], Awaitable[None]]]:
    waiting = asyncio.Event()

    async def on_progress(fraction: float, message: str) -> None:
        if message.startswith("waiting for a slot"):
            waiting.set()

    return waiting, on_progress


async def docked(std: StdWorld, robot: str) -> tuple[str | None, int | None]:
    record = await std.memory.get_robot(robot)
    assert record is not None
    return record.place, record.slot


async def test_two_robots_take_turns_at_a_one_slot_place(make_std: MakeStd) -> None:
    std = await make_std(shared_place(slots=1))
    hits = watch_contacts(std)
    flags = {r: waiting_flag() for r in ("r1", "r2")}
    runs = {
        r: asyncio.ensure_future(std.run(r, navigate_to, progress=flags[r][1], target="goal"))
        for r in ("r1", "r2")
    }
    done, _ = await asyncio.wait(runs.values(), timeout=WAIT_S, return_when="FIRST_COMPLETED")
    first = next(r for r, t in runs.items() if t in done)
    second = "r2" if first == "r1" else "r1"
    assert runs[first].result().ok, runs[first].result()
    # the second one waits for the only slot, it does not fail or drive into the first
    await asyncio.wait_for(flags[second][0].wait(), WAIT_S)
    assert not runs[second].done()
    assert not flags[first][0].is_set()
    assert await docked(std, first) == ("goal", 0)
    assert std.world.robot_info(first).slot == 0
    assert await std.memory.lease_of(slot_resource("goal", 0)) is None  # docked: the fact says it

    left = await std.run(first, navigate_to, target="away")
    assert left.ok, left
    arrived: SkillResult = await asyncio.wait_for(runs[second], WAIT_S)
    assert arrived.ok, arrived
    assert arrived.data["waited_for_slot_s"] > 0 and "waited_for_slot_s" not in (
        runs[first].result().data
    )
    assert await docked(std, second) == ("goal", 0)
    assert (await docked(std, first))[0] == "away"
    assert std.world.robot_info(second).place == "goal"
    assert hits == []
    # the slot's lease history: the first holder, then the second, each released
    trail = [
        (c.op, c.fields.get("holder"))
        for c in await std.memory.history(EntityKind.lease, slot_resource("goal", 0))
    ]
    assert trail[0] == ("acquire", first) and ("acquire", second) in trail
    assert trail.index(("release", first)) < trail.index(("acquire", second))
    assert trail[-1] == ("release", second)


async def test_a_place_with_two_slots_takes_both_robots_at_once(make_std: MakeStd) -> None:
    std = await make_std(shared_place(slots=2))
    hits = watch_contacts(std)
    flags = {r: waiting_flag() for r in ("r1", "r2")}
    results = await asyncio.wait_for(
        asyncio.gather(
            *(std.run(r, navigate_to, progress=flags[r][1], target="goal") for r in ("r1", "r2"))
        ),
        WAIT_S,
    )
    assert all(r.ok for r in results), results
    assert not any(f[0].is_set() for f in flags.values())  # nobody waited
    places = [await docked(std, r) for r in ("r1", "r2")]
    assert sorted(places) == [("goal", 0), ("goal", 1)]
    assert {std.world.robot_info(r).slot for r in ("r1", "r2")} == {0, 1}
    assert hits == []
    for i in (0, 1):
        assert await std.memory.lease_of(slot_resource("goal", i)) is None


async def test_leaving_frees_the_slot_and_a_full_place_fails_clearly(make_std: MakeStd) -> None:
    std = await make_std(shared_place(slots=1))
    assert (await std.run("r1", navigate_to, target="goal")).ok
    # all slots taken until the deadline: a clear failure that names the holder
    full = await std.run("r2", navigate_to, target="goal", timeout_s=1.0)
    assert full.error == ErrorCode.timeout, full
    assert "r1" in full.message and "goal" in full.message
    assert (await docked(std, "r2"))[0] == "home_b"  # it never left
    assert await std.memory.lease_of(slot_resource("goal", 0)) is None

    away = await std.run("r1", navigate_to_pose, x=-0.5, y=-0.5)
    assert away.ok, away
    assert await docked(std, "r1") == (None, None)
    waiting, on_progress = waiting_flag()
    got = await std.run("r2", navigate_to, progress=on_progress, target="goal")
    assert got.ok, got
    assert not waiting.is_set()  # the slot was free at once
    assert await docked(std, "r2") == ("goal", 0)


async def test_a_lease_held_by_another_robot_makes_it_wait_until_released(
    make_std: MakeStd,
) -> None:
    """A slot is taken while someone leases it, even before anyone is docked there; the
    waiting robot wakes on the release (the change feed), not on a timer."""
    std = await make_std(shared_place(slots=1))
    blocker = await std.memory.acquire(slot_resource("goal", 0), "someone", 60.0)
    waiting, on_progress = waiting_flag()
    run = asyncio.ensure_future(std.run("r1", navigate_to, progress=on_progress, target="goal"))
    await asyncio.wait_for(waiting.wait(), WAIT_S)
    assert not run.done()
    await std.memory.release(blocker)
    result = await asyncio.wait_for(run, WAIT_S)
    assert result.ok, result
    assert await docked(std, "r1") == ("goal", 0)


@pytest.mark.parametrize("docked_first", [True, False])
async def test_a_plan_from_near_a_place_includes_the_drive(
    make_std: MakeStd, docked_first: bool
) -> None:
    """A mobile manipulator stopped right next to the counter is not at it: the plan
    drives it there (and docks) before it picks."""
    fleet = FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 8.0],
                "places": [
                    {
                        "name": "counter",
                        "kind": "counter",
                        "pose": {"x": 2.0, "y": 0.0},
                        "size": [0.6, 1.0, 0.75],
                    },
                    _table("table", -2.0, 0.0),
                ],
                "objects": [{"name": "apple", "type": "apple", "at": "counter"}],
            },
            "robots": [{"id": "mm1", "embodiment": "mobile_manipulator", "at": "counter"}],
        }
    )
    std = await make_std(fleet)
    robots = await std.memory.list_robots()
    for rid, specs in offered_skills(robots).items():
        await std.memory.set_robot_skills(rid, specs)
    if not docked_first:  # back off the counter a little: near it, no longer docked
        near = std.world.robot_pose("mm1")
        moved = await std.run("mm1", navigate_to_pose, x=near.x - 0.3, y=near.y + 0.2)
        assert moved.ok, moved
        assert await docked(std, "mm1") == (None, None)
        # within the counter's half-size + 0.6 m: what used to count as "at" it
        assert std.world.robot_pose("mm1").distance_to(Pose(x=2.0, y=0.0)) < 0.5 + 0.6

    outcome = await BrainPlanner(std.memory).plan("t1", "bring the apple to the table")
    assert outcome.plan is not None, outcome.problems
    steps = [
        (s.skill, str(s.args.get("target", s.args.get("object")))) for s in outcome.plan.subtasks
    ]
    drive = ("navigate_to", "counter")
    assert (drive in steps) is not docked_first, steps
    if not docked_first:
        assert steps.index(drive) < next(i for i, s in enumerate(steps) if s[0] == "pick")
        # and the skills agree: from where it is now the apple is out of reach
        assert not await std.robots["mm1"].arm.reaches("apple")  # type: ignore[union-attr]


def crossing(embodiment: str = "carrier") -> FleetConfig:
    """Two robots facing each other across an open floor, each sent to the other's side."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 6.0],
                "places": [_table("west", -3.0, 0.0), _table("east", 3.0, 0.0)],
                "objects": [],
            },
            "robots": [
                {"id": "r1", "embodiment": embodiment, "at": "west"},
                {"id": "r2", "embodiment": embodiment, "at": "east"},
            ],
        }
    )


@pytest.mark.parametrize("embodiment", ["carrier", "mobile_manipulator"])
async def test_robots_crossing_head_on_pass_without_touching(
    make_std: MakeStd, embodiment: str
) -> None:
    std = await make_std(crossing(embodiment))
    hits = watch_contacts(std)
    there, back = await asyncio.wait_for(
        asyncio.gather(
            std.run("r1", navigate_to, target="east"),
            std.run("r2", navigate_to, target="west"),
        ),
        WAIT_S,
    )
    assert there.ok and back.ok, (there, back)
    assert hits == []
    assert (await docked(std, "r1"))[0] == "east" and (await docked(std, "r2"))[0] == "west"


def queue_scene(n: int) -> FleetConfig:
    """`n` robots on the west side, each with a place of its own to leave to, and one
    place with a single slot in the east."""
    ys = [-2.4 + 4.8 * i / max(n - 1, 1) for i in range(n)]
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [9.0, 8.0],
                "places": [
                    _table("goal", 2.6, 0.0, slots=1),
                    *(_table(f"home{i}", -3.6, y) for i, y in enumerate(ys)),
                    *(
                        _table(f"away{i}", -1.5 + 1.6 * (i // 2), 3.3 if i % 2 else -3.3)
                        for i in range(n)
                    ),
                ],
                "objects": [],
            },
            "robots": [
                {"id": f"r{i}", "embodiment": "carrier", "at": f"home{i}"} for i in range(n)
            ],
        }
    )


async def test_three_robots_queue_for_one_slot_and_each_gets_a_turn(make_std: MakeStd) -> None:
    std = await make_std(queue_scene(3))
    hits = watch_contacts(std)

    async def visit(i: int) -> tuple[SkillResult, SkillResult]:
        there = await std.run(f"r{i}", navigate_to, target="goal")
        gone = await std.run(f"r{i}", navigate_to, target=f"away{i}")
        return there, gone

    visits = await asyncio.wait_for(asyncio.gather(*(visit(i) for i in range(3))), 3 * WAIT_S)
    for there, gone in visits:
        assert there.ok and gone.ok, (there, gone)
    waited = sorted(there.data.get("waited_for_slot_s", 0.0) > 0 for there, _ in visits)
    assert waited == [False, True, True]  # one went straight in, the others queued
    assert hits == []
    trail = [
        (c.op, c.fields.get("holder"))
        for c in await std.memory.history(EntityKind.lease, slot_resource("goal", 0))
        if c.op != "renew"
    ]
    holder = None
    for op, who in trail:  # never two holders at once
        assert (op == "acquire") == (holder is None), trail
        holder = who if op == "acquire" else None
    assert sorted({who for op, who in trail if op == "acquire"}) == ["r0", "r1", "r2"]


async def test_in_the_household_two_robots_sent_to_the_counter_never_touch(
    make_std: MakeStd,
) -> None:
    """The shipped scene: carrier1 and mm1 sent to the kitchen counter at once, then
    both on to the sink; each docks at a slot of its own, nobody touches anybody."""
    std = await make_std()
    hits = watch_contacts(std)
    first = await asyncio.wait_for(
        asyncio.gather(
            std.run("carrier1", navigate_to, target="kitchen_counter"),
            std.run("mm1", navigate_to, target="kitchen_counter"),
        ),
        WAIT_S,
    )
    assert all(r.ok for r in first), first
    slots = {(await docked(std, r)) for r in ("carrier1", "mm1")}
    assert len(slots) == 2 and all(p == "kitchen_counter" for p, _ in slots), slots
    second = await asyncio.wait_for(
        asyncio.gather(
            std.run("carrier1", navigate_to, target="sink"),
            std.run("mm1", navigate_to, target="sink"),
        ),
        WAIT_S,
    )
    assert all(r.ok for r in second), second
    assert hits == []
