"""pick_from_floor in physics: mm1 drives next to a mug lying on the floor and lifts it
(pybullet and memory agree); an object that is not on the floor, or one held by another
robot, is refused with a clear error; a fixed arm cannot pick from the floor; the
symbolic model reads a loose object as `loose(O)`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pybullet as p
from robo_os_memory import Pose
from robo_os_skills import pick, pick_from_floor

from robo_os.contracts import ErrorCode
from robo_os.symbolic.state import symbolic_state

from .std_world import StdWorld

FLOOR = Pose(x=-1.0, y=-0.3, z=0.045, yaw=0.4)


async def _mug_on_the_floor(std: StdWorld) -> None:
    """The mug knocked off the shelf onto open floor; memory told so (as reconciliation
    records it)."""
    body = std.world.object_body("mug")
    quat = p.getQuaternionFromEuler((0.0, 0.0, FLOOR.yaw))
    p.resetBasePositionAndOrientation(
        body, (FLOOR.x, FLOOR.y, FLOOR.z), quat, physicsClientId=std.world.client
    )
    std.world.step(240)
    assert std.world.support_of("mug") is None
    await std.memory.transfer("mug", to_on=None, to_holder=None, pose=std.world.object_pose("mug"))


async def test_mm1_picks_the_mug_off_the_floor(std: StdWorld) -> None:
    await _mug_on_the_floor(std)
    world = await _world_view(std)
    assert ("loose", "mug") in symbolic_state(world).atoms
    assert ("loose", "cup") not in symbolic_state(world).atoms

    picked = await std.run("mm1", pick_from_floor, object="mug")
    assert picked.ok, picked
    assert std.world.holder_of("mug") == "mm1"
    assert std.world.object_pose("mug").z > 0.3  # lifted off the floor
    mug = await std.memory.get_object("mug")
    mm1 = await std.memory.get_robot("mm1")
    assert mug is not None and mug.held_by == "mm1" and mug.on is None
    assert mm1 is not None and mm1.holding == "mug" and mm1.place is None
    assert await std.memory.lease_of("mug") is None


async def test_floor_pick_refusals(std: StdWorld) -> None:
    on_shelf = await std.run("mm1", pick_from_floor, object="mug")
    assert on_shelf.error == ErrorCode.precondition_failed
    assert on_shelf.message == "mug is not on the floor (on shelf)", on_shelf
    nothing = await std.run("mm1", pick_from_floor, object="teapot")
    assert nothing.error == ErrorCode.not_found, nothing

    await _mug_on_the_floor(std)
    # a fixed arm's workspace is its counter: the floor is out of its reach
    fixed = await std.run("arm1", pick, object="mug")
    assert fixed.error == ErrorCode.unreachable and "on the floor" in fixed.message, fixed
    assert std.world.support_of("mug") is None and std.world.holder_of("mug") is None


async def _world_view(std: StdWorld) -> Any:
    """Memory as the symbolic model reads it (robots, objects, places by name)."""
    robots = {r.id: r for r in await std.memory.list_robots()}
    objects = {o.name: o for o in await std.memory.list_objects()}
    places = {pl.name: pl for pl in await std.memory.list_places()}
    return SimpleNamespace(robots=robots, objects=objects, places=places)
