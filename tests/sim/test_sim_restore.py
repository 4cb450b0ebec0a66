"""A world rebuilt from the shared memory (a restart): objects in grippers, on trays, in
receptacles, on the floor and at places where memory has them, robots docked or standing
where memory has them; records it cannot honour fall back and are reported, never fatal."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.fleet import FleetConfig
from robo_os.sim import SimWorld, WorldMemory
from robo_os.sim.models import Navigate, Place, Unload

MakeWorld = Callable[..., SimWorld]


def _scene(*more_robots: dict[str, Any]) -> FleetConfig:
    """Two tables and a counter with a fixed arm; a mobile manipulator and a carrier."""
    places = [
        {"name": "a", "kind": "table", "pose": {"x": -1.2, "y": 0.0}, "size": [0.8, 0.8, 0.75]},
        {"name": "b", "kind": "table", "pose": {"x": 1.2, "y": 0.0}, "size": [0.8, 0.8, 0.75]},
        {"name": "c", "kind": "counter", "pose": {"x": 0.0, "y": 2.0}, "size": [1.2, 0.6, 0.75]},
    ]
    objects = [
        {"name": "cup", "type": "cup", "at": "a", "offset": [0.1, 0.1]},
        {"name": "bowl", "type": "bowl", "at": "a", "offset": [-0.1, -0.15]},
        {"name": "apple", "type": "apple", "at": "b", "offset": [0.0, 0.0]},
        {"name": "book", "type": "book", "at": "c", "offset": [0.0, 0.1]},
        {"name": "cube", "type": "cube", "at": "b", "offset": [0.1, 0.2]},
        {"name": "sponge", "type": "sponge", "at": "b", "offset": [-0.1, -0.2]},
    ]
    robots = [
        {"id": "mm1", "embodiment": "mobile_manipulator", "at": "a"},
        {"id": "carrier1", "embodiment": "carrier", "at": "b"},
        {"id": "arm1", "embodiment": "fixed_arm", "at": "c"},
        *more_robots,
    ]
    return FleetConfig.model_validate(
        {
            "scene": {"size": [6.0, 6.0], "places": places, "objects": objects},
            "robots": robots,
        }
    )


def _far_from_the_scene() -> WorldMemory:
    """A memory in which everything moved since the scene file's start."""
    return WorldMemory(
        objects=(
            ObjectState(name="cup", type="cup", held_by="mm1"),
            ObjectState(name="apple", type="apple", on="carrier1"),
            ObjectState(name="sponge", type="sponge", pose=Pose(x=0.2, y=-1.5, z=0.02, yaw=0.3)),
            ObjectState(name="bowl", type="bowl", on="b", pose=Pose(x=1.1, y=-0.1, z=0.8)),
            ObjectState(name="cube", type="cube", on="bowl"),
            ObjectState(name="book", type="book", held_by="arm1"),
        ),
        robots=(
            RobotState(id="mm1", embodiment="mobile_manipulator", place="b", slot=1),
            RobotState(id="carrier1", embodiment="carrier", place="a", slot=0),
        ),
    )


def test_a_world_rebuilt_from_memory_puts_everything_where_memory_has_it(
    make_world: MakeWorld,
) -> None:
    world = make_world(_scene(), memory=_far_from_the_scene())
    assert world.restore_notes == ()
    # in the grippers: held by the hand (a constraint), reported as held
    assert world.holder_of("cup") == "mm1" and world.robot_info("mm1").holding == "cup"
    assert world.holder_of("book") == "arm1" and world.robot_info("arm1").holding == "book"
    # on the carrier's tray, in the bowl, at a place at its pose, on the floor at its pose
    assert world.robot_info("carrier1").tray == ("apple",)
    assert world.object_info("cube").on == "bowl"
    bowl = world.object_info("bowl")
    assert bowl.on == "b" and bowl.pose.distance_to(Pose(x=1.1, y=-0.1)) < 0.01
    sponge = world.observed_object("sponge")
    assert sponge.on is None and sponge.held_by is None
    assert sponge.pose is not None and sponge.pose.distance_to(Pose(x=0.2, y=-1.5)) < 0.01
    # robots docked where memory has them, not where the fleet file starts them
    mm1, carrier = world.robot_info("mm1"), world.robot_info("carrier1")
    assert (mm1.place, mm1.slot) == ("b", 1) and (carrier.place, carrier.slot) == ("a", 0)
    assert [r for r in world.robots] == ["mm1", "carrier1", "arm1"]  # the fleet's order
    # what memory did not mention is where the scene file puts it (nothing here)


