"""Traffic in the world: a base stops for a robot in its way instead of driving into it,
waits for a moving one, and after a contact that still happens backs off before it
reports, so that a new path can start from free floor. Slots named by the caller."""

from __future__ import annotations

import itertools
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

MakeWorld = Callable[..., SimWorld]


def _table(name: str, x: float, y: float, **attrs: object) -> dict[str, object]:
    return {
        "name": name,
        "kind": "table",
        "pose": {"x": x, "y": y},
        "size": [0.8, 0.8, 0.75],
        "attrs": attrs,
    }


def lane() -> FleetConfig:
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 7.0],
                "places": [
                    _table("west", -3.0, 0.0),
                    _table("east", 3.0, 0.0, slots=1),
                    _table("north", 0.0, 2.9),
                ],
                "objects": [],
            },
            "robots": [
                {"id": "r1", "embodiment": "carrier", "at": "west"},
                {"id": "r2", "embodiment": "carrier", "at": "north"},
            ],
        }
    )


def touching(world: SimWorld, a: str, b: str) -> bool:
    return any(
        p.getContactPoints(bodyA=x, bodyB=y, physicsClientId=world.client)
        for x in world.robots[a].bodies
        for y in world.robots[b].bodies
    )


def park_in_the_way(world: SimWorld, motion: str) -> None:
    """Right after r1's path was planned (with r2 far off at its table), drive r2 onto
    r1's lane by hand (its base's pivot, 1 cm a step), where it then stands."""
    rig = world.robots["r2"]
    assert rig.base is not None
    start, goal = world.robot_pose("r2"), (0.3, 0.0)
    n = 220
    for k in range(1, n + 1):
        f = k / n
        x, y = start.x + (goal[0] - start.x) * f, start.y + (goal[1] - start.y) * f
        rig.base.command(world.client, Frame2(x, y, start.yaw))
        world.step(1)
    world.step(60)
    assert world.result(motion) is None
    assert world.robot_pose("r2").distance_to(Pose(x=goal[0], y=goal[1])) < 0.05


def test_a_robot_standing_in_the_way_stops_the_base_before_contact(make_world: MakeWorld) -> None:
    world = make_world(lane())
    motion = world.start("r1", Navigate(pose=Pose(x=2.0, y=0.0)))
    park_in_the_way(world, motion)
    ever_touched = False
    while world.result(motion) is None:
        world.step(2)
        ever_touched |= touching(world, "r1", "r2")
        assert world.sim_time < 60
    result = world.result(motion)
    assert result is not None and result.outcome == MotionOutcome.collision, result
    assert result.data == {"robot": "r2", "contact": False}
    assert "standing in the way" in result.message
    assert not ever_touched
    # and a new path goes around it
    again = world.run_until_done(world.start("r1", Navigate(pose=Pose(x=2.0, y=0.0))))
    assert again.outcome == MotionOutcome.done, again
    assert world.robot_pose("r1").distance_to(Pose(x=2.0, y=0.0)) < 0.15


