"""The sim robot driver over an in-process world: parts per embodiment, motions with
pose callbacks, cancellation and deadlines; the driver registry; seeding memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from robo_os_memory import Memory
from robo_os_memory.models import Pose

from robo_os.cerebellum.drivers import DriverRegistry, build_robot, default_drivers
from robo_os.errors import ConfigError
from robo_os.sim import LocalWorldClient, SimRobot, SimWorld, seed_memory
from robo_os.skill.context import CancelToken
from robo_os.skill.parts import Arm, Base, Camera, Gripper, MotionOutcome, Tray, parts_of
from robo_os.skill.robot import Robot

from .sim_scenes import WAIT_S, corridor, household

MakeWorld = Callable[..., SimWorld]


async def test_parts_follow_the_embodiment(make_world: MakeWorld) -> None:
    world = make_world(household())
    client = LocalWorldClient(world)
    robots = {r.id: build_robot(r, world=client) for r in world.fleet.robots}
    for robot in robots.values():
        assert isinstance(robot, Robot) and isinstance(robot, SimRobot)
        await robot.connect()
    arm1, carrier1, mm1 = (parts_of(robots[n]) for n in ("arm1", "carrier1", "mm1"))
    assert (
        isinstance(arm1.arm, Arm)
        and isinstance(arm1.gripper, Gripper)
        and isinstance(arm1.camera, Camera)
    )
    assert arm1.base is None and arm1.tray is None
    assert isinstance(carrier1.base, Base) and isinstance(carrier1.tray, Tray)
    assert carrier1.arm is None and carrier1.camera is None
    assert mm1.base and mm1.arm and mm1.camera and mm1.tray is None
    assert robots["carrier1"].capabilities == {"navigate", "carry"}
    # what an agent reads to register a robot that has no base to ask
    assert (robots["arm1"].place, robots["arm1"].reach) == ("kitchen_counter", ("kitchen_counter",))  # type: ignore[attr-defined]
    assert (robots["mm1"].place, robots["mm1"].reach) == (None, ())  # type: ignore[attr-defined]
    state = await robots["arm1"].state()  # type: ignore[attr-defined]
    assert (state.place, state.reach, state.holding) == (
        "kitchen_counter",
        ("kitchen_counter",),
        None,
    )
    assert await arm1.arm.reaches("apple") and not await arm1.arm.reaches("mug")


async def test_move_to_reports_poses_and_arrives(make_world: MakeWorld) -> None:
    world = make_world(corridor())
    robot = SimRobot(world.fleet.robots[0], LocalWorldClient(world))
    assert robot.base is not None
    seen: list[Pose] = []

    async def on_pose(pose: Pose) -> None:
        seen.append(pose)

    # reports are paced by the wall clock; this world runs many times faster than that
    result = await robot.base.move_to("east", on_pose=on_pose, progress_interval_s=0.01)
    assert result.ok, result
    assert len(seen) >= 3
    assert seen[0].x < seen[-1].x  # the reports follow it eastwards
    assert await robot.base.place() == "east"
    assert result.pose is not None and result.pose.x > 1.5


async def test_cancel_stops_the_robot_promptly(make_world: MakeWorld) -> None:
    world = make_world(corridor(), real_time=True)  # mid-drive whatever the machine's speed
    robot = SimRobot(world.fleet.robots[0], LocalWorldClient(world))
    assert robot.base is not None
    cancel = CancelToken()
    moving = asyncio.Event()

    async def on_pose(pose: Pose) -> None:
        if pose.x > -1.5:
            moving.set()

    task = asyncio.create_task(
        robot.base.move_to("east", cancel=cancel, on_pose=on_pose, progress_interval_s=0.02)
    )
    await asyncio.wait_for(moving.wait(), WAIT_S)
    t0 = time.monotonic()
    cancel.cancel("operator said stop")
    result = await asyncio.wait_for(task, WAIT_S)
    assert time.monotonic() - t0 < 1.0
    assert result.outcome == MotionOutcome.cancelled and result.message == "operator said stop"
    stopped = await robot.pose()
    world.step(240)  # a second of physics later it has not moved on
    assert (await robot.pose()).distance_to(stopped) < 0.05
    assert await robot.base.place() is None


async def test_deadline_stops_the_motion_with_timeout(make_world: MakeWorld) -> None:
    world = make_world(corridor(), real_time=True)  # the drive takes seconds of wall time
    robot = SimRobot(world.fleet.robots[0], LocalWorldClient(world))
    assert robot.base is not None
    start = await robot.pose()
    result = await robot.base.move_to("east", deadline=time.monotonic() + 0.5)
    assert result.outcome == MotionOutcome.timeout
    assert (await robot.pose()).distance_to(start) < 1.0
    assert world.idle  # nothing left moving


def test_driver_registry() -> None:
    fleet = corridor()
    cfg = fleet.robots[0]
    with pytest.raises(ConfigError, match="no simulated world"):
        build_robot(cfg)
    imported = build_robot(cfg.model_copy(update={"driver": "tests.sim.sim_scenes:ImportedDriver"}))
    assert isinstance(imported, Robot) and imported.id == "carrier1"
    with pytest.raises(ConfigError, match="does not implement"):
        build_robot(cfg.model_copy(update={"driver": "tests.sim.sim_scenes:NotADriver"}))
    with pytest.raises(ConfigError, match="cannot import"):
        build_robot(cfg.model_copy(update={"driver": "no_such_module:Driver"}))
    with pytest.raises(ConfigError, match="did you mean 'sim'"):
        build_robot(cfg.model_copy(update={"driver": "simm"}))
    registry = DriverRegistry()
    registry.register("fake", lambda config, resources: imported)
    assert registry.build(cfg.model_copy(update={"driver": "fake"})) is imported
    assert default_drivers().names == ["sim"]


async def test_seed_memory_writes_the_world(make_world: MakeWorld, memory: Memory) -> None:
    world = make_world(household())
    await seed_memory(memory, LocalWorldClient(world))
    robots, objects, places = await memory.snapshot()
    assert {pl.name for pl in places} == {
        "kitchen_counter",
        "dining_table",
        "shelf",
        "sink",
        "cabinet",
    }
    assert next(pl for pl in places if pl.name == "cabinet").attrs["open"] is False
    on = {o.name: o.on for o in objects}
    assert on == {
        "apple": "kitchen_counter",
        "cup": "kitchen_counter",
        "mug": "shelf",
        "book": "shelf",
        "bowl": "dining_table",
        "sponge": "sink",
    }
    apple = next(o for o in objects if o.name == "apple")
    assert apple.pose is not None and abs(apple.pose.x - world.object_pose("apple").x) < 1e-6
    by_id = {r.id: r for r in robots}
    assert by_id["arm1"].reach == ("kitchen_counter",) and by_id["arm1"].place == "kitchen_counter"
    assert by_id["carrier1"].place == "dining_table" and by_id["carrier1"].reach == ()
    assert set(by_id["mm1"].capabilities) == {"navigate", "manipulate", "camera"}
    assert await memory.place_contents("kitchen_counter") == ["apple", "cup"]


async def test_a_caller_going_away_leaves_nothing_moving(make_world: MakeWorld) -> None:
    world = make_world(corridor(), real_time=True)  # mid-drive whatever the machine's speed
    robot = SimRobot(world.fleet.robots[0], LocalWorldClient(world))
    assert robot.base is not None
    reported = asyncio.Event()

    async def on_pose(pose: Pose) -> None:
        reported.set()

    task = asyncio.create_task(
        robot.base.move_to("east", on_pose=on_pose, progress_interval_s=0.01)
    )
    await asyncio.wait_for(reported.wait(), WAIT_S)
    task.cancel()  # e.g. the skill hard-cancelled after its grace period
    with pytest.raises(asyncio.CancelledError):
        await task
    world.step(1)  # a drive takes seconds: only a cancelled motion ends on the next step
    assert world.idle
    stopped = await robot.pose()
    world.step(240)
    assert (await robot.pose()).distance_to(stopped) < 0.05
