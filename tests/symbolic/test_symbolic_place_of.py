"""Where a robot is, symbolically: the place memory records it docked (or mounted) at,
and nothing else. A robot stopped next to a place is not at it (the skills reach only
from a docked slot), however close it stands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.symbolic.state import symbolic_state
from robo_os.symbolic.vocabulary import place_of


@dataclass(frozen=True)
class World:
    robots: Mapping[str, RobotState]
    places: Mapping[str, PlaceState] = field(
        default_factory=lambda: {
            "counter": PlaceState(name="counter", pose=Pose(x=2.0, y=0.0), size=(0.6, 1.6, 0.9)),
            "table": PlaceState(name="table", pose=Pose(x=-2.0, y=0.0)),
        }
    )
    objects: Mapping[str, ObjectState] = field(default_factory=dict)


def world(**robots: RobotState) -> World:
    return World(robots=robots)


@pytest.mark.parametrize("gap", [0.0, 0.3, 0.9, 1.3])
def test_a_robot_near_a_place_is_not_at_it(gap: float) -> None:
    """Even standing on the place's centre (gap 0) or its edge, undocked is nowhere."""
    mm = RobotState(id="mm1", embodiment="mm", pose=Pose(x=2.0 - gap, y=0.1), place=None)
    w = world(mm1=mm)
    assert place_of(w, "mm1") is None
    assert not any(a[0] == "at" and a[1] == "mm1" for a in symbolic_state(w).atoms)


def test_the_docked_place_is_the_fact_wherever_the_pose_says() -> None:
    # docked at the table (its slot says so), while a stale pose lies next to the counter
    mm = RobotState(id="mm1", embodiment="mm", pose=Pose(x=1.4, y=0.0), place="table", slot=2)
    w = world(mm1=mm)
    assert place_of(w, "mm1") == "table"
    atoms = symbolic_state(w).atoms
    assert ("at", "mm1", "table") in atoms and ("at", "mm1", "counter") not in atoms


def test_a_fixed_arm_is_at_its_mount_and_every_place_it_reaches() -> None:
    arm = RobotState(
        id="arm1",
        embodiment="fixed_arm",
        pose=Pose(x=2.0, y=0.0),
        place="counter",
        reach=("counter", "table"),
    )
    w = world(arm1=arm)
    assert place_of(w, "arm1") == "counter"
    atoms = symbolic_state(w).atoms
    assert ("at", "arm1", "counter") in atoms and ("at", "arm1", "table") in atoms


def test_no_record_no_place() -> None:
    assert place_of(world(), "ghost") is None
