"""A call cut short because its agent stops (the stack shuts down) is not that call's
answer: the agent of the next run, sent the same call id by the resumed brain, runs it
again; a call cancelled on request while the agent runs stays cancelled."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from robo_os_memory import Memory

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.contracts import ErrorCode, SkillCall, SkillResult
from robo_os.settings import AgentSettings
from robo_os.skill import SkillContext, SkillRegistry, skill
from robo_os.skill.invoke import INFRASTRUCTURE
from robo_os.testing import FakeRobot

RUNS: Counter[str] = Counter()
STARTED: dict[str, asyncio.Event] = {}


@skill(capabilities={"manipulate"}, timeout_s=10)
async def long_task(ctx: SkillContext, key: str) -> SkillResult:
    """Run until cancelled.

    Args:
        key: Counts the runs.
    """
    RUNS[key] += 1
    STARTED.setdefault(key, asyncio.Event()).set()
    await ctx.cancel.wait()
    return SkillResult.failure(ErrorCode.cancelled, ctx.cancel.reason or "cancelled")


def _agent(robot: FakeRobot, memory: Memory) -> CerebellumAgent:
    return CerebellumAgent(
        robot, memory, SkillRegistry([long_task]), settings=AgentSettings(reconcile="off")
    )


async def test_a_call_its_agent_stopping_cut_short_runs_again_on_the_next_agent(
    memory: Memory,
) -> None:
    robot_id = f"r-{uuid.uuid4().hex[:6]}"
    key, cancelled = uuid.uuid4().hex, uuid.uuid4().hex
    first = _agent(FakeRobot(robot_id, capabilities={"manipulate"}), memory)
    await first.start()
    # one call cancelled on request: its answer, kept
    c0 = SkillCall(
        call_id=f"c-{cancelled}", robot=robot_id, skill="long_task", args={"key": cancelled}
    )
    run0 = asyncio.create_task(first.run(c0))
    await asyncio.wait_for(STARTED.setdefault(cancelled, asyncio.Event()).wait(), 10)
    assert await first.cancel(c0.call_id, "the user cancelled the task")
    kept = await asyncio.wait_for(run0, 10)
    assert kept.error == ErrorCode.cancelled and INFRASTRUCTURE not in kept.data
    # one call running when the agent stops
    c1 = SkillCall(call_id=f"c-{key}", robot=robot_id, skill="long_task", args={"key": key})
    running = asyncio.create_task(first.run(c1))
    await asyncio.wait_for(STARTED.setdefault(key, asyncio.Event()).wait(), 10)
    await first.stop()
    cut = await asyncio.wait_for(running, 10)
    assert cut.error == ErrorCode.cancelled and cut.data.get(INFRASTRUCTURE) is True

    second = _agent(FakeRobot(robot_id, capabilities={"manipulate"}), memory)
    await second.start()
    try:
        STARTED[key].clear()
        again = asyncio.create_task(second.run(c1))  # the resumed brain re-sends the call
        # it runs, not replayed from the first agent's stop
        await asyncio.wait_for(STARTED[key].wait(), 10)
        assert RUNS[key] == 2
        assert await second.cancel(c1.call_id, "done with the test")
        assert (await asyncio.wait_for(again, 10)).error == ErrorCode.cancelled
        assert await second.run(c0) == kept and RUNS[cancelled] == 1  # an answer stands
    finally:
        await second.stop()
