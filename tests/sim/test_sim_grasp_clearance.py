"""Grasps that keep the open gripper clear of walls and neighbours: the hand is about
21 cm wide across its fingers, so an object close to a sink's wall, a shelf's back
panel or another object is grasped turned so that the hand fits (a cube a quarter turn,
a round object any way round); where no grasp fits (a sink's corner) the pick is refused
before the arm moves, naming what is in the way; and a put-down never leaves an object
where it could not be picked up again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from robo_os.fleet import FleetConfig
from robo_os.sim import Navigate, Pick, Place, SimWorld, Unload
from robo_os.skill.parts import MotionOutcome

MakeWorld = Callable[..., SimWorld]


def basin_scene(objects: list[dict[str, Any]], *, yaw: float = 0.0) -> FleetConfig:
    """A sink and a table, a mobile manipulator; `objects` in the sink or on the table."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [6.0, 6.0],
                "places": [
                    {"name": "basin", "kind": "sink", "pose": {"x": 1.0, "y": 0.0, "yaw": yaw},
                     "size": [0.56, 0.56, 0.75]},
                    {"name": "bench", "kind": "table", "pose": {"x": -1.2, "y": 0.0},
                     "size": [0.8, 1.0, 0.75]},
                ],
                "objects": objects,
            },
            "robots": [{"id": "mm1", "embodiment": "mobile_manipulator", "at": "basin"}],
        }
    )  # fmt: skip


def _run(world: SimWorld, robot: str, request: object) -> Any:
    return world.run_until_done(world.start(robot, request))  # type: ignore[arg-type]


# the basin's inner walls stand 0.2 m from its centre: each offset lies 6 cm from one of
# them, where the hand across that wall does not fit and turned it does
NEAR_A_WALL = [(0.14, 0.0), (-0.14, 0.0), (0.0, 0.14), (0.0, -0.14)]


@pytest.mark.parametrize("kind", ["cube", "apple", "cup"])
@pytest.mark.parametrize("offset", NEAR_A_WALL)
def test_an_object_beside_a_wall_is_picked_turned_to_fit(
    make_world: MakeWorld, kind: str, offset: tuple[float, float]
) -> None:
    world = make_world(basin_scene([{"name": "thing", "type": kind, "at": "basin", "offset": list(offset)}]))
    result = _run(world, "mm1", Pick(object="thing"))
    assert result.outcome == MotionOutcome.done, result
    arm = world.robots["mm1"].arm
    assert arm is not None and arm.held is not None and arm.held[0] == "thing"


def test_in_a_corner_the_pick_is_refused_before_moving_naming_the_wall(
    make_world: MakeWorld,
) -> None:
    world = make_world(basin_scene([{"name": "c", "type": "cube", "at": "basin", "offset": [0.14, 0.14]}]))
    arm = world.robots["mm1"].arm
    assert arm is not None
    before = list(arm.commanded)
    result = _run(world, "mm1", Pick(object="c"))
    assert result.outcome == MotionOutcome.unreachable
    assert "cannot be grasped where it lies" in result.message and "basin" in result.message
    assert list(arm.commanded) == before and arm.held is None  # nothing moved


def test_a_neighbour_is_not_where_the_hand_goes(make_world: MakeWorld) -> None:
    """Two cubes side by side 9 cm apart on a table: each is grasped across the
    direction the other is not in."""
    world = make_world(
        basin_scene(
            [
                {"name": "left", "type": "cube", "at": "bench", "offset": [0.0, 0.045]},
                {"name": "right", "type": "cube", "at": "bench", "offset": [0.0, -0.045]},
            ]
        )
    )
    assert _run(world, "mm1", Navigate(target="bench")).outcome == MotionOutcome.done
    before = world.object_pose("right")
    result = _run(world, "mm1", Pick(object="left"))
    assert result.outcome == MotionOutcome.done, result
    after = world.object_pose("right")
    assert abs(after.x - before.x) < 0.01 and abs(after.y - before.y) < 0.01  # not pushed


