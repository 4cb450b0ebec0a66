"""Free arm motion in physics (`Arm.move_tool`, `Arm.follow`): a fixed arm strokes a
square over its counter and the end effector, read from pybullet, reaches every corner;
a mobile manipulator's arm moves from where its base stands; an out-of-reach pose is
refused before anything moves, with the distance in the message; a cancel midway stops
the arm where it is; a bad path is a ValueError."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pybullet as p
import pytest

from robo_os.sim import LocalWorldClient, SimRobot, SimWorld
from robo_os.skill.context import CancelToken
from robo_os.skill.parts import MotionOutcome, ToolPose

from .sim_scenes import WAIT_S, household

MakeWorld = Callable[..., SimWorld]
TOLERANCE_M = 0.012


def _robot(world: SimWorld, robot_id: str) -> SimRobot:
    cfg = next(r for r in world.fleet.robots if r.id == robot_id)
    return SimRobot(cfg, LocalWorldClient(world))


def _tool(world: SimWorld, robot_id: str) -> tuple[float, float, float]:
    """Where the end effector is in the simulation now."""
    arm = world.robots[robot_id].arm
    assert arm is not None
    x, y, z = p.getLinkState(arm.body, arm.model.ee_link, physicsClientId=world.client)[4]
    return (x, y, z)


def _joints(world: SimWorld, robot_id: str) -> list[float]:
    arm = world.robots[robot_id].arm
    assert arm is not None
    states = p.getJointStates(arm.body, list(arm.model.arm_joints), physicsClientId=world.client)
    return [s[0] for s in states]


def _square(world: SimWorld, robot_id: str, side: float = 0.2) -> list[ToolPose]:
    """A closed square 8 cm above the surface, half a metre in front of the arm."""
    rig = world.robots[robot_id]
    assert rig.arm is not None and rig.place is not None
    frame, _ = rig.arm.base_frame(rig.pose(world.client))
    z = world.places[rig.place].surface_z + 0.08
    h = side / 2
    corners = [(0.5 - h, -h), (0.5 + h, -h), (0.5 + h, h), (0.5 - h, h), (0.5 - h, -h)]
    return [ToolPose(x=x, y=y, z=z) for x, y in (frame.to_world(a, b) for a, b in corners)]


async def test_a_fixed_arm_strokes_a_square_through_every_corner(make_world: MakeWorld) -> None:
    world = make_world(household())
    robot = _robot(world, "arm1")
    assert robot.arm is not None
    square = _square(world, "arm1")
    for corner in square:  # corner by corner, each checked in physics
        result = await robot.arm.move_tool(corner)
        assert result.ok, result
        assert math.dist(_tool(world, "arm1"), (corner.x, corner.y, corner.z)) < TOLERANCE_M
    result = await robot.arm.follow(list(reversed(square)), speed=0.2)
    assert result.ok, result
    assert result.data["reached"] == len(square)
    end = square[0]
    assert math.dist(_tool(world, "arm1"), (end.x, end.y, end.z)) < TOLERANCE_M
    assert result.pose is not None and abs(result.pose.z - end.z) < TOLERANCE_M


async def test_a_mobile_manipulator_moves_its_tool_from_where_it_stands(
    make_world: MakeWorld,
) -> None:
    world = make_world(household())
    robot = _robot(world, "mm1")
    assert robot.arm is not None
    (corner, *_) = _square(world, "mm1")
    result = await robot.arm.move_tool(corner)
    assert result.ok, result
    assert math.dist(_tool(world, "mm1"), (corner.x, corner.y, corner.z)) < TOLERANCE_M


async def test_out_of_reach_is_refused_before_anything_moves(make_world: MakeWorld) -> None:
    world = make_world(household())
    robot = _robot(world, "arm1")
    assert robot.arm is not None
    before = _joints(world, "arm1")
    near, *_ = _square(world, "arm1")
    far = ToolPose(x=near.x + 3.0, y=near.y, z=near.z)
    result = await robot.arm.follow([near, far])
    assert result.outcome == MotionOutcome.unreachable
    assert "waypoint 1" in result.message and "beyond its 0.82 m reach" in result.message
    world.step(60)
    assert max(abs(a - b) for a, b in zip(_joints(world, "arm1"), before, strict=True)) < 0.01
    with pytest.raises(ValueError, match="bad path"):
        await robot.arm.follow([])
    with pytest.raises(ValueError, match="bad path"):
        await robot.arm.follow([near], speed=0.0)


async def test_a_cancel_midway_stops_the_arm_where_it_is(make_world: MakeWorld) -> None:
    world = make_world(household(), real_time=True)  # mid-path whatever the machine's speed
    robot = _robot(world, "arm1")
    assert robot.arm is not None
    square = _square(world, "arm1")
    first = (square[0].x, square[0].y, square[0].z)
    cancel = CancelToken()
    task = asyncio.create_task(robot.arm.follow(square, speed=0.1, cancel=cancel))
    deadline = time.monotonic() + WAIT_S

    async def until(near: bool) -> None:  # poll physics, bounded by the deadline
        while (math.dist(_tool(world, "arm1"), first) < TOLERANCE_M) != near:
            assert time.monotonic() < deadline and not task.done(), "not on the square"
            await asyncio.sleep(0.01)

    await until(near=True)
    await until(near=False)  # past the first corner, on the way to the second
    cancel.cancel("operator said stop")
    result = await asyncio.wait_for(task, WAIT_S)
    assert result.outcome == MotionOutcome.cancelled and result.message == "operator said stop"
    assert 1 <= result.data["reached"] < len(square)
    stopped = _tool(world, "arm1")
    last = (square[-2].x, square[-2].y, square[-2].z)
    assert math.dist(stopped, last) > 0.05  # it did not go on round the square
    world.step(240)  # a second of physics later it has not moved on
    assert math.dist(_tool(world, "arm1"), stopped) < 0.01
    assert world.idle