def test_after_a_contact_the_base_backs_off_then_reports_it(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(lane())
    monkeypatch.setattr(TrafficNavigate, "_ahead", lambda self, world: None)  # blind to robots
    motion = world.start("r1", Navigate(pose=Pose(x=2.0, y=0.0)))
    park_in_the_way(world, motion)
    contact_gap: float | None = None
    while world.result(motion) is None:
        world.step(1)
        if contact_gap is None and touching(world, "r1", "r2"):
            contact_gap = world.robot_pose("r1").distance_to(world.robot_pose("r2"))
        assert world.sim_time < 60
    result = world.result(motion)
    assert result is not None and result.outcome == MotionOutcome.collision, result
    assert result.data.get("robot") == "r2" and "contact with r2" in result.message
    assert contact_gap is not None
    world.step(30)
    gap = world.robot_pose("r1").distance_to(world.robot_pose("r2"))
    assert gap > contact_gap + 0.1  # it backed away before reporting
    assert not touching(world, "r1", "r2")


def test_a_caller_names_the_slot_and_an_occupied_one_is_refused(make_world: MakeWorld) -> None:
    world = make_world(lane())
    assert [s.index for s in world.slots("r1", "east")] == [0]  # `slots: 1`
    assert len(world.slots("r1", "west")) > 1
    bad = world.run_until_done(world.start("r1", Navigate(target="east", slot=5)))
    assert bad.outcome == MotionOutcome.unreachable and "slot 5" in bad.message
    first = world.run_until_done(world.start("r1", Navigate(target="east", slot=0)))
    assert first.outcome == MotionOutcome.done and first.data["slot"] == 0, first
    assert world.robot_info("r1").slot == 0 and world.robot_info("r1").place == "east"
    taken = world.run_until_done(world.start("r2", Navigate(target="east", slot=0)))
    assert taken.outcome == MotionOutcome.held_by_other and taken.data["robot"] == "r1"
    assert world.robot_info("r2").place == "north"


def one_gap_wall() -> FleetConfig:
    """`crossing()` with a wall of tables across it, leaving one gap at x = 0."""
    fleet = crossing()
    places = [
        *fleet.scene.places,
        _table("wall_w", -2.4, 0.9) | {"size": [3.4, 0.4, 0.75]},
        _table("wall_e", 2.4, 0.9) | {"size": [3.4, 0.4, 0.75]},
    ]
    return FleetConfig.model_validate(
        {**fleet.model_dump(), "scene": {**fleet.scene.model_dump(), "places": places}}
    )


def crossing() -> FleetConfig:
    """r1 drives west to east along y = 0; r2 goes from the north table to the south
    one, straight across r1's way unless it passes behind r1."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [10.0, 8.0],
                "places": [
                    _table("west", -4.0, 0.0),
                    _table("east", 4.0, 0.0),
                    _table("north", 0.0, 3.0),
                    _table("south", 0.0, -3.0),
                ],
                "objects": [],
            },
            "robots": [
                {"id": "r1", "embodiment": "carrier", "at": "west"},
                {"id": "r2", "embodiment": "carrier", "at": "north"},
            ],
        }
    )


def _route_gap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """The least distance between points sampled every 5 cm along two polylines."""

    def points(route: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out = []
        for (x0, y0), (x1, y1) in itertools.pairwise(route):
            n = max(1, int(math.dist((x0, y0), (x1, y1)) / 0.05))
            out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(n + 1)]
        return out

    return min(math.dist(p_, q) for p_ in points(a) for q in points(b))


def test_a_new_route_keeps_out_of_the_route_another_robot_drives(make_world: MakeWorld) -> None:
    world = make_world(crossing())
    first = world.start("r1", Navigate(target="east"))
    while world.robot_pose("r1").x < -1.0:  # r1 well under way east
        world.step(1)
        assert world.result(first) is None
    r1 = world.base_motion("r1")
    assert isinstance(r1, TrafficNavigate)
    reserved = r1.remaining_route()
    second = world.start("r2", Navigate(target="south"))
    r2 = world.base_motion("r2")
    assert isinstance(r2, TrafficNavigate)
    planned = [r2.legs[0].start, *(leg.end for leg in r2.legs)]
    room = 2 * world.robots["r1"].base.radius  # type: ignore[union-attr]
    assert _route_gap(planned[1:-2], reserved) >= room - 0.05  # open floor: clear of r1's way
    crossed = [x for (x, y), (_, y1) in itertools.pairwise(planned) if y * y1 <= 0]
    assert crossed and max(crossed) < world.robot_pose("r1").x  # it passes behind r1
    contact = False
    while world.result(first) is None or world.result(second) is None:
        world.step(1)
        contact = contact or touching(world, "r1", "r2")
    assert not contact
    assert world.result(first).outcome == MotionOutcome.done  # type: ignore[union-attr]
    assert world.result(second).outcome == MotionOutcome.done  # type: ignore[union-attr]


def test_with_no_way_around_a_route_crosses_it_and_waits(make_world: MakeWorld) -> None:
    """A wall of tables leaves one gap, and r1 drives through it: r2 cannot keep out of
    r1's way, so it plans across it and the traffic rule makes it wait, with no contact."""
    world = make_world(one_gap_wall())
    first = world.start("r2", Navigate(target="south"))  # through the gap at x = 0
    world.step(30)
    second = world.start("r1", Navigate(target="north"))
    contact = False
    while world.result(first) is None or world.result(second) is None:
        world.step(1)
        contact = contact or touching(world, "r1", "r2")
        assert world.sim_time < 120
    assert not contact
    results = [world.result(first), world.result(second)]
    assert [r.outcome if r else None for r in results] == [MotionOutcome.done] * 2, results
