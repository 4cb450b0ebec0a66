"""The pybullet world on its own: scene, navigation around obstacles, several robots in
one stepping loop, cancellation, grasping, the tray, the drawer, the camera, and the
failures a motion reports. Positions are read back from pybullet."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pybullet as p
import pytest
from robo_os_memory.models import Pose

from robo_os.errors import ConfigError
from robo_os.fleet import FleetConfig
from robo_os.sim import Navigate, Operate, Pick, Place, SimWorld, Unload
from robo_os.skill.parts import MotionOutcome
from robo_os.testing import decode_png

from .sim_scenes import corridor, household

MakeWorld = Callable[..., SimWorld]


def test_household_is_built_at_rest(make_world: MakeWorld) -> None:
    fleet = household()
    world = make_world(fleet)
    for obj in fleet.scene.objects:
        info = world.object_info(obj.name)
        assert info.on == obj.at, (obj.name, info)
        assert info.held_by is None
    for robot in fleet.robots:
        assert world.robot_info(robot.id).place == robot.at
    assert world.robot_info("arm1").reach == ("kitchen_counter",)
    described = world.describe()
    assert {pl.name for pl in described.places if pl.articulated} == {"cabinet"}
    assert next(pl for pl in described.places if pl.name == "cabinet").attrs["open"] is False


def test_same_seed_same_world_other_seed_differs(make_world: MakeWorld) -> None:
    a, b, c = (
        make_world(household(), seed=3),
        make_world(household(), seed=3),
        make_world(household(), seed=4),
    )
    assert a.object_pose("book") == b.object_pose("book")
    assert a.object_pose("book").yaw != c.object_pose("book").yaw


def test_unknown_embodiment_is_a_config_error() -> None:
    fleet = corridor()
    bad = fleet.model_copy(
        update={"robots": [fleet.robots[0].model_copy(update={"embodiment": "carier"})]}
    )
    with pytest.raises(ConfigError, match="did you mean 'carrier'"):
        SimWorld(bad)


def test_base_drives_around_an_obstacle_never_through_it(make_world: MakeWorld) -> None:
    world = make_world(corridor())
    rig = world.robots["carrier1"]
    wall = world.places["wall"].body
    motion = world.start("carrier1", Navigate(target="east"))
    widest = 0.0
    while world.result(motion) is None:
        world.step(4)
        pose = world.robot_pose("carrier1")
        widest = max(widest, abs(pose.y))
        assert not p.getContactPoints(
            bodyA=rig.bodies.copy().pop(), bodyB=wall, physicsClientId=world.client
        )
        assert world.sim_time < 60
    result = world.result(motion)
    assert result is not None and result.outcome == MotionOutcome.done, result
    assert widest > 2.0  # the wall spans |y| < 2: it went round the end
    end = world.robot_pose("carrier1")
    assert end.x > 1.5 and world.robot_info("carrier1").place == "east"
    assert math.cos(end.yaw) > 0.99  # docked facing the table (+x)


def test_unreachable_and_unknown_goals_fail_without_moving(make_world: MakeWorld) -> None:
    world = make_world(corridor())
    before = world.robot_pose("carrier1")
    inside_wall = world.run_until_done(world.start("carrier1", Navigate(pose=Pose(x=0.0, y=0.5))))
    assert inside_wall.outcome == MotionOutcome.unreachable
    nowhere = world.run_until_done(world.start("carrier1", Navigate(target="attic")))
    assert nowhere.outcome == MotionOutcome.not_found
    assert world.robot_pose("carrier1").distance_to(before) < 0.01


def test_two_robots_move_in_one_stepping_loop(make_world: MakeWorld) -> None:
    world = make_world(household())
    a = world.start("carrier1", Navigate(target="kitchen_counter"))
    b = world.start("mm1", Navigate(target="sink"))
    assert set(world.robot_info("carrier1").busy) == {"base"}
    t0 = world.sim_time
    while world.result(a) is None or world.result(b) is None:
        world.step(8)
        assert world.sim_time - t0 < 30
    assert world.result(a).outcome == world.result(b).outcome == MotionOutcome.done  # type: ignore[union-attr]
    assert world.robot_info("carrier1").place == "kitchen_counter"
    assert world.robot_info("mm1").place == "sink"
    # the carrier docked in the slot in front of the fixed arm, within its reach
    assert world.robot_pose("carrier1").distance_to(world.robot_pose("arm1")) < 0.62


def test_cancel_stops_the_base_on_the_next_step(make_world: MakeWorld) -> None:
    world = make_world(household())
    motion = world.start("carrier1", Navigate(target="sink"))
    world.step(480)
    moving = world.robot_pose("carrier1")
    assert world.cancel(motion)
    world.step(1)
    result = world.result(motion)
    assert result is not None and result.outcome == MotionOutcome.cancelled
    world.step(240)
    assert world.robot_pose("carrier1").distance_to(moving) < 0.05
    assert world.robot_info("carrier1").place is None
    assert not world.cancel(motion)  # already over


def test_pick_holds_through_motion_and_place_rests_on_the_surface(make_world: MakeWorld) -> None:
    world = make_world(household())
    start = world.object_pose("cup")
    picked = world.run_until_done(world.start("arm1", Pick(object="cup")))
    assert picked.ok, picked
    held = world.object_pose("cup")
    assert world.holder_of("cup") == "arm1" and world.support_of("cup") is None
    assert held.z > start.z + 0.2  # lifted into the stowed pose, still in the hand
    placed = world.run_until_done(
        world.start("arm1", Place(object="cup", target="kitchen_counter"))
    )
    assert placed.ok and placed.on == "kitchen_counter", placed
    world.step(240)
    rest = world.object_pose("cup")
    assert world.support_of("cup") == "kitchen_counter" and world.holder_of("cup") is None
    assert abs(rest.z - start.z) < 0.01  # upright on the counter's surface
    assert (
        math.hypot(*p.getBaseVelocity(world.object_body("cup"), physicsClientId=world.client)[0])
        < 0.01
    )


def test_motions_fail_with_the_reason(make_world: MakeWorld) -> None:
    world = make_world(household())

    def outcome(robot: str, request: object) -> MotionOutcome:
        return world.run_until_done(world.start(robot, request)).outcome  # type: ignore[arg-type]

    assert outcome("arm1", Pick(object="mug")) == MotionOutcome.unreachable  # on the shelf
    assert outcome("arm1", Pick(object="teapot")) == MotionOutcome.not_found
    assert (
        outcome("arm1", Place(object="cup", target="kitchen_counter"))
        == MotionOutcome.precondition_failed
    )
    assert outcome("carrier1", Pick(object="bowl")) == MotionOutcome.precondition_failed  # no arm
    assert (
        outcome("carrier1", Unload(object="bowl")) == MotionOutcome.precondition_failed
    )  # not on its tray
    assert (
        outcome("arm1", Operate(target="kitchen_counter", open=True))
        == MotionOutcome.precondition_failed
    )
    assert outcome("arm1", Pick(object="apple")) == MotionOutcome.done
    assert outcome("arm1", Pick(object="cup")) == MotionOutcome.precondition_failed  # hand full
    # the carrier is at the dining table: out of the fixed arm's reach
    assert outcome("arm1", Place(object="apple", target="carrier1")) == MotionOutcome.unreachable
    # a mobile manipulator at the counter cannot take what the arm holds
    assert outcome("mm1", Navigate(target="kitchen_counter")) == MotionOutcome.done
    assert outcome("mm1", Pick(object="apple")) == MotionOutcome.held_by_other
    busy = world.start("arm1", Place(object="apple", target="kitchen_counter"))
    assert (
        outcome("arm1", Place(object="apple", target="kitchen_counter"))
        == MotionOutcome.precondition_failed
    )
    assert world.run_until_done(busy).ok


def test_drawer_opens_and_closes(make_world: MakeWorld) -> None:
    world = make_world(household())
    assert world.run_until_done(world.start("mm1", Navigate(target="cabinet"))).ok
    cabinet = world.places["cabinet"]
    assert cabinet.drawer is not None
    opened = world.run_until_done(world.start("mm1", Operate(target="cabinet", open=True)))
    assert opened.ok, opened
    q = p.getJointState(cabinet.body, cabinet.drawer.joint, physicsClientId=world.client)[0]
    assert q > 0.8 * cabinet.drawer.travel
    assert world.place_info("cabinet").attrs["open"] is True
    closed = world.run_until_done(world.start("mm1", Operate(target="cabinet", open=False)))
    assert closed.ok, closed
    assert (
        p.getJointState(cabinet.body, cabinet.drawer.joint, physicsClientId=world.client)[0] < 0.05
    )
    assert world.robot_info("mm1").holding is None


def test_camera_png_and_what_it_sees(make_world: MakeWorld) -> None:
    world = make_world(household(), camera_width=160, camera_height=120)
    image = world.capture("arm1", "kitchen_counter")
    width, height, raw = decode_png(image.png)
    assert (width, height) == (image.width, image.height) == (160, 120)
    assert len(raw) == height * (1 + width * 3)
    assert {"apple", "cup"} <= set(image.visible)
    assert "mug" not in image.visible  # on the shelf, behind the arm's back
    assert {"mug", "book"} <= set(world.capture("mm1", "shelf").visible)
    # the sponge lies in the sink's basin: from a camera across the room the rim hides it
    assert "sponge" not in world.capture("mm1", "sponge").visible


async def test_runner_steps_only_while_something_moves(make_world: MakeWorld) -> None:
    world = make_world(corridor())
    world.ensure_running()
    await asyncio.sleep(0)  # let the runner reach its idle wait
    idle_time = world.sim_time
    for _ in range(20):
        await asyncio.sleep(0)
    assert world.sim_time == idle_time  # idle: waiting on an event, not stepping
    motion = world.start("carrier1", Navigate(pose=Pose(x=-1.6, y=-1.0, yaw=0.0)))
    result = await world.wait(motion, 60.0)
    assert result is not None and result.ok, result
    assert world.sim_time > idle_time


async def test_real_time_paces_to_the_wall_clock(make_world: MakeWorld) -> None:
    world = make_world(corridor(), real_time=True)
    motion = world.start("carrier1", Navigate(target="east"))  # many seconds of driving
    t0, s0 = time.monotonic(), world.sim_time
    assert await world.wait(motion, 0.5) is None  # still driving half a second later
    sim, wall = world.sim_time - s0, time.monotonic() - t0
    assert 0.3 < sim <= wall + 0.05  # kept pace with the clock, never ran ahead of it
    world.cancel(motion)
    result = await world.wait(motion, 5.0)
    assert result is not None and result.outcome == MotionOutcome.cancelled


def test_fleet_without_robots_or_objects_builds(make_world: MakeWorld) -> None:
    fleet = corridor()
    world = make_world(FleetConfig(scene=fleet.scene, robots=[]))
    assert world.describe().robots == ()