async def test_what_a_rebuilt_world_holds_and_carries_works_in_physics(
    make_world: MakeWorld,
) -> None:
    world = make_world(_scene(), memory=_far_from_the_scene())
    start = world.object_pose("cup")
    drive = world.run_until_done(world.start("mm1", Navigate(target="a")))
    assert drive.ok, drive
    # the cup went with mm1 across the room, still in its gripper
    assert world.holder_of("cup") == "mm1"
    assert world.object_pose("cup").distance_to(start) > 2.0
    placed = world.run_until_done(world.start("mm1", Place(object="cup", target="a")))
    assert placed.ok and world.object_info("cup").on == "a", placed
    placed = world.run_until_done(world.start("arm1", Place(object="book", target="c")))
    assert placed.ok and world.object_info("book").on == "c", placed
    # the carrier, docked at a, pushes its load off onto it
    unloaded = world.run_until_done(world.start("carrier1", Unload(object="apple")))
    assert unloaded.ok and world.object_info("apple").on == "a", unloaded


def test_an_empty_memory_builds_the_scene_file_exactly(make_world: MakeWorld) -> None:
    fresh = make_world(_scene())
    rebuilt = make_world(_scene(), memory=WorldMemory())
    for name in fresh.objects:
        assert fresh.object_pose(name) == rebuilt.object_pose(name), name
    # a memory that says what the scene file says rebuilds (about) the same world
    same = WorldMemory(
        objects=tuple(
            ObjectState(name=o.name, type=o.type, pose=o.pose, on=o.on)
            for o in fresh.describe().objects
        ),
        robots=tuple(
            RobotState(id=r.id, embodiment=r.embodiment, place=r.place, slot=r.slot, pose=r.pose)
            for r in fresh.describe().robots
        ),
    )
    again = make_world(_scene(), memory=same)
    assert again.restore_notes == ()
    for name in fresh.objects:
        assert again.object_info(name).on == fresh.object_info(name).on, name
        assert again.object_pose(name).distance_to(fresh.object_pose(name)) < 0.01, name
    for robot in fresh.robots:
        a, b = again.robot_info(robot), fresh.robot_info(robot)
        assert (a.place, a.slot) == (b.place, b.slot) and a.pose.distance_to(b.pose) < 0.01


def test_records_that_cannot_be_honoured_fall_back_and_are_reported(
    make_world: MakeWorld,
) -> None:
    memory = WorldMemory(
        objects=(
            ObjectState(name="cup", type="cup", on="attic", pose=Pose(x=0.0, y=-2.5)),
            ObjectState(name="apple", type="apple", held_by="ghost"),
            # inside table b's footprint: a body built there would be inside the furniture
            ObjectState(name="sponge", type="sponge", pose=Pose(x=1.2, y=0.0, z=0.02)),
            ObjectState(name="book", type="book", held_by="mm1"),
            ObjectState(name="cube", type="cube", held_by="mm1"),  # the gripper is full
            ObjectState(name="bowl", type="bowl", on="carrier1"),  # onto the tray instead
            ObjectState(name="stray", type="mug", on="attic"),  # memory only, nowhere to go
            ObjectState(name="spare", type="apple", on="c", pose=Pose(x=0.3, y=2.0)),
        ),
        robots=(
            RobotState(id="mm1", embodiment="mobile_manipulator", place="garage"),
            # standing inside table b (a stale pose): kept where the fleet file starts it
            RobotState(id="carrier2", embodiment="carrier", pose=Pose(x=1.2, y=0.1)),
            RobotState(id="carrier1", embodiment="carrier", place="b", slot=99),
        ),
    )
    carrier2 = {"id": "carrier2", "embodiment": "carrier", "at": "c"}
    world = make_world(_scene(carrier2), memory=memory)
    notes = "\n".join(world.restore_notes)
    scene = make_world(_scene(carrier2))
    # fallen back to where the scene file puts them
    for name in ("cup", "apple", "sponge", "cube"):
        assert world.object_info(name).on == scene.object_info(name).on, (name, notes)
    assert world.holder_of("book") == "mm1"
    assert world.robot_info("carrier1").tray == ("bowl",)
    assert "stray" not in world.objects and "attic" in notes and "stray" in notes
    assert "ghost" in notes and "inside furniture" in notes and "already holds book" in notes
    # an object only memory has is built where memory has it
    spare = world.object_info("spare")
    assert spare.on == "c" and spare.pose.distance_to(Pose(x=0.3, y=2.0)) < 0.01
    # a robot at a place that is gone stays where the fleet file starts it; a slot that is
    # gone is replaced by another one at the same place
    assert world.robot_info("mm1").place == "a" and "garage" in notes
    assert world.robot_info("carrier1").place == "b" and "slot 99" in notes
    assert world.robot_info("carrier2").place == "c" and "inside b" in notes


