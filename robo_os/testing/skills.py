"""Running a skill outside any agent: a context for one call, and the call itself.

ctx = skill_context(FakeRobot("r1"), "wave", {"times": 2})
result = await run_skill(wave, {"times": 2}, robot=FakeRobot("r1"))
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..contracts import SkillCall, SkillResult
from ..skill.context import CancelToken, ProgressFn, SkillContext
from ..skill.invoke import as_skill

__all__ = ["run_skill", "skill_context"]


def skill_context(
    robot: Any = None,
    skill: str = "skill",
    args: dict[str, Any] | None = None,
    *,
    call: SkillCall | None = None,
    memory: Any = None,
    timeout_s: float = 30.0,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
    extras: dict[str, Any] | None = None,
    logger: logging.Logger | None = None,
    robot_id: str | None = None,
) -> SkillContext:
    """The context an agent would inject for one call. `robot` and `memory` may be None
    for skills that use neither (an MCP tool, a pure computation; `robot_id` then names
    the robot the call is for); the call id is fresh."""
    if call is None:
        robot_id = robot_id or getattr(robot, "id", None) or "robot"
        call = SkillCall(
            call_id=f"test-{skill}-{time.monotonic_ns()}",
            robot=robot_id,
            skill=skill,
            args=args or {},
        )
    return SkillContext(
        robot=robot,
        memory=memory,
        call=call,
        logger=logger or logging.getLogger(f"robo_os.testing.skill.{call.skill}"),
        deadline=time.monotonic() + timeout_s,
        cancel=cancel or CancelToken(),
        progress_fn=progress,
        extras=dict(extras or {}),
    )


async def run_skill(
    skill: Any,
    args: dict[str, Any] | None = None,
    *,
    robot: Any = None,
    memory: Any = None,
    timeout_s: float | None = None,
    cancel: CancelToken | None = None,
) -> SkillResult:
    """Validate `args` and run one skill (a `@skill` function) as an agent would: with
    its deadline, cancel token and structured result; never raises for a failing skill.
    `skill` is a `@skill` function or a `Skill`."""
    s = as_skill(skill)
    ctx = skill_context(
        robot,
        s.spec.name,
        args,
        memory=memory,
        timeout_s=timeout_s if timeout_s is not None else s.spec.timeout_s,
        cancel=cancel,
    )
    return await s.run(args or {}, ctx)
