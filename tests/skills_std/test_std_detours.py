"""The navigation skills' answer to another robot in the way: after the driver backed off
they wait for that robot to move (its next change in memory, or a growing back-off) and
plan a new path, a bounded number of times; never an immediate retry loop. Furniture in
the way is not retried. (A scripted docking base: the decisions, not the physics.)"""

from __future__ import annotations

import asyncio
import time

from robo_os_memory import Memory, PlaceState, Pose, RobotState
from robo_os_skills import navigate_to, navigate_to_pose
from robo_os_skills.navigation import MAX_DETOURS

from robo_os.contracts import ErrorCode
from robo_os.skill.context import CancelToken
from robo_os.skill.parts import DockingBase, DockSlot, MotionOutcome, MotionResult, PoseCallback
from robo_os.testing import FakeRobot, run_skill


class JammedBase:
    """A docking base whose first `jams` drives are stopped by `by` (a robot or not)."""

    def __init__(self, jams: int, by: str = "r2") -> None:
        self.jams, self.by = jams, by
        self.calls: list[tuple[str, int | None]] = []
        self.called = asyncio.Event()
        self._pose = Pose(x=0.0, y=0.0)
        self._place: str | None = None
        self._slot: int | None = None

    async def pose(self) -> Pose:
        return self._pose

    async def place(self) -> str | None:
        return self._place

    async def slot(self) -> int | None:
        return self._slot

    async def slots(self, place: str) -> list[DockSlot]:
        return [DockSlot(index=0)]

    async def move_to(
        self,
        goal: str | Pose,
        *,
        slot: int | None = None,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        on_pose: PoseCallback | None = None,
        progress_interval_s: float = 0.15,
    ) -> MotionResult:
        self.calls.append((goal if isinstance(goal, str) else "pose", slot))
        self.called.set()
        if self.jams > 0:
            self.jams -= 1
            return MotionResult(
                outcome=MotionOutcome.collision,
                message=f"stopped by contact with {self.by}",
                pose=self._pose,
                data={"robot": self.by} if self.by.startswith("r") else {},
            )
        if isinstance(goal, str):
            self._place, self._slot, self._pose = goal, slot, Pose(x=2.0, y=0.0)
        else:
            self._place, self._slot, self._pose = None, None, goal
        return MotionResult(outcome=MotionOutcome.done, pose=self._pose)


async def fleet(memory: Memory, base: JammedBase) -> FakeRobot:
    await memory.upsert_place(PlaceState(name="goal", pose=Pose(x=2.5, y=0.0)))
    for rid in ("r1", "r2"):
        await memory.register_robot(RobotState(id=rid, embodiment="carrier", pose=Pose(x=1, y=1)))
    robot = FakeRobot("r1", parts={"base"})
    robot.base = base  # type: ignore[assignment]
    assert isinstance(robot.base, DockingBase)
    return robot


async def keep_r2_moving(memory: Memory, base: JammedBase) -> None:
    """Each time r1 is stopped, r2 moves on (a pose change in memory)."""
    n = 0
    while True:
        await base.called.wait()
        base.called.clear()
        n += 1
        await memory.update_robot("r2", pose=Pose(x=1.0 + 0.1 * n, y=1.0))


async def test_a_robot_in_the_way_gets_a_detour_once_it_moves(memory: Memory) -> None:
    base = JammedBase(jams=2)
    robot = await fleet(memory, base)
    mover = asyncio.ensure_future(keep_r2_moving(memory, base))
    try:
        t0 = time.monotonic()
        result = await run_skill(navigate_to_pose, {"x": 1.0, "y": 2.0}, robot=robot, memory=memory)
        elapsed = time.monotonic() - t0
    finally:
        mover.cancel()
    assert result.ok, result
    assert len(base.calls) == 3 and result.data["detours"] == 2
    # woken by r2's moves, not by the back-off timers (0.5 s, then 1 s)
    assert elapsed < 0.5, elapsed


async def test_detours_are_bounded_and_then_fail(memory: Memory) -> None:
    base = JammedBase(jams=100)
    robot = await fleet(memory, base)
    mover = asyncio.ensure_future(keep_r2_moving(memory, base))
    try:
        result = await run_skill(navigate_to_pose, {"x": 1.0, "y": 2.0}, robot=robot, memory=memory)
    finally:
        mover.cancel()
    assert result.error == ErrorCode.collision, result
    assert len(base.calls) == MAX_DETOURS + 1
    assert result.data["detours"] == MAX_DETOURS


async def test_a_robot_that_does_not_move_is_waited_for_with_a_backoff(memory: Memory) -> None:
    base = JammedBase(jams=1)
    robot = await fleet(memory, base)
    t0 = time.monotonic()
    result = await run_skill(navigate_to, {"target": "goal"}, robot=robot, memory=memory)
    assert result.ok, result
    assert time.monotonic() - t0 >= 0.45  # one back-off, not an immediate retry
    assert base.calls == [("goal", 0), ("goal", 0)]  # the same reserved slot both times
    record = await memory.get_robot("r1")
    assert record is not None and (record.place, record.slot) == ("goal", 0)


async def test_furniture_in_the_way_is_not_retried(memory: Memory) -> None:
    base = JammedBase(jams=1, by="wall")
    robot = await fleet(memory, base)
    result = await run_skill(navigate_to_pose, {"x": 1.0, "y": 2.0}, robot=robot, memory=memory)
    assert result.error == ErrorCode.collision and "wall" in result.message
    assert len(base.calls) == 1