def test_an_object_memory_has_where_another_now_lies_is_moved_beside_it(
    make_world: MakeWorld,
) -> None:
    scene = make_world(_scene())
    cube_spot = scene.object_pose("cube")
    # the apple was put where the scene file starts the cube, which memory does not know
    memory = WorldMemory(
        objects=(ObjectState(name="apple", type="apple", on="b", pose=cube_spot),),
        robots=(RobotState(id="mm1", embodiment="mobile_manipulator", place="a"),),
    )
    world = make_world(_scene(), memory=memory)
    assert world.object_pose("apple").distance_to(cube_spot) < 0.01
    cube = world.object_info("cube")
    assert cube.on == "b" and cube.pose.distance_to(cube_spot) > 0.05


def test_a_drawer_is_rebuilt_open_or_closed_as_memory_recorded_it(make_world: MakeWorld) -> None:
    fleet = FleetConfig.model_validate(
        {
            "scene": {
                "places": [
                    {
                        "name": "cabinet",
                        "kind": "cabinet",
                        "pose": {"x": 0.0, "y": 1.5},
                        "size": [0.8, 0.5, 0.75],
                        "attrs": {"open": False},
                    }
                ],
                "objects": [{"name": "cup", "type": "cup", "at": "cabinet"}],
            },
            "robots": [],
        }
    )
    cabinet = PlaceState(name="cabinet", pose=Pose(x=0.0, y=1.5), attrs={"open": True})
    assert make_world(fleet).drawer_open("cabinet") is False
    memory = WorldMemory(objects=(ObjectState(name="cup", on="cabinet"),), places=(cabinet,))
    world = make_world(fleet, memory=memory)
    assert world.drawer_open("cabinet") is True
    assert world.place_info("cabinet").attrs["open"] is True
    assert math.isclose(world.object_info("cup").pose.x, 0.0, abs_tol=0.05)


@pytest.mark.parametrize("obj", ["cup", "bowl", "apple", "book", "cube", "sponge"])
def test_every_object_type_rebuilt_in_a_gripper_is_carried_and_put_down(
    make_world: MakeWorld, obj: str
) -> None:
    for robot, target in (("mm1", "b"), ("arm1", "c")):
        memory = WorldMemory(objects=(ObjectState(name=obj, held_by=robot),))
        world = make_world(_scene(), memory=memory)
        assert world.holder_of(obj) == robot
        if robot == "mm1":  # through a drive: the grasp holds under the base's accelerations
            assert world.run_until_done(world.start("mm1", Navigate(target=target))).ok
            assert world.holder_of(obj) == "mm1"
        placed = world.run_until_done(world.start(robot, Place(object=obj, target=target)))
        assert placed.ok, (robot, placed)
        assert world.object_info(obj).on == target and world.holder_of(obj) is None