def test_whatever_is_put_into_the_basin_can_be_picked_up_again(make_world: MakeWorld) -> None:
    """Five objects put into a small basin one after another, each then picked up again
    and put back: every spot the put-down chose leaves room for the hand."""
    names = ["a", "b", "c", "d", "e"]
    kinds = ["cube", "apple", "cup", "cube", "sponge"]
    objects = [
        {"name": n, "type": k, "at": "bench", "offset": [0.0, -0.36 + 0.18 * i]}
        for i, (n, k) in enumerate(zip(names, kinds, strict=True))
    ]
    world = make_world(basin_scene(objects))
    for n in names:
        assert _run(world, "mm1", Navigate(target="bench")).outcome == MotionOutcome.done
        assert _run(world, "mm1", Pick(object=n)).outcome == MotionOutcome.done, n
        assert _run(world, "mm1", Navigate(target="basin")).outcome == MotionOutcome.done
        placed = _run(world, "mm1", Place(object=n, target="basin"))
        if placed.outcome != MotionOutcome.done:  # full: a clear refusal, not a bad spot
            assert placed.outcome == MotionOutcome.unreachable, placed
            assert "no free spot" in placed.message or "run into" in placed.message, placed
            assert _run(world, "mm1", Navigate(target="bench")).outcome == MotionOutcome.done
            assert _run(world, "mm1", Place(object=n, target="bench")).outcome == MotionOutcome.done
            break
        assert world.support_of(n) == "basin"
    inside = [n for n in names if world.support_of(n) == "basin"]
    assert len(inside) >= 3
    assert _run(world, "mm1", Navigate(target="basin")).outcome == MotionOutcome.done
    for n in inside:
        result = _run(world, "mm1", Pick(object=n))
        assert result.outcome == MotionOutcome.done, (n, result)
        assert _run(world, "mm1", Place(object=n, target="basin")).outcome == MotionOutcome.done


def test_a_place_with_no_room_left_says_it_is_full(make_world: MakeWorld) -> None:
    """A stool-sized table with a bowl on it: the cube finds no free spot anywhere on it,
    from any side (`data.full`: a replan puts nothing more on it), unlike a spot out of
    one robot's reach."""
    fleet = basin_scene([{"name": "cube", "type": "cube", "at": "bench"}])
    scene = fleet.scene.model_dump()
    scene["places"].append(
        {"name": "stool", "kind": "table", "pose": {"x": 0.0, "y": 2.0}, "size": [0.3, 0.3, 0.75]}
    )
    scene["objects"].append({"name": "bowl", "type": "bowl", "at": "stool"})
    world = make_world(FleetConfig.model_validate({**fleet.model_dump(), "scene": scene}))
    assert _run(world, "mm1", Navigate(target="bench")).outcome == MotionOutcome.done
    assert _run(world, "mm1", Pick(object="cube")).outcome == MotionOutcome.done
    assert _run(world, "mm1", Navigate(target="stool")).outcome == MotionOutcome.done
    result = _run(world, "mm1", Place(object="cube", target="stool"))
    assert result.outcome == MotionOutcome.unreachable
    assert "stool has no free spot left for cube" in result.message and result.data == {"full": "stool"}


def test_an_unload_onto_another_object_is_refused_before_the_pusher_moves(
    make_world: MakeWorld,
) -> None:
    """A carrier docked at a small table with a bowl in the middle: pushing the cup off
    its tray would drop it on the bowl. Refused naming the bowl, the cup still on the
    tray; at the same table without the bowl the same unload lands it there."""

    def scene(with_bowl: bool) -> FleetConfig:
        stool_objects = [{"name": "bowl", "type": "bowl", "at": "stool"}] if with_bowl else []
        return FleetConfig.model_validate(
            {
                "scene": {
                    "size": [6.0, 6.0],
                    "places": [
                        {"name": "counter", "kind": "counter", "pose": {"x": -1.5, "y": 0.0},
                         "size": [0.6, 1.2, 0.75]},
                        {"name": "stool", "kind": "table", "pose": {"x": 1.5, "y": 0.0},
                         "size": [0.4, 0.4, 0.75]},
                    ],
                    "objects": [
                        {"name": "cup", "type": "cup", "at": "counter", "offset": [0.15, 0.3]},
                        *stool_objects,
                    ],
                },
                "robots": [
                    {"id": "arm1", "embodiment": "fixed_arm", "at": "counter"},
                    {"id": "carrier1", "embodiment": "carrier", "at": "counter"},
                ],
            }
        )  # fmt: skip

    for with_bowl in (True, False):
        world = make_world(scene(with_bowl))
        assert _run(world, "arm1", Pick(object="cup")).outcome == MotionOutcome.done
        assert _run(world, "arm1", Place(object="cup", target="carrier1")).outcome == MotionOutcome.done
        assert _run(world, "carrier1", Navigate(target="stool")).outcome == MotionOutcome.done
        result = _run(world, "carrier1", Unload(object="cup"))
        if with_bowl:
            assert result.outcome == MotionOutcome.unreachable, result
            assert "bowl lies where cup would land on stool" in result.message
            assert world.support_of("cup") == "carrier1"
        else:
            assert result.outcome == MotionOutcome.done, result
            assert world.support_of("cup") == "stool"
