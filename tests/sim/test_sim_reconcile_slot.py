"""A reconciled robot's slot is corrected together with its place: memory that has a
robot at an old place's slot, or at the wrong slot of a shared place, ends with the
place and slot the simulator has it docked at (and no slot where none is known)."""

from __future__ import annotations

from collections.abc import Callable

from robo_os_memory import Memory
from robo_os_memory.models import Pose, RobotState

from robo_os.cerebellum.reconcile import Reconciler, compare, diff_all
from robo_os.sim import LocalWorldClient, Navigate, SimRobot, SimWorld, seed_memory
from robo_os.skill.observation import Observation
from robo_os.skill.parts import MotionOutcome

from .sim_scenes import household

MakeWorld = Callable[..., SimWorld]


def _drive(world: SimWorld, robot: str, place: str, slot: int | None = None) -> int:
    result = world.run_until_done(world.start(robot, Navigate(target=place, slot=slot)))
    assert result.outcome == MotionOutcome.done, result
    info = world.robot_info(robot)
    assert info.place == place and info.slot is not None
    return info.slot


async def test_a_robot_found_at_another_place_gets_that_place_and_its_slot(
    make_world: MakeWorld, memory: Memory
) -> None:
    world = make_world(household())
    client = LocalWorldClient(world)
    await seed_memory(memory, client)
    before = await memory.get_robot("mm1")
    assert before is not None and before.place == "shelf" and before.slot is not None
    slot = _drive(world, "mm1", "dining_table")  # memory is not told
    config = next(rc for rc in world.fleet.robots if rc.id == "mm1")
    rec = await Reconciler("mm1", SimRobot(config, client), memory).run("test")
    fixed = {d.field: d.observed for d in rec.disagreements if d.name == "mm1"}
    assert fixed["place"] == "dining_table" and fixed["slot"] == slot
    after = await memory.get_robot("mm1")
    assert after is not None and (after.place, after.slot) == ("dining_table", slot)
    assert after.source == "observed"


async def test_two_robots_at_one_place_with_their_slots_swapped_in_memory(
    make_world: MakeWorld, memory: Memory
) -> None:
    """Contention: mm1 and carrier1 share the dining table; memory has each at the
    other's slot. Reconciling both gives each its own, and nothing is left to differ."""
    world = make_world(household())
    client = LocalWorldClient(world)
    mm1 = _drive(world, "mm1", "dining_table")
    carrier = world.robot_info("carrier1").slot
    assert carrier is not None and carrier != mm1
    await seed_memory(memory, client)
    await memory.update_robot("mm1", slot=carrier)
    await memory.update_robot("carrier1", slot=mm1)
    observers = {rc.id: SimRobot(rc, client) for rc in world.fleet.robots}
    found = {(d.name, d.field) for d in await diff_all(memory, observers, ask_all=True)}
    assert {("mm1", "slot"), ("carrier1", "slot")} <= found
    for robot in ("mm1", "carrier1"):
        await Reconciler(robot, observers[robot], memory).run("test")
    got = {r.id: (r.place, r.slot) for r in await memory.list_robots()}
    assert got["mm1"] == ("dining_table", mm1) and got["carrier1"] == ("dining_table", carrier)
    assert await diff_all(memory, observers, ask_all=True) == []


def test_an_observer_without_slots_clears_the_slot_only_when_the_place_changes() -> None:
    robot = RobotState(id="r1", embodiment="mobile", pose=Pose(x=0, y=0), place="table", slot=2)
    same = Observation(robot="r1", pose=Pose(x=0, y=0), place="table")
    assert compare(same, robot, {}) == ([], [], {})  # it knows no slots: slot 2 stands
    moved = Observation(robot="r1", pose=Pose(x=0, y=0), place="shelf")
    found, _, fields = compare(moved, robot, {})
    assert {(d.field, d.observed) for d in found} == {("place", "shelf"), ("slot", None)}
    assert fields == {"robot_place": "shelf", "robot_slot": None, "set_place": True}
    undocked = Observation(robot="r1", pose=Pose(x=0, y=0), place="table", has_slots=True)
    found, _, fields = compare(undocked, robot, {})
    assert [(d.field, d.memory, d.observed) for d in found] == [("slot", 2, None)]
