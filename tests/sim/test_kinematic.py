"""The kinematic world: motion timing, reach, grasp and place as state changes, scale."""

from __future__ import annotations

import math

from robo_os_memory.models import Pose

from robo_os.fleet import FleetConfig, RobotConfig, load_fleet
from robo_os.settings import SimSettings
from robo_os.sim.engines import build_world
from robo_os.sim.kinematic import KinematicWorld
from robo_os.sim.models import Navigate, Pick, Place
from robo_os.skill.parts import MotionOutcome


def _world() -> KinematicWorld:
    world = build_world(load_fleet(None), SimSettings(engine="kinematic"))
    assert isinstance(world, KinematicWorld)
    return world


def test_a_drive_of_d_metres_takes_d_over_v_seconds() -> None:
    world = _world()
    start = world.robot_pose("mm1")
    d = 1.5
    goal = Pose(
        x=start.x + d * math.cos(start.yaw), y=start.y + d * math.sin(start.yaw), yaw=start.yaw
    )
    mid = world.start("mm1", Navigate(pose=goal))
    speed = world.robots["mm1"].body.speed
    world.advance(d / speed - 0.01)
    assert world.result(mid) is None
    world.advance(0.02)
    result = world.result(mid)
    assert result is not None and result.outcome == MotionOutcome.done
    assert world.robot_pose("mm1").distance_to(goal) < 1e-6


def test_pick_out_of_reach_is_refused_and_in_reach_holds_then_places() -> None:
    world = _world()
    far = world.run_until_done(world.start("mm1", Pick(object="apple")))
    assert far.outcome == MotionOutcome.unreachable
    assert world.reaches("arm1", "apple")
    assert world.run_until_done(world.start("arm1", Pick(object="apple"))).ok
    assert world.object_info("apple").held_by == "arm1"
    placed = world.run_until_done(
        world.start("arm1", Place(object="apple", target="kitchen_counter"))
    )
    assert placed.ok and world.object_info("apple").on == "kitchen_counter"
    assert world.robot_info("arm1").holding is None


def test_a_thousand_robots_build() -> None:
    base = load_fleet(None)
    robots = [
        RobotConfig(id=f"r{i:04d}", embodiment="carrier", at="dining_table") for i in range(1000)
    ]
    fleet = FleetConfig.model_validate(
        {**base.model_dump(), "robots": [r.model_dump() for r in robots]}
    )
    world = KinematicWorld(fleet, SimSettings(engine="kinematic"))
    poses = world.poses()
    assert len(poses) == 1000
    docked = [r for r in world.robots.values() if r.slot is not None]
    assert 0 < len(docked) <= len(world.places["dining_table"].slots)


def test_a_blocked_drive_stops_part_way_where_its_pace_took_it() -> None:
    from robo_os.settings import FaultSettings

    settings = SimSettings(engine="kinematic", faults=FaultSettings(blocked_path=1.0))
    world = build_world(load_fleet(None), settings)
    assert isinstance(world, KinematicWorld)
    start = world.robot_pose("mm1")
    d = 4.0
    goal = Pose(
        x=start.x + d * math.cos(start.yaw), y=start.y + d * math.sin(start.yaw), yaw=start.yaw
    )
    mid = world.start("mm1", Navigate(pose=goal))
    speed = world.robots["mm1"].body.speed
    world.advance(d / speed)
    result = world.result(mid)
    assert result is not None and result.outcome == MotionOutcome.collision
    stopped = world.robot_pose("mm1")
    travelled = stopped.distance_to(start)
    # stopped after 0.3-1.5 s of a 4 s drive: part of the way, on the line to the goal
    assert 0.2 * speed <= travelled <= 1.6 * speed, travelled
    assert stopped.distance_to(goal) > d / 2
