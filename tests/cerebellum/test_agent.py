"""The cerebellum agent against real Redis: registration, heartbeat, one call at a time,
idempotency across restarts, progress, cancellation, and calls it cannot run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from robo_os_memory import EntityKind, Memory, RobotStatusValue

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.contracts import ErrorCode, SkillCall
from robo_os.errors import ServiceUnavailableError
from robo_os.settings import AgentSettings
from robo_os.skill import SkillRegistry
from robo_os.testing import FakeRobot

from .agent_skills import AGENT_SKILLS, RUNS, gate, started

WAIT_S = 30.0
CAPS = {"manipulate", "camera"}

MakeAgent = Callable[..., Awaitable[CerebellumAgent]]


@pytest.fixture
async def make_agent(memory: Memory) -> AsyncIterator[MakeAgent]:
    made: list[CerebellumAgent] = []

    async def make(robot: FakeRobot | None = None, **kwargs: Any) -> CerebellumAgent:
        robot = robot or FakeRobot(f"r-{uuid.uuid4().hex[:6]}", capabilities=CAPS, camera=True)
        kwargs.setdefault("settings", AgentSettings(cancel_grace_s=2.0))
        agent = CerebellumAgent(robot, memory, SkillRegistry(AGENT_SKILLS), node="node-a", **kwargs)
        await agent.start()
        made.append(agent)
        return agent

    yield make
    for agent in made:
        await agent.stop()


def call(agent: CerebellumAgent, skill: str, **args: Any) -> SkillCall:
    return SkillCall(
        call_id=f"c-{uuid.uuid4().hex[:8]}",
        robot=agent.id,
        skill=skill,
        args=args,
        timeout_s=args.pop("_timeout", None),
    )


async def arrived(agent: CerebellumAgent, c: SkillCall) -> None:
    """Let a just-created run() task take its first step (it registers the call there)."""
    for _ in range(100):
        if c.call_id in agent.running:
            return
        await asyncio.sleep(0)  # a yield to the loop, not a timed wait
    raise AssertionError(f"{c.call_id} never reached the agent")


def key() -> str:
    return uuid.uuid4().hex[:8]


async def test_start_registers_robot_and_skills(make_agent: MakeAgent, memory: Memory) -> None:
    # the driver does not say where it is: the configured place is recorded
    robot = FakeRobot(f"r-{key()}", capabilities=CAPS, place=None)
    agent = await make_agent(robot, place="counter")
    state = await memory.get_robot(agent.id)
    assert state is not None
    assert state.status == RobotStatusValue.idle
    assert state.capabilities == ("camera", "manipulate")
    assert state.skills == ("glance", "hold", "noop", "progress")  # not `drive`: no base
    assert state.node == "node-a" and state.place == "counter"
    assert state.pose is not None and state.pose.x == 1.0
    specs = (await memory.robot_skills())[agent.id]
    assert set(specs) == set(state.skills)
    assert specs["hold"]["args_schema"]["required"] == ["key"]
    assert await memory.redis.exists(memory.keys.alive(agent.id))


async def test_heartbeat_brings_an_offline_robot_back(
    make_agent: MakeAgent, memory: Memory
) -> None:
    agent = await make_agent(heartbeat_interval_s=0.1)
    async with memory.subscribe(kinds=[EntityKind.robot], names=[agent.id]) as sub:
        await memory.update_robot(agent.id, status=RobotStatusValue.offline)
        async with asyncio.timeout(WAIT_S):
            async for change in sub:
                if change.op == "online":
                    break
    robot = await memory.get_robot(agent.id)
    assert robot is not None and robot.status == RobotStatusValue.idle


async def test_one_call_at_a_time_and_concurrent_skills_beside(
    make_agent: MakeAgent, memory: Memory
) -> None:
    agent = await make_agent()
    a, b = key(), key()
    first = asyncio.create_task(agent.run(call(agent, "hold", key=a)))
    await asyncio.wait_for(started(a).wait(), WAIT_S)
    second = asyncio.create_task(agent.run(call(agent, "hold", key=b)))
    # a concurrent skill runs while `a` holds the robot
    assert (await asyncio.wait_for(agent.run(call(agent, "glance")), WAIT_S)).ok
    await agent.flush()
    robot = await memory.get_robot(agent.id)
    assert robot is not None and robot.status == RobotStatusValue.busy and robot.activity == "hold"
    assert not started(b).is_set()  # waits its turn
    gate(a).set()
    assert (await asyncio.wait_for(first, WAIT_S)).message == f"held {a}"
    await asyncio.wait_for(started(b).wait(), WAIT_S)
    gate(b).set()
    result = await asyncio.wait_for(second, WAIT_S)
    assert result.ok and result.started_at is not None and result.finished_at is not None
    await agent.flush()
    robot = await memory.get_robot(agent.id)
    assert (
        robot is not None
        and robot.status == RobotStatusValue.idle
        and robot.current_subtask is None
    )


async def test_a_queued_call_is_bounded_by_its_deadline(make_agent: MakeAgent) -> None:
    agent = await make_agent()
    a = key()
    first = asyncio.create_task(agent.run(call(agent, "hold", key=a)))
    await asyncio.wait_for(started(a).wait(), WAIT_S)
    late = await asyncio.wait_for(agent.run(call(agent, "noop", _timeout=0.2)), WAIT_S)
    assert late.error == ErrorCode.timeout and "stayed busy" in late.message
    gate(a).set()
    assert (await asyncio.wait_for(first, WAIT_S)).ok


async def test_idempotent_per_call_id_even_across_a_restart(
    make_agent: MakeAgent, memory: Memory
) -> None:
    robot = FakeRobot(f"r-{key()}", capabilities=CAPS)
    agent = await make_agent(robot)
    k = key()
    c = call(agent, "hold", key=k)
    one, two = asyncio.create_task(agent.run(c)), asyncio.create_task(agent.run(c))
    await asyncio.wait_for(started(k).wait(), WAIT_S)
    gate(k).set()
    r1, r2 = await asyncio.wait_for(asyncio.gather(one, two), WAIT_S)
    assert r1 == r2 and RUNS[k] == 1  # awaited, never started twice
    assert await agent.run(c) == r1 and RUNS[k] == 1  # finished: the stored result
    await agent.stop()

    again = await make_agent(FakeRobot(robot.id, capabilities=CAPS))  # a new incarnation
    assert await again.run(c) == r1 and RUNS[k] == 1


async def test_progress_is_written_to_the_robot_record(
    make_agent: MakeAgent, memory: Memory
) -> None:
    agent = await make_agent()
    k = key()
    job = asyncio.create_task(agent.run(call(agent, "progress", key=k)))
    await asyncio.wait_for(started(k).wait(), WAIT_S)
    await agent.flush()
    robot = await memory.get_robot(agent.id)
    assert robot is not None
    assert robot.progress == 0.5 and robot.activity == "progress: half way"
    assert robot.current_subtask is not None and robot.current_subtask.startswith("c-")
    gate(k).set()
    assert (await asyncio.wait_for(job, WAIT_S)).ok


async def test_cancel_running_queued_early_and_unknown_calls(make_agent: MakeAgent) -> None:
    agent = await make_agent()
    a, b = key(), key()
    running, queued = call(agent, "hold", key=a), call(agent, "hold", key=b)
    first = asyncio.create_task(agent.run(running))
    await asyncio.wait_for(started(a).wait(), WAIT_S)
    second = asyncio.create_task(agent.run(queued))
    await arrived(agent, queued)
    assert await agent.cancel(queued.call_id, "not needed any more")
    assert (await asyncio.wait_for(second, WAIT_S)).error == ErrorCode.cancelled
    assert not started(b).is_set()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await agent.cancel(running.call_id, "user cancelled the task")
    result = await asyncio.wait_for(first, WAIT_S)
    assert result.error == ErrorCode.cancelled and result.message == f"stopped holding {a}"
    assert loop.time() - t0 < agent.settings.cancel_grace_s
    assert not await agent.cancel("never-seen")
    early = call(agent, "hold", key=key())
    assert not await agent.cancel(early.call_id, "cancelled before it arrived")
    assert (await agent.run(early)).message == "cancelled before it arrived"


async def test_calls_it_cannot_run_fail_with_a_reason(make_agent: MakeAgent) -> None:
    agent = await make_agent()
    unknown = await agent.run(call(agent, "hodl", key="x"))
    assert unknown.error == ErrorCode.invalid_args and "did you mean 'hold'" in unknown.message
    lacking = await agent.run(call(agent, "drive", place="sink"))
    assert lacking.error == ErrorCode.precondition_failed and "navigate" in lacking.message
    bad_args = await agent.run(call(agent, "hold", kee="x"))
    assert bad_args.error == ErrorCode.invalid_args and bad_args.data["fields"] == ["key", "kee"]
    other = SkillCall(call_id="x1", robot="someone-else", skill="noop")
    assert (await agent.run(other)).error == ErrorCode.invalid_args
    assert all(r.finished_at is not None for r in (unknown, lacking, bad_args))


async def test_stop_cancels_marks_stopped_and_closes(make_agent: MakeAgent, memory: Memory) -> None:
    robot = FakeRobot(f"r-{key()}", capabilities=CAPS)
    agent = await make_agent(robot)
    k = key()
    job = asyncio.create_task(agent.run(call(agent, "hold", key=k)))
    await asyncio.wait_for(started(k).wait(), WAIT_S)
    await agent.stop()
    assert (await asyncio.wait_for(job, WAIT_S)).error == ErrorCode.cancelled
    state = await memory.get_robot(robot.id)
    assert state is not None and state.status == RobotStatusValue.stopped
    assert robot.connects == 1 and robot.closes == 1
    after = await agent.run(call(agent, "noop"))
    assert after.error == ErrorCode.cancelled and "stopping" in after.message


async def test_a_call_before_start(memory: Memory) -> None:
    agent = CerebellumAgent(FakeRobot("early"), memory, SkillRegistry(AGENT_SKILLS))
    result = await agent.run(SkillCall(call_id="e1", robot="early", skill="noop"))
    assert result.error == ErrorCode.robot_offline and "not started" in result.message


async def test_a_robot_that_cannot_connect(memory: Memory) -> None:
    robot = FakeRobot("broken", fail_connect=True)
    agent = CerebellumAgent(robot, memory, SkillRegistry(AGENT_SKILLS))
    with pytest.raises(ServiceUnavailableError, match="could not connect"):
        await agent.start()
    assert robot.closes == 1
    assert await memory.get_robot("broken") is None
