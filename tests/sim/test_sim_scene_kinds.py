"""Scenes that fit real sites: every place kind and object declaration a scene file
offers loads at rest where declared, works in physics (picks, put-downs into declared
receptacles, a carrier loaded by an arm on a pedestal), and memory agrees with the
simulator afterwards; a bad field is refused naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from robo_os_memory import Memory

from robo_os.cerebellum.reconcile import Reconciler, diff_all
from robo_os.errors import ConfigError
from robo_os.fleet import FleetConfig, load_fleet
from robo_os.restart import remembered_world
from robo_os.sim import (
    LocalWorldClient,
    Navigate,
    Pick,
    Place,
    SimRobot,
    SimWorld,
    Unload,
    seed_memory,
)
from robo_os.skill.parts import MotionOutcome

from .sim_scenes import site

MakeWorld = Callable[..., SimWorld]


def _run(world: SimWorld, robot: str, request: object) -> MotionOutcome:
    result = world.run_until_done(world.start(robot, request))  # type: ignore[arg-type]
    assert result.outcome == MotionOutcome.done, (robot, request, result.message)
    return result.outcome


def test_every_kind_loads_at_rest_where_declared(make_world: MakeWorld) -> None:
    world = make_world(site())
    declared = {oc.name: oc.at for oc in world.fleet.scene.objects}
    assert {o: world.support_of(o) for o in world.objects} == declared
    for name, at in declared.items():
        pose, place = world.object_pose(name), world.places[at]
        shape = world.objects[name].shape
        assert abs(pose.z - shape.height / 2 - place.surface_z) < 0.02, name  # resting on it
    assert world.objects["plinth"].receptacle and world.objects["crate1"].receptacle
    assert world.objects["tb"].receptacle and not world.objects["tin1"].receptacle
    sides = {name: {s.side for s in pb.slots} for name, pb in world.places.items()}
    assert sides["rack"] == {"front"}  # a shelf's back panel: no back or end slots
    assert len(world.places["charger"].slots) == 1
    assert sides["desk"] == {"front", "left", "right", "back"}
    arm = world.robot_pose("arm1")
    assert (round(arm.x, 2), round(arm.y, 2), round(arm.z, 2)) == (1.35, 0.0, 0.75)


def test_pick_and_place_on_every_kind_and_into_receptacles(make_world: MakeWorld) -> None:
    world = make_world(site())
    _run(world, "arm1", Pick(object="tin1"))
    _run(world, "arm1", Place(object="tin1", target="crate1"))  # an open crate
    _run(world, "mm1", Pick(object="mug1"))  # a URDF mug
    _run(world, "mm1", Place(object="mug1", target="plinth"))  # on a declared receptacle
    _run(world, "mm1", Navigate(target="zone"))
    _run(world, "mm1", Pick(object="cube1"))  # off the floor zone
    _run(world, "mm1", Navigate(target="rack"))
    _run(world, "mm1", Place(object="cube1", target="tb"))  # into a URDF tray
    world.step(240)
    assert world.support_of("tin1") == "crate1"
    assert world.support_of("mug1") == "plinth"
    assert world.support_of("cube1") == "tb"
    # a receptacle carries what is in it: the crate picked up takes the tin along
    _run(world, "arm1", Pick(object="crate1"))
    lifted = world.object_pose("tin1")
    assert world.holder_of("crate1") == "arm1" and lifted.z > 0.9


def test_a_non_receptacle_and_a_held_receptacle_are_refused(make_world: MakeWorld) -> None:
    world = make_world(site())
    _run(world, "arm1", Pick(object="tin1"))
    refused = world.run_until_done(world.start("arm1", Place(object="tin1", target="ball1")))
    assert refused.outcome == MotionOutcome.precondition_failed
    assert "ball1 is not a receptacle" in refused.message


def test_an_arm_on_a_pedestal_loads_a_carrier_that_delivers(make_world: MakeWorld) -> None:
    world = make_world(site())
    _run(world, "car1", Navigate(target="bench"))
    dock = world.robot_pose("car1")
    pedestal = world.robots["arm1"].footprint
    assert pedestal is not None
    assert abs(dock.y) > pedestal.hy  # docked beside the pedestal, not on it
    _run(world, "arm1", Pick(object="ball1"))
    _run(world, "arm1", Place(object="ball1", target="car1"))
    _run(world, "car1", Navigate(target="desk"))
    _run(world, "car1", Unload(object="ball1"))
    world.step(240)
    assert world.support_of("ball1") == "desk"


async def test_memory_matches_physics_after_work_on_the_new_kinds(
    make_world: MakeWorld, memory: Memory
) -> None:
    world = make_world(site())
    client = LocalWorldClient(world)
    await seed_memory(memory, client)
    assert (await memory.get_object("plinth")).attrs["receptacle"] is True  # type: ignore[union-attr]
    _run(world, "arm1", Pick(object="tin1"))
    _run(world, "arm1", Place(object="tin1", target="crate1"))
    _run(world, "mm1", Pick(object="mug1"))
    _run(world, "mm1", Place(object="mug1", target="plinth"))
    world.step(240)
    observers = {rc.id: SimRobot(rc, client) for rc in world.fleet.robots}
    assert await diff_all(memory, observers, ask_all=True)  # memory does not know yet
    for robot, observer in observers.items():
        await Reconciler(robot, observer, memory).run("test", about=list(world.objects))
    assert await diff_all(memory, observers, ask_all=True) == []
    assert (await memory.get_object("tin1")).on == "crate1"  # type: ignore[union-attr]
    assert (await memory.get_object("mug1")).on == "plinth"  # type: ignore[union-attr]


def _with(**changes: Any) -> dict[str, Any]:
    data = site().model_dump(mode="json")
    for path, value in changes.items():
        node = data
        *head, last = path.split("__")
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return data


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"scene__object_types__tin__size": [0.03]}, "object_types.tin"),
        ({"scene__object_types__tin__shape": "cone"}, "object_types.tin.shape"),
        ({"scene__object_types__ball__urdf": "sphere_small.urdf"}, "object_types.ball"),
        ({"scene__object_types__ball__mass": -1}, "object_types.ball.mass"),
        ({"robots__0__mount__on": "nowhere"}, "robots[arm1].mount.on"),
        ({"robots__0__mount__on": "desk"}, "robots[arm1].mount"),
        ({"scene__places__0__sides": ["top"]}, "places.0.sides"),
        ({"scene__places__0__sides": []}, "places.0"),
    ],
)
def test_a_bad_field_is_refused_naming_it(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError) as err:
        FleetConfig.model_validate(_with(**change))
    text = str(err.value).replace("\n", " ")
    assert named.split(".")[-1] in text, text
    first = named.split(".")[0]
    assert first.split("[")[0] in text, text


def test_a_missing_urdf_is_a_config_error_naming_the_type(make_world: MakeWorld) -> None:
    fleet = FleetConfig.model_validate(_with(scene__object_types__ball={"urdf": "no/such.urdf"}))
    with pytest.raises(ConfigError, match=r"scene\.object_types\.ball\.urdf"):
        make_world(fleet)


def test_the_embedded_scene_still_loads() -> None:
    assert load_fleet().scene.object_types == {}


async def test_a_restart_rebuilds_declared_objects_where_memory_has_them(
    make_world: MakeWorld, memory: Memory
) -> None:
    """The tin put in the crate, the URDF mug on the plinth and the cube held by mm1 are
    rebuilt there from memory (URDF bodies, a declared receptacle, a pedestal arm)."""
    first = make_world(site())
    client = LocalWorldClient(first)
    await seed_memory(memory, client)
    _run(first, "arm1", Pick(object="tin1"))
    _run(first, "arm1", Place(object="tin1", target="crate1"))
    _run(first, "mm1", Pick(object="mug1"))
    _run(first, "mm1", Place(object="mug1", target="plinth"))
    _run(first, "mm1", Navigate(target="zone"))
    _run(first, "mm1", Pick(object="cube1"))
    first.step(240)
    observers = {rc.id: SimRobot(rc, client) for rc in first.fleet.robots}
    for robot, observer in observers.items():
        await Reconciler(robot, observer, memory).run("test", about=list(first.objects))
    remembered = await remembered_world(memory)
    assert remembered is not None
    world = make_world(site(), memory=remembered)
    assert world.restore_notes == ()
    assert world.support_of("tin1") == "crate1" and world.support_of("mug1") == "plinth"
    assert world.holder_of("cube1") == "mm1" and world.robot_info("mm1").place == "zone"
    again = LocalWorldClient(world)
    rebuilt = {rc.id: SimRobot(rc, again) for rc in world.fleet.robots}
    assert await diff_all(memory, rebuilt, ask_all=True) == []
    _run(world, "mm1", Navigate(target="rack"))
    _run(world, "mm1", Place(object="cube1", target="tb"))
    world.step(240)
    assert world.support_of("cube1") == "tb"


def test_a_place_docks_robots_only_at_the_sides_it_names(make_world: MakeWorld) -> None:
    """The desk against a wall (`sides: [front]`): mm1 spawned there and a carrier sent
    there both use front slots; the one front slot taken, the carrier is refused."""
    world = make_world(FleetConfig.model_validate(_with(scene__places__4__sides=["front"])))
    assert {s.side for s in world.places["desk"].slots} == {"front"}
    assert world.robot_info("mm1").place == "desk"
    refused = world.run_until_done(world.start("car1", Navigate(target="desk")))
    assert refused.outcome == MotionOutcome.unreachable
    assert "no free docking slot at desk (occupied by mm1)" in refused.message
    _run(world, "mm1", Navigate(target="zone"))
    _run(world, "car1", Navigate(target="desk"))
    assert world.robots["car1"].slot is world.places["desk"].slots[0]
