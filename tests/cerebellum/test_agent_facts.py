"""The cerebellum agent records a skill's declared facts in memory when the skill
succeeds (before its result goes back), never when it fails, and publishes the facts
with the skill's spec; a fact about a thing memory does not know is logged, and the
call still succeeds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import JsonValue
from robo_os_example_plugin.surfaces import CLEAN, INSPECTED, SKILLS
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose

from robo_os.cerebellum.agent import CerebellumAgent
from robo_os.contracts import ErrorCode, SkillCall
from robo_os.settings import AgentSettings
from robo_os.skill import SkillRegistry, SkillResult, skill
from robo_os.skill.refs import PlaceName
from robo_os.testing import FakeRobot


@skill(capabilities={"manipulate"}, facts=[CLEAN], effects=["clean(place)"])
async def botched_wipe(place: PlaceName) -> SkillResult:
    """A wipe that fails: its effect must not be recorded.

    Args:
        place: The place it fails to wipe.
    """
    return SkillResult.failure(ErrorCode.internal, "the sponge fell off")


@pytest.fixture
async def agent(memory: Memory) -> AsyncIterator[CerebellumAgent]:
    await memory.upsert_place(PlaceState(name="counter", pose=Pose(x=0.0, y=0.0)))
    await memory.upsert_object(ObjectState(name="vase", on="counter"))
    robot = FakeRobot(f"r-{uuid.uuid4().hex[:6]}", capabilities={"manipulate", "camera"})
    a = CerebellumAgent(
        robot,
        memory,
        SkillRegistry([*SKILLS, botched_wipe]),
        node="node-a",
        place="counter",
        settings=AgentSettings(cancel_grace_s=2.0),
    )
    await a.start()
    yield a
    await a.stop()


def call(agent: CerebellumAgent, skill: str, **args: JsonValue) -> SkillCall:
    return SkillCall(call_id=uuid.uuid4().hex[:8], robot=agent.id, skill=skill, args=args)


async def counter_attrs(memory: Memory) -> dict[str, object]:
    place = await memory.get_place("counter")
    assert place is not None
    return dict(place.attrs)


async def test_the_published_spec_carries_the_facts(agent: CerebellumAgent, memory: Memory) -> None:
    specs = (await memory.robot_skills())[agent.id]
    assert specs["wipe"]["facts"] == [CLEAN.model_dump(mode="json")]
    assert specs["inspect"]["facts"] == [INSPECTED.model_dump(mode="json")]


async def test_a_success_records_the_fact_and_a_failure_does_not(
    agent: CerebellumAgent, memory: Memory
) -> None:
    failed = await agent.run(call(agent, "botched_wipe", place="counter"))
    assert not failed.ok and "clean" not in await counter_attrs(memory)
    assert (await agent.run(call(agent, "wipe", place="counter"))).ok
    assert (await counter_attrs(memory))["clean"] is True
    assert (await agent.run(call(agent, "spill", place="counter"))).ok
    assert (await counter_attrs(memory))["clean"] is False


async def test_an_unrecorded_fact_never_reaches_memory(
    agent: CerebellumAgent, memory: Memory
) -> None:
    assert (await agent.run(call(agent, "inspect", object="vase"))).ok
    vase = await memory.get_object("vase")
    assert vase is not None and vase.attrs == {}


async def test_a_fact_about_an_unknown_thing_is_logged_and_the_call_still_succeeds(
    agent: CerebellumAgent, caplog: pytest.LogCaptureFixture
) -> None:
    result = await agent.run(call(agent, "wipe", place="attic"))
    assert result.ok
    assert "could not record its facts" in caplog.text and "attic" in caplog.text
