"""Unwedging: a base that starts a drive touching a table or another robot slides free
first (away from the contact, to the planner's free floor) and then drives; a drive
stopped by a contact backs away from it, so the next drive starts from free floor."""

from __future__ import annotations

import math
from collections.abc import Callable

import pybullet as p
import pytest
from robo_os_memory.models import Pose

from robo_os.fleet import FleetConfig
from robo_os.sim import Navigate, SimWorld
from robo_os.sim.geometry import Frame2
from robo_os.sim.navigation import TrafficNavigate
from robo_os.skill.parts import MotionOutcome

from .test_sim_traffic import _table, lane, one_gap_wall, park_in_the_way, touching

MakeWorld = Callable[..., SimWorld]


def room(embodiment: str = "carrier") -> FleetConfig:
    """r1 (a carrier or a mobile manipulator) at the west table, r2 at the east one and a
    table in the middle of the floor."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 7.0],
                "places": [
                    _table("west", -3.0, 0.0),
                    _table("east", 3.0, 0.0),
                    _table("mid", 0.0, 0.0),
                ],
                "objects": [],
            },
            "robots": [
                {"id": "r1", "embodiment": embodiment, "at": "west"},
                {"id": "r2", "embodiment": "carrier", "at": "east"},
            ],
        }
    )


def press(world: SimWorld, robot: str, towards: tuple[float, float], yaw: float) -> str:
    """Slide the robot's base by hand (its pivot, 0.5 cm a step, heading `yaw`) towards a
    point until it touches something; it is left there, pressing. Returns what it touches."""
    rig = world.robots[robot]
    assert rig.base is not None
    start = world.robot_pose(robot)
    n = round(math.dist((start.x, start.y), towards) / 0.005)
    hit: str | None = None
    for k in range(1, n + 1):
        f = k / n
        x, y = start.x + (towards[0] - start.x) * f, start.y + (towards[1] - start.y) * f
        rig.base.command(world.client, Frame2(x, y, yaw))
        world.step(1)
        hit = hit or world.unexpected_contact(rig)
        if hit is not None and k % 4 == 0:  # 2 cm into it at most
            break
    assert hit is not None, f"{robot} never touched anything on its way to {towards}"
    world.step(30)
    return hit


def to_open_floor(world: SimWorld, robot: str, x: float, y: float) -> None:
    done = world.run_until_done(world.start(robot, Navigate(pose=Pose(x=x, y=y, yaw=0.0))))
    assert done.outcome == MotionOutcome.done, done


def assert_docked_at(world: SimWorld, robot: str, place: str) -> None:
    info = world.robot_info(robot)
    assert info.place == place and info.slot is not None, info
    rig = world.robots[robot]
    assert rig.slot is not None and rig.base is not None
    dock = rig.slot.dock_pose(rig.base.half_length)
    assert world.robot_pose(robot).distance_to(Pose(x=dock.x, y=dock.y)) < 0.05


@pytest.mark.parametrize(
    ("embodiment", "yaw"),
    [("carrier", math.pi), ("carrier", math.pi / 2), ("mobile_manipulator", math.pi)],
    ids=["carrier-backed-into-it", "carrier-side-on", "manipulator-backed-into-it"],
)
def test_a_robot_touching_a_table_drives_away_and_docks_at_the_goal(
    make_world: MakeWorld, embodiment: str, yaw: float
) -> None:
    world = make_world(room(embodiment))
    to_open_floor(world, "r1", -1.3, -0.2)
    world.step(1)
    world.robots["r1"].base.command(world.client, Frame2(-1.3, -0.2, yaw))  # type: ignore[union-attr]
    world.step(60)
    # backed (or sidled) into the middle table: reversing along its heading would push it
    # further in, which is what wedged robots for good
    assert press(world, "r1", (0.0, -0.2), yaw) == "mid"
    result = world.run_until_done(world.start("r1", Navigate(target="east")))
    assert result.outcome == MotionOutcome.done, result
    assert_docked_at(world, "r1", "east")
    back = world.run_until_done(world.start("r1", Navigate(target="west")))
    assert back.outcome == MotionOutcome.done, back


def test_two_robots_touching_each_drive_away(make_world: MakeWorld) -> None:
    world = make_world(room())
    to_open_floor(world, "r1", -1.3, 1.5)
    to_open_floor(world, "r2", 1.3, 1.5)
    assert press(world, "r1", (1.3, 1.5), 0.0) == "r2"  # r1 pressed against a still r2
    assert touching(world, "r1", "r2")
    result = world.run_until_done(world.start("r1", Navigate(target="west")))
    assert result.outcome == MotionOutcome.done, result
    assert_docked_at(world, "r1", "west")
    # the one pressed against drives away too
    to_open_floor(world, "r1", -1.3, 1.5)
    assert press(world, "r1", (1.3, 1.5), 0.0) == "r2"
    other = world.run_until_done(world.start("r2", Navigate(target="east")))
    assert other.outcome == MotionOutcome.done, other
    assert_docked_at(world, "r2", "east")


def test_a_drive_stopped_by_contact_leaves_a_pose_the_next_drive_starts_from(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(lane())
    monkeypatch.setattr(TrafficNavigate, "_ahead", lambda self, world: None)  # blind to robots
    motion = world.start("r1", Navigate(pose=Pose(x=2.0, y=0.0)))
    park_in_the_way(world, motion)
    result = world.run_until_done(motion)
    assert result.outcome == MotionOutcome.collision, result
    assert result.message == "stopped by contact with r2" and result.data["robot"] == "r2"
    assert not touching(world, "r1", "r2")  # backed away before it reported
    again = world.run_until_done(world.start("r1", Navigate(target="east")))
    assert again.outcome == MotionOutcome.done, again
    assert_docked_at(world, "r1", "east")


def test_through_one_gap_from_both_sides_at_once_both_arrive(make_world: MakeWorld) -> None:
    """A wall of tables with one gap; r1 and r2 start at once through it from both sides.
    One waits for the other; where they meet head-on, the lower name (r1) waits and r2
    gives up at once ("coming the other way"); its next drive (as its skill would start
    it) goes round: both arrive, never touching."""
    world = make_world(one_gap_wall())
    to_open_floor(world, "r1", -1.5, -1.6)
    to_open_floor(world, "r2", -1.5, 1.9)
    first = world.start("r1", Navigate(pose=Pose(x=1.5, y=1.9)))
    second = world.start("r2", Navigate(pose=Pose(x=1.5, y=-1.6)))
    gave_way: list[str] = []
    contact = False
    while world.result(first) is None or world.result(second) is None:
        world.step(1)
        contact = contact or touching(world, "r1", "r2")
        r2 = world.result(second)
        if r2 is not None and r2.outcome == MotionOutcome.collision:
            gave_way.append(r2.message)
            assert len(gave_way) < 5, gave_way
            world.step(25)  # its skill's detour back-off
            second = world.start("r2", Navigate(pose=Pose(x=1.5, y=-1.6)))
        assert world.sim_time < 120
    assert not contact
    r1 = world.result(first)
    assert r1 is not None and r1.outcome == MotionOutcome.done, r1
    assert world.result(second).outcome == MotionOutcome.done  # type: ignore[union-attr]
    assert all("coming the other way" in m for m in gave_way), gave_way  # r1 never gave up
    assert world.robot_pose("r1").distance_to(Pose(x=1.5, y=1.9)) < 0.1
    assert world.robot_pose("r2").distance_to(Pose(x=1.5, y=-1.6)) < 0.1


def test_an_arm_left_out_is_stowed_before_the_base_drives(make_world: MakeWorld) -> None:
    """A blocked reach leaves the arm out, past the footprint the planner keeps clear:
    the drive tucks it in first, and only then moves the base."""
    world = make_world(room("mobile_manipulator"))
    arm = world.robots["r1"].arm
    assert arm is not None
    out = list(arm.stow)
    out[1] += 0.8
    arm.commanded = out
    world.step(240)

    def joints() -> list[float]:
        states = p.getJointStates(
            arm.body, list(arm.model.arm_joints), physicsClientId=world.client
        )
        return [s[0] for s in states]

    assert max(abs(a - b) for a, b in zip(joints(), arm.stow, strict=True)) > 0.5
    start = world.robot_pose("r1")
    motion = world.start("r1", Navigate(target="east"))
    while max(abs(a - b) for a, b in zip(joints(), arm.stow, strict=True)) > 0.05:
        world.step(1)
        assert world.robot_pose("r1").distance_to(start) < 0.01, "the base moved first"
        assert world.sim_time < 60
    result = world.run_until_done(motion)
    assert result.outcome == MotionOutcome.done, result
    assert_docked_at(world, "r1", "east")
    assert max(abs(a - b) for a, b in zip(joints(), arm.stow, strict=True)) < 0.05


def _drop_on_the_floor(world: SimWorld, obj: str, x: float, y: float) -> None:
    p.resetBasePositionAndOrientation(
        world.object_body(obj), (x, y, 0.05), (0.0, 0.0, 0.0, 1.0), physicsClientId=world.client
    )
    world.step(240)  # it falls the few centimetres and comes to rest
    assert world.support_of(obj) is None


@pytest.mark.parametrize("embodiment", ["carrier", "mobile_manipulator"])
def test_what_fell_on_the_floor_is_driven_around_and_slid_away_from(
    make_world: MakeWorld, embodiment: str
) -> None:
    """A cup lying on the floor in the way, then pressed against: neither ends a drive
    "stopped by contact with cup" (before, every later drive of a robot that had touched
    an object on the floor failed so)."""
    fleet = room(embodiment).model_dump()
    fleet["scene"]["objects"] = [{"name": "cup", "type": "cup", "at": "mid"}]
    world = make_world(FleetConfig.model_validate(fleet))
    to_open_floor(world, "r1", -1.6, 1.2)
    _drop_on_the_floor(world, "cup", -0.9, 1.2)  # straight ahead on its way east
    result = world.run_until_done(world.start("r1", Navigate(pose=Pose(x=1.4, y=1.2, yaw=0.0))))
    assert result.outcome == MotionOutcome.done, result
    _drop_on_the_floor(world, "cup", 0.8, 1.2)
    rig = world.robots["r1"]
    assert rig.base is not None
    assert press(world, "r1", (0.0, 1.2), math.pi) == "cup"
    result = world.run_until_done(world.start("r1", Navigate(target="west")))
    assert result.outcome == MotionOutcome.done, result
    assert_docked_at(world, "r1", "west")
