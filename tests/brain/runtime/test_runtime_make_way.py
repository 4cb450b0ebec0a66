"""Making way: a robot waiting for a place's slots names who holds them (the standard
navigate_to's activity); an idle robot parked there is sent to the nearest other free
place, through the robot monitor, over real memory; a robot a task holds is not."""

from __future__ import annotations

from robo_os_memory import Memory
from robo_os_memory.models import PlaceState, Pose

from robo_os.brain.runtime.make_way import slot_holders

from .runtime_fakes import ScriptedPlanner, plan
from .runtime_support import MakeBrain

WAITING = "navigate_to: waiting for a slot at shelf (slot 0: carrier1, slot 1: carrier1)"


async def _places(memory: Memory) -> None:
    for name, x in (("shelf", 0.0), ("table", 3.0), ("sink", -4.0), ("dock", 2.5)):
        await memory.upsert_place(PlaceState(name=name, kind="table", pose=Pose(x=x, y=0.0)))


def test_the_waiting_activity_names_the_place_and_its_holders() -> None:
    assert slot_holders(WAITING) == ("shelf", ["carrier1"])
    assert slot_holders("navigate_to: waiting for a slot at sink (slot 2: mm2, slot 0: c1)") == (
        "sink",
        ["c1", "mm2"],
    )
    assert slot_holders("navigate_to: driving to shelf") is None


async def test_an_idle_robot_parked_in_the_slots_makes_way(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("mm1", "carrier1", "mm2")
    await _places(memory)
    await memory.update_robot("carrier1", place="shelf", slot=0, pose=Pose(x=0.6, y=0.0))
    await memory.update_robot("mm2", place="dock", slot=0, pose=Pose(x=2.5, y=0.5))
    brain = await make_brain(ScriptedPlanner(plans={}), f)
    await memory.update_robot("mm1", activity=WAITING, progress=0.0)
    call = await f["carrier1"].next_call()
    # the nearest other place nobody is docked at (the dock at 2.5 m has mm2)
    assert call.skill == "navigate_to" and call.args == {"target": "table"}
    assert call.call_id.startswith("make-way/carrier1/")
    job = brain.scheduler.make_way._moving["carrier1"]
    f["carrier1"].finish(call.call_id)
    await job
    assert brain.scheduler.make_way.moved == [("carrier1", "shelf", "table")]
    assert f["mm1"].runs == [] and f["mm2"].runs == []  # nobody else was moved
    # told again while it is still recorded at the shelf: moved once more, never twice at once
    brain.scheduler.make_way.noticed("mm1", WAITING)
    brain.scheduler.make_way.noticed("mm1", WAITING)
    assert len(brain.scheduler.make_way._moving) == 1


async def test_a_robot_a_task_holds_is_not_moved(fleet, make_brain: MakeBrain, memory: Memory) -> None:
    f = await fleet("mm1", "carrier1")
    await _places(memory)
    await memory.update_robot("carrier1", place="shelf", slot=0, pose=Pose(x=0.6, y=0.0))
    brain = await make_brain(ScriptedPlanner(plans={"go": plan(("a", "carrier1", "deliver"))}), f)
    task = await brain.scheduler.submit(instruction="go")
    running = await f["carrier1"].next_call()
    assert running.task_id == task.id or running.call_id.startswith(task.id)
    brain.scheduler.make_way.noticed("mm1", WAITING)
    assert not brain.scheduler.make_way._moving  # its task will move it: nothing sent
    f["carrier1"].finish(running.call_id)
