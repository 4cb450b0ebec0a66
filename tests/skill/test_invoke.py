"""Running a skill: argument validation, sync/async, deadlines, cancellation mid-skill,
exceptions and return values, all turned into SkillResults."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.errors import SkillDefinitionError
from robo_os.skill import CancelToken, Skill, SkillAborted, SkillContext, SkillSpec, as_skill, skill
from robo_os.skill.robot import Robot
from robo_os.testing import FakeRobot, skill_context

WAIT_S = 30.0


@skill(capabilities={"navigate"})
async def go(ctx: SkillContext, place: str, speed: float = 1.0) -> SkillResult:
    """Go to a place."""
    await ctx.report_progress(0.5, f"half way to {place}")
    return SkillResult.success(f"at {place}", data={"speed": speed, "robot": ctx.robot_id})


async def test_valid_call_runs_with_coerced_arguments_and_timestamps() -> None:
    seen: list[tuple[float, str]] = []

    async def progress(fraction: float, message: str) -> None:
        seen.append((fraction, message))

    ctx = skill_context(FakeRobot("r7"), "go", progress=progress)
    result = await Skill.from_function(go).run({"place": "kitchen", "speed": "2.5"}, ctx)
    assert result.ok, result
    assert result.data == {"speed": 2.5, "robot": "r7"}
    assert seen == [(0.5, "half way to kitchen")]
    assert result.started_at is not None and result.finished_at is not None
    assert result.started_at <= result.finished_at


@pytest.mark.parametrize(
    ("args", "fields"),
    [
        ({}, ["place"]),
        ({"place": "k", "speed": "fast"}, ["speed"]),
        ({"place": "k", "sped": 1}, ["sped"]),
    ],
)
async def test_invalid_arguments_fail_naming_the_field(
    args: dict[str, Any], fields: list[str]
) -> None:
    result = await Skill.from_function(go).run(args, skill_context(FakeRobot()))
    assert result.error == ErrorCode.invalid_args
    assert result.data["fields"] == fields
    assert fields[0] in result.message
    assert result.finished_at is not None


async def test_sync_skills_run_in_a_worker_thread() -> None:
    @skill(capabilities={"camera"})
    def where(robot: Robot) -> dict[str, Any]:
        """Report the thread."""
        return {"thread": threading.get_ident(), "robot": robot.id}

    result = await as_skill(where).run({}, skill_context(FakeRobot("r2")))
    assert result.ok
    assert result.data["thread"] != threading.get_ident()
    assert result.data["robot"] == "r2"


async def test_deadline_turns_into_timeout() -> None:
    @skill(capabilities={"navigate"})
    async def stuck() -> None:
        """Never finishes on its own."""
        await asyncio.Event().wait()

    result = await as_skill(stuck).run({}, skill_context(FakeRobot(), timeout_s=0.2), grace_s=1.0)
    assert result.error == ErrorCode.timeout
    assert "deadline" in result.message


async def test_cooperative_cancellation_mid_skill() -> None:
    started = asyncio.Event()
    stopped_cleanly = asyncio.Event()

    @skill(capabilities={"navigate"})
    async def patrol(cancel: CancelToken) -> SkillResult:
        """Patrol until cancelled."""
        started.set()
        await cancel.wait()
        stopped_cleanly.set()  # a real skill stops its motion and releases leases here
        return SkillResult.failure(ErrorCode.cancelled, "stopped patrolling")

    ctx = skill_context(FakeRobot())
    job = asyncio.create_task(as_skill(patrol).run({}, ctx))
    await asyncio.wait_for(started.wait(), WAIT_S)
    ctx.cancel.cancel("operator said stop")
    result = await asyncio.wait_for(job, WAIT_S)
    assert result.error == ErrorCode.cancelled
    assert result.message == "stopped patrolling"
    assert stopped_cleanly.is_set()


async def test_a_failure_after_a_cancel_is_reported_as_cancelled() -> None:
    started = asyncio.Event()

    @skill(capabilities={"navigate"})
    async def drive(cancel: CancelToken) -> SkillResult:
        """A drive whose motion reports being cut off as unreachable."""
        started.set()
        await cancel.wait()
        return SkillResult.failure(ErrorCode.unreachable, "stopped 2 m short of the sink")

    ctx = skill_context(FakeRobot())
    job = asyncio.create_task(as_skill(drive).run({}, ctx))
    await asyncio.wait_for(started.wait(), WAIT_S)
    ctx.cancel.cancel("user stop")
    result = await asyncio.wait_for(job, WAIT_S)
    assert result.error == ErrorCode.cancelled
    assert result.message == "stopped 2 m short of the sink"


async def test_a_skill_ignoring_cancel_is_stopped_within_the_grace() -> None:
    started = asyncio.Event()
    interrupted = asyncio.Event()

    @skill(capabilities={"navigate"})
    async def deaf() -> None:
        """Ignores the token."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            interrupted.set()
            raise

    ctx = skill_context(FakeRobot())
    job = asyncio.create_task(as_skill(deaf).run({}, ctx, grace_s=0.2))
    await asyncio.wait_for(started.wait(), WAIT_S)
    ctx.cancel.cancel("brain cancelled the task")
    result = await asyncio.wait_for(job, WAIT_S)
    assert result.error == ErrorCode.cancelled
    assert result.message == "brain cancelled the task"
    assert interrupted.is_set()


