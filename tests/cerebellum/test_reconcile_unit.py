"""Reconciliation with a scripted observer (a real robot's perception, not the
simulator's ground truth): what it cannot find becomes unknown, what it sees elsewhere
moves, and the agent's periodic reconciliation runs by itself."""

from __future__ import annotations

import asyncio

from robo_os_memory import Memory
from robo_os_memory.models import EntityKind, ObjectState, PlaceState, Pose, RobotState

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.cerebellum.reconcile import Reconciler, compare, expected_near
from robo_os.settings import AgentSettings
from robo_os.skill.observation import Observation, ObservedObject, observer_of
from robo_os.skill.registry import SkillRegistry
from robo_os.testing import FakeRobot


class Eyes:
    """An observer part: reports what it is told to, and what it was asked about."""

    def __init__(self, robot: str) -> None:
        self.robot = robot
        self.seen: list[ObservedObject] = []
        self.asked: list[tuple[str, ...]] = []

    async def observe(self, expect: tuple[str, ...] = ()) -> Observation:
        self.asked.append(expect)
        names = {o.name for o in self.seen}
        return Observation(
            robot=self.robot,
            pose=Pose(x=0.0, y=0.0),
            place="table",
            objects=tuple(self.seen),
            missing=tuple(n for n in expect if n not in names),
        )


async def _scene(memory: Memory) -> None:
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=0.5, y=0)))
    await memory.upsert_place(PlaceState(name="shelf", pose=Pose(x=-3, y=0)))
    await memory.upsert_object(ObjectState(name="cup", on="table", pose=Pose(x=0.5, y=0.1)))
    await memory.upsert_object(ObjectState(name="book", on="shelf", pose=Pose(x=-3, y=0)))
    await memory.register_robot(
        RobotState(id="r1", embodiment="mobile", pose=Pose(x=0, y=0), place="table")
    )


async def test_what_nobody_finds_is_unknown_and_what_is_seen_moves(memory: Memory) -> None:
    await _scene(memory)
    eyes = Eyes("r1")
    eyes.seen = [ObservedObject(name="book", on="table", pose=Pose(x=0.6, y=-0.1))]
    rec = await Reconciler("r1", eyes, memory).run("test", about=["book"])
    assert eyes.asked == [("book", "cup")]  # the cup is at its place; the book was named
    cup, book = await memory.get_object("cup"), await memory.get_object("book")
    assert cup is not None and cup.on is None and cup.unknown_since == rec.at
    assert cup.pose == Pose(x=0.5, y=0.1)  # last seen there
    assert book is not None and book.on == "table" and book.source == "observed"
    assert await memory.place_contents("table") == ["book"]
    assert {(d.name, d.field) for d in rec.disagreements} == {
        ("cup", "unknown_since"),
        ("book", "on"),
        ("book", "pose"),
    }
    again = await Reconciler("r1", eyes, memory).run("again")
    assert [d for d in again.disagreements if d.name == "cup"] == []  # already unknown


def test_compare_is_quiet_when_memory_is_right() -> None:
    robot = RobotState(id="r1", embodiment="mobile", pose=Pose(x=0, y=0), place="table")
    cup = ObjectState(name="cup", on="table", pose=Pose(x=0.5, y=0.1), version=3)
    seen = Observation(
        robot="r1",
        pose=Pose(x=0.02, y=0.0),
        place="table",
        objects=(ObservedObject(name="cup", on="table", pose=Pose(x=0.52, y=0.11)),),
    )
    assert compare(seen, robot, {"cup": cup}) == ([], [], {})
    assert expected_near(robot, [cup]) == ("cup",)


async def test_periodic_reconciliation_runs_while_idle(memory: Memory) -> None:
    await _scene(memory)
    robot = FakeRobot("r1", capabilities={"navigate"})
    eyes = Eyes("r1")
    eyes.seen = [ObservedObject(name="cup", on="shelf", pose=Pose(x=-3, y=0.2))]
    robot.observer = eyes  # type: ignore[attr-defined]
    assert observer_of(robot) is eyes
    agent = CerebellumAgent(
        robot, memory, SkillRegistry([]), AgentSettings(reconcile_interval_s=0.05)
    )
    async with memory.subscribe(kinds=[EntityKind.object], names=["cup"]) as feed:
        await agent.start()
        try:

            async def observed() -> None:
                async for change in feed:
                    if change.fields.get("source") == "observed":
                        return

            await asyncio.wait_for(observed(), 10)
        finally:
            await agent.stop()
    cup = await memory.get_object("cup")
    assert cup is not None and cup.on == "shelf" and cup.source == "observed"
