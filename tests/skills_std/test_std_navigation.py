"""navigate_to in physics: the robot drives and docks, memory follows it while it moves,
bad targets fail, and cancellation stops it mid-way."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from robo_os_memory import EntityKind, Pose
from robo_os_skills import navigate_to, navigate_to_pose

from robo_os.contracts import ErrorCode
from robo_os.skill.context import CancelToken

from .std_world import WAIT_S, StdWorld


async def test_navigate_docks_and_memory_follows(std: StdWorld) -> None:
    progress: list[float] = []

    async def on_progress(fraction: float, message: str) -> None:
        progress.append(fraction)

    t0 = time.time()
    # reports are paced by the wall clock and this world runs many times faster than it
    fast = {"pose_interval_s": 0.01}
    result = await std.run(
        "carrier1", navigate_to, progress=on_progress, extras=fast, target="kitchen_counter"
    )
    assert result.ok, result
    info = std.world.robot_info("carrier1")
    assert info.place == "kitchen_counter"
    assert (
        info.pose.distance_to(std.world.robot_pose("arm1")) < 0.62
    )  # docked where arm1 can load it
    record = await std.memory.get_robot("carrier1")
    assert record is not None and record.place == "kitchen_counter"
    assert record.pose is not None and record.pose.distance_to(info.pose) < 0.02
    poses = [
        c for c in await std.memory.history(EntityKind.robot, "carrier1", t0) if "pose" in c.fields
    ]
    assert len(poses) >= 4  # written while driving, not only at the end
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3
    assert result.changes[0].fields["place"] == "kitchen_counter"


async def test_navigate_to_a_pose_on_the_floor(std: StdWorld) -> None:
    start = std.world.robot_pose("carrier1")
    result = await std.run("carrier1", navigate_to_pose, x=0.0, y=-0.8, yaw=0.0)
    assert result.ok, result
    info = std.world.robot_info("carrier1")
    assert info.pose.distance_to(Pose(x=0.0, y=-0.8)) < 0.15  # it really drove there
    assert info.pose.distance_to(start) > 2.0 and info.place is None
    record = await std.memory.get_robot("carrier1")
    assert record is not None and record.place is None
    assert record.pose is not None and record.pose.distance_to(info.pose) < 0.02
    inside = await std.run("carrier1", navigate_to_pose, x=2.2, y=0.0)  # inside the counter
    assert inside.error == ErrorCode.unreachable, inside


async def test_navigate_fails_for_bad_targets_and_armless_bases(std: StdWorld) -> None:
    unknown = await std.run("carrier1", navigate_to, target="attic")
    assert unknown.error == ErrorCode.not_found
    fixed = await std.run("arm1", navigate_to, target="shelf")
    assert fixed.error == ErrorCode.precondition_failed and "base" in fixed.message
    missing = await std.run("carrier1", navigate_to)
    assert missing.error == ErrorCode.invalid_args
    assert std.world.robot_info("carrier1").place == "dining_table"


async def test_cancel_mid_navigate_stops_the_robot(make_std: Any) -> None:
    std = await make_std(real_time=True)  # mid-drive whatever the machine's speed
    cancel = CancelToken()
    under_way = asyncio.Event()

    async def on_progress(fraction: float, message: str) -> None:
        if fraction > 0.15:
            under_way.set()

    task = asyncio.create_task(
        std.run(
            "mm1",
            navigate_to,
            cancel=cancel,
            progress=on_progress,
            extras={"pose_interval_s": 0.01},
            target="kitchen_counter",
        )
    )
    await asyncio.wait_for(under_way.wait(), WAIT_S)
    t0 = time.monotonic()
    cancel.cancel("stop requested")
    result = await asyncio.wait_for(task, WAIT_S)
    assert time.monotonic() - t0 < 1.0
    assert result.error == ErrorCode.cancelled
    stopped = std.world.robot_pose("mm1")
    std.world.step(240)
    assert std.world.robot_pose("mm1").distance_to(stopped) < 0.05
    assert std.world.robot_info("mm1").place is None
    record = await std.memory.get_robot("mm1")
    assert record is not None and record.place is None
    assert record.pose is not None and record.pose.distance_to(stopped) < 0.05