async def test_sync_skill_cancelled_through_check() -> None:
    started = threading.Event()

    @skill(capabilities={"manipulate"})
    def polish(ctx: SkillContext) -> None:
        """Polish until told to stop."""
        started.set()
        while True:
            ctx.check()  # raises SkillAborted(cancelled) once the token is set
            sum(range(1000))  # a step of work

    ctx = skill_context(FakeRobot())
    job = asyncio.create_task(as_skill(polish).run({}, ctx))
    await asyncio.to_thread(started.wait, WAIT_S)
    ctx.cancel.cancel("enough")
    result = await asyncio.wait_for(job, WAIT_S)
    assert result.error == ErrorCode.cancelled
    assert result.message == "enough"


@skill(capabilities={"x"})
async def aborts() -> None:
    """Aborts."""
    raise SkillAborted(ErrorCode.not_found, "no apple on the counter")


@skill(capabilities={"x"})
def crashes(n: int = 0) -> None:
    """Crashes."""
    raise ZeroDivisionError(f"division by {n}")


@skill(capabilities={"x"})
async def returns_none() -> None:
    """Nothing."""


@skill(capabilities={"x"})
async def returns_dict() -> dict[str, Any]:
    """Data."""
    return {"count": 3}


@skill(capabilities={"x"})
async def returns_junk() -> Any:
    """Junk."""
    return "done"


@skill(capabilities={"x"})
async def returns_bad_data() -> Any:
    """Not JSON."""
    return {"when": object()}


@pytest.mark.parametrize(
    ("fn", "status", "error", "text"),
    [
        (aborts, "failed", ErrorCode.not_found, "no apple on the counter"),
        (crashes, "failed", ErrorCode.internal, "ZeroDivisionError: division by 0"),
        (returns_none, "ok", None, ""),
        (returns_dict, "ok", None, ""),
        (returns_junk, "failed", ErrorCode.internal, "returned a str"),
        (returns_bad_data, "failed", ErrorCode.internal, "not JSON"),
    ],
)
async def test_results_exceptions_and_return_values(
    fn: Any, status: str, error: ErrorCode | None, text: str
) -> None:
    result = await as_skill(fn).run({}, skill_context(FakeRobot()))
    assert result.status == status
    assert result.error == error
    assert text in result.message
    if fn is returns_dict:
        assert result.data == {"count": 3}


class EchoRunner:
    """A skill that is not a function (like an MCP tool)."""

    def __init__(self) -> None:
        self.spec = SkillSpec(
            name="echo",
            description="Echo.",
            capabilities=("speak",),
            args_schema={
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        )

    async def run(self, args: Mapping[str, Any], ctx: SkillContext) -> SkillResult:
        return SkillResult.success(str(args["text"]))


async def test_runners_are_validated_against_their_schema() -> None:
    sk = as_skill(EchoRunner(), source="mcp:test")
    assert sk.spec.source == "mcp:test"
    assert (await sk.run({"text": "hi"}, skill_context(FakeRobot()))).message == "hi"
    bad = await sk.run({"text": 3}, skill_context(FakeRobot()))
    assert bad.error == ErrorCode.invalid_args and bad.data["fields"] == ["text"]


def test_things_that_are_not_skills() -> None:
    with pytest.raises(SkillDefinitionError, match="is not a skill"):
        as_skill(42)
    runner = EchoRunner()
    runner.spec = runner.spec.model_copy(update={"args_schema": {"type": "objekt"}})
    with pytest.raises(SkillDefinitionError, match="not a JSON schema"):
        as_skill(runner)
