"""A failure caused by the infrastructure (Redis gone, a Ray actor dead) is not kept as
the call's answer: a re-dispatch of the same call id, by a restarted brain or a retry,
runs the skill again instead of replaying the failure."""

from __future__ import annotations

import uuid
from collections import Counter

from robo_os_memory import Memory
from robo_os_memory.errors import StoreUnavailableError

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.contracts import ErrorCode, SkillCall, SkillResult
from robo_os.errors import ServiceUnavailableError
from robo_os.settings import AgentSettings
from robo_os.skill import SkillContext, SkillRegistry, skill
from robo_os.skill.invoke import INFRASTRUCTURE, is_infrastructure_error
from robo_os.testing import FakeRobot

RUNS: Counter[str] = Counter()
FAILURES: dict[str, list[BaseException]] = {}


@skill(capabilities={"manipulate"}, timeout_s=10)
async def flaky(ctx: SkillContext, key: str) -> SkillResult:
    """Raise the next scripted exception, if any, else succeed.

    Args:
        key: Names the script.
    """
    RUNS[key] += 1
    pending = FAILURES.get(key)
    if pending:
        raise pending.pop(0)
    return SkillResult.success(f"done {key}")


class ActorDiedError(Exception):
    """Stands in for Ray's (matched by name: the SDK does not import Ray)."""


def test_which_errors_are_the_infrastructures() -> None:
    assert is_infrastructure_error(StoreUnavailableError("redis is down"))
    assert is_infrastructure_error(ServiceUnavailableError("gone"))
    assert is_infrastructure_error(ConnectionResetError())
    assert is_infrastructure_error(ActorDiedError("owner has died"))
    assert not is_infrastructure_error(ValueError("a bug in the skill"))
    assert not is_infrastructure_error(KeyError("apple"))


async def test_an_infrastructure_failure_is_run_again_and_a_skill_failure_is_replayed(
    memory: Memory,
) -> None:
    robot = FakeRobot(f"r-{uuid.uuid4().hex[:6]}", capabilities={"manipulate"})
    agent = CerebellumAgent(
        robot, memory, SkillRegistry([flaky]), node="n", settings=AgentSettings(reconcile="off")
    )
    await agent.start()
    try:
        infra, bug = uuid.uuid4().hex, uuid.uuid4().hex
        FAILURES[infra] = [StoreUnavailableError("Connection closed by server")]
        FAILURES[bug] = [ValueError("a bug")]
        c1 = SkillCall(call_id=f"c-{infra}", robot=robot.id, skill="flaky", args={"key": infra})
        first = await agent.run(c1)
        assert first.error == ErrorCode.internal and first.data.get(INFRASTRUCTURE) is True
        second = await agent.run(c1)  # the same call id again: run, not replayed
        assert second.ok and RUNS[infra] == 2
        assert await agent.run(c1) == second and RUNS[infra] == 2  # now it is the answer

        c2 = SkillCall(call_id=f"c-{bug}", robot=robot.id, skill="flaky", args={"key": bug})
        failed = await agent.run(c2)
        assert failed.error == ErrorCode.internal and INFRASTRUCTURE not in failed.data
        assert await agent.run(c2) == failed and RUNS[bug] == 1  # a skill's own failure stands
    finally:
        await agent.stop()
