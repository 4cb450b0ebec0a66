"""The public test doubles (`robo_os.testing`): the skill-author example of
docs/writing-skills.md as it stands, and each double doing what its docstring says."""

from __future__ import annotations

import asyncio

import pytest
from openai import APIStatusError, AsyncOpenAI

from robo_os.contracts import ErrorCode, Plan, SkillCall, SkillResult, Subtask
from robo_os.fleet import RobotConfig
from robo_os.skill import CancelToken, SkillContext, SkillRegistry, check_skill, skill
from robo_os.skill.parts import Base, MotionOutcome
from robo_os.skill.refs import PlaceName
from robo_os.testing import (
    FakeRobot,
    RegistryAgent,
    Reply,
    ScriptedAgent,
    ScriptedModelServer,
    ScriptedPlanner,
    build_fake_robot,
    decode_png,
    run_skill,
    tiny_png,
)
from robo_os.testing.world import StaticWorld

# -- the docs' example skill, as written there -------------------------------------------


@skill(
    capabilities={"speaker"},
    timeout_s=90.0,
    preconditions=["at(robot, ?here)"],
    effects=["not at(robot, ?here)", "at(robot, place)"],
)
async def greet_at(
    ctx: SkillContext, place: PlaceName, base: Base, words: str = "hello", loud: bool = False
) -> SkillResult:
    """Drive to a place and greet whoever is there.

    Args:
        place: Where to greet.
        words: What to say.
        loud: Say it loudly.
    """
    moved = await base.move_to(place, cancel=ctx.cancel, deadline=ctx.deadline)
    if not moved.ok:
        return SkillResult.failure(ErrorCode.unreachable, moved.message)
    await ctx.report_progress(0.8, f"at {place}")
    ctx.check()
    await ctx.robot.speaker.say(words.upper() if loud else words)  # type: ignore[attr-defined]
    return SkillResult.success(f"greeted at {place}", data={"place": place})


class Speaker:
    def __init__(self) -> None:
        self.said: list[str] = []

    async def say(self, words: str) -> None:
        self.said.append(words)


def robot() -> FakeRobot:
    r = FakeRobot(
        "r1",
        parts={"base"},
        capabilities={"navigate", "speaker"},
        place="kitchen",
        places={"hall"},
    )
    r.speaker = Speaker()  # type: ignore[attr-defined]
    return r


def test_conforms() -> None:
    assert check_skill(greet_at) == []


async def test_bad_arguments_are_refused() -> None:
    result = await run_skill(greet_at, {"plaec": "hall"}, robot=robot())
    assert result.error == ErrorCode.invalid_args and "place" in result.message


async def test_greets() -> None:
    r = robot()
    result = await run_skill(greet_at, {"place": "hall", "loud": True}, robot=r)
    assert result.ok and r.place == "hall" and r.speaker.said == ["HELLO"]  # type: ignore[attr-defined]
    assert r.motions == [("move_to", "hall")]


async def test_a_blocked_drive_is_a_structured_failure() -> None:
    r = robot().script("move_to", MotionOutcome.collision, "bumped into a chair")
    result = await run_skill(greet_at, {"place": "hall"}, robot=r)
    assert result.error == ErrorCode.unreachable and "chair" in result.message
    assert r.place == "kitchen" and r.speaker.said == []  # type: ignore[attr-defined]


async def test_cancel_mid_drive() -> None:
    r, cancel = robot(), CancelToken()
    r.gate("move_to")
    run = asyncio.ensure_future(run_skill(greet_at, {"place": "hall"}, robot=r, cancel=cancel))
    await asyncio.wait_for(r.motion_started("move_to").wait(), 5)
    cancel.cancel("operator stop")
    result = await run
    assert result.error == ErrorCode.cancelled
    assert r.place == "kitchen"


async def test_a_robot_without_the_part_never_starts_the_skill() -> None:
    r = FakeRobot("r2", parts={"camera"})
    result = await run_skill(greet_at, {"place": "hall"}, robot=r)
    assert result.error == ErrorCode.precondition_failed and "base" in result.message
    assert r.motions == []


# -- the fake parts ------------------------------------------------------------------------


