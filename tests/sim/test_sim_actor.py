"""The world as a Ray actor: robots drive, grasp, look and get cancelled through
`RayWorldClient`, several at once."""

from __future__ import annotations

import asyncio
import uuid

import ray
from robo_os_memory.models import Pose

from robo_os.settings import SimSettings
from robo_os.sim import RayWorldClient, SimRobot, start_world_actor
from robo_os.skill.context import CancelToken
from robo_os.skill.parts import MotionOutcome
from robo_os.testing import decode_png

from .sim_scenes import WAIT_S, household


async def test_world_actor_serves_several_robots(ray_runtime: object) -> None:
    fleet = household()
    # Paced to the wall clock: how far a robot gets between two of the test's reads
    # must not depend on how fast this machine happens to step the physics.
    handle = start_world_actor(
        fleet, SimSettings(real_time=True), name=f"sim-world-{uuid.uuid4().hex[:8]}"
    )
    try:
        client = RayWorldClient(handle)
        robots = {r.id: SimRobot(r, client) for r in fleet.robots}
        for robot in robots.values():
            await robot.connect()
        carrier, arm, mm1 = robots["carrier1"], robots["arm1"], robots["mm1"]
        assert carrier.base and arm.arm and mm1.base and arm.camera
        poses: list[Pose] = []

        async def on_pose(pose: Pose) -> None:
            poses.append(pose)

        drive, pick = await asyncio.wait_for(
            asyncio.gather(
                carrier.base.move_to("kitchen_counter", on_pose=on_pose, progress_interval_s=0.02),
                arm.arm.pick("cup"),
            ),
            WAIT_S,
        )
        assert drive.ok and pick.ok, (drive, pick)
        assert poses and await carrier.base.place() == "kitchen_counter"
        assert await arm.gripper.holding() == "cup"  # type: ignore[union-attr]
        assert (await client.object_info("cup")).held_by == "arm1"

        cancel = CancelToken()
        start = await mm1.pose()
        moved = asyncio.Event()

        async def report(pose: Pose) -> None:
            if pose.distance_to(start) > 0.2:
                moved.set()

        going = asyncio.create_task(
            mm1.base.move_to("sink", cancel=cancel, on_pose=report, progress_interval_s=0.03)
        )
        await asyncio.wait_for(moved.wait(), WAIT_S)
        cancel.cancel()
        result = await asyncio.wait_for(going, WAIT_S)
        assert result.outcome == MotionOutcome.cancelled
        assert (await client.robot_info("mm1")).busy == ()

        image = await arm.camera.capture("kitchen_counter")
        width, height, _ = decode_png(image.png)
        assert (width, height) == (320, 240) and "apple" in image.visible
    finally:
        await handle.close.remote()
        ray.kill(handle)