async def test_fake_arm_gripper_and_tray_keep_the_fake_world_consistent() -> None:
    r = FakeRobot("mm", parts={"base", "arm", "gripper", "tray"}, places={"table"})
    r.objects["cup"] = "kitchen"
    assert r.capabilities == {"navigate", "manipulate", "carry"}
    assert r.arm is not None and r.gripper is not None and r.tray is not None
    assert r.base is not None
    assert await r.arm.reaches("cup")
    assert (await r.arm.pick("cup")).ok and await r.gripper.holding() == "cup"
    again = await r.arm.pick("cup")
    assert again.outcome == MotionOutcome.precondition_failed
    assert (await r.base.move_to("table")).ok and await r.base.place() == "table"
    placed = await r.arm.place("cup", "table")
    assert placed.ok and placed.on == "table" and r.objects["cup"] == "table"
    assert (await r.arm.pick("plate")).outcome == MotionOutcome.not_found
    r.tray_contents.append("book")
    assert (await r.tray.unload("book")).ok and r.objects["book"] == "table"
    assert (await r.tray.unload("book")).outcome == MotionOutcome.precondition_failed
    unknown = await r.base.move_to("garage")
    assert unknown.outcome == MotionOutcome.not_found and r.place == "table"


def test_unknown_part_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown parts"):
        FakeRobot(parts={"wings"})


def test_build_fake_robot_reads_parts_from_the_fleet_file() -> None:
    config = RobotConfig.model_validate(
        {
            "id": "f1",
            "embodiment": "fake",
            "at": "dock",
            "options": {"capabilities": ["navigate", "camera"], "parts": ["base"], "camera": True},
        }
    )
    r = build_fake_robot(config)
    assert r.id == "f1" and r.place == "dock" and r.base is not None and r.camera is not None
    assert r.arm is None and r.capabilities == {"navigate", "camera"}


def test_png_helpers_round_trip() -> None:
    assert decode_png(tiny_png(3, 2, (1, 2, 3)))[:2] == (3, 2)
    with pytest.raises(AssertionError):
        decode_png(b"not a png")


# -- doubles for the brain and apps --------------------------------------------------------


async def test_scripted_agent_runs_each_call_once_and_in_the_tests_order() -> None:
    agent = ScriptedAgent("r1")
    call = SkillCall(call_id="c1", robot="r1", skill="pick", args={})
    running = asyncio.ensure_future(agent.run(call))
    assert (await agent.next_call()).call_id == "c1"
    again = asyncio.ensure_future(agent.run(call))  # a re-dispatch of the same id
    agent.finish("c1")
    assert (await running).ok and (await again).ok
    assert agent.call_ids() == ["c1", "c1"] and agent.log == [("start", "r1", "c1"), ("end", "r1", "c1")]
    other = asyncio.ensure_future(agent.run(call.model_copy(update={"call_id": "c2"})))
    await agent.next_call()
    assert await agent.cancel("c2", "stop")
    assert (await other).error == ErrorCode.cancelled


async def test_registry_agent_runs_real_skills_and_cancels_them() -> None:
    started = asyncio.Event()

    @skill(timeout_s=10.0)
    async def hold(ctx: SkillContext) -> SkillResult:
        """Hold until cancelled."""
        started.set()
        await ctx.cancel.wait()
        ctx.check()
        return SkillResult.success()

    agent = RegistryAgent(SkillRegistry([hold]))
    unknown = await agent.run(SkillCall(call_id="u", robot="r", skill="jump", args={}))
    assert unknown.error == ErrorCode.invalid_args
    run = asyncio.ensure_future(agent.run(SkillCall(call_id="h", robot="r", skill="hold", args={})))
    await asyncio.wait_for(started.wait(), 5)
    assert await agent.cancel("h")
    assert (await run).error == ErrorCode.cancelled


async def test_scripted_planner_plans_what_it_was_given() -> None:
    plan = Plan(subtasks=[Subtask(id="a", robot="r1", skill="pick", args={})])
    planner = ScriptedPlanner(plans={"do it": plan}, robots={"r1"})
    assert (await planner.plan("t1", "do it")).plan == plan
    missing = await planner.plan("t2", "something else")
    assert missing.plan is None and missing.problems[0].code == "infeasible"
    bad = Plan(subtasks=[Subtask(id="a", robot="r9", skill="pick", args={})])
    assert [p.code for p in await planner.check(bad)] == ["unknown_robot"]


async def test_scripted_model_server_answers_the_real_openai_client() -> None:
    with ScriptedModelServer() as server:
        server.script(Reply.text("first"), Reply.error(503))
        client = AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        try:
            answer = await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == "first"
            with pytest.raises(APIStatusError, match="503"):
                await client.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "again"}]
                )
        finally:
            await client.close()
        assert [r["messages"][0]["content"] for r in server.chat_requests] == ["hi", "again"]


async def test_static_world_is_the_demo_scene_and_changes_on_demand() -> None:
    world = StaticWorld.from_fleet({})
    robots, objects, _ = await world.snapshot()
    assert {r.id for r in robots} >= {"arm1", "mm1"}
    apple = next(o for o in objects if o.name == "apple")
    world.move_object("apple", on="sink")
    _, moved, _ = await world.snapshot()
    assert next(o for o in moved if o.name == "apple").on == "sink" != apple.on
