"""A household world, its robots and a seeded memory, for running the standard skills
through the real invocation path (`Skill.run`: validation, context, deadline, cancel)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robo_os_memory import Memory

from robo_os.contracts import SkillCall, SkillResult
from robo_os.fleet import FleetConfig, load_fleet
from robo_os.sim import SimRobot, SimWorld
from robo_os.skill.context import CancelToken, ProgressFn, SkillContext
from robo_os.skill.invoke import as_skill

WAIT_S = 60.0

log = logging.getLogger("tests.skills_std")


@dataclass
class StdWorld:
    world: SimWorld
    memory: Memory
    robots: dict[str, SimRobot] = field(default_factory=dict)

    def context(
        self,
        robot: str,
        skill: str,
        args: dict[str, Any],
        *,
        cancel: CancelToken | None = None,
        progress: ProgressFn | None = None,
        timeout_s: float = WAIT_S,
        extras: dict[str, Any] | None = None,
    ) -> SkillContext:
        call = SkillCall(call_id=uuid.uuid4().hex, robot=robot, skill=skill, args=args)
        return SkillContext(
            robot=self.robots[robot],
            memory=self.memory,
            call=call,
            logger=log,
            deadline=time.monotonic() + timeout_s,
            cancel=cancel or CancelToken(),
            progress_fn=progress,
            extras=dict(extras or {}),
        )

    async def run(
        self,
        robot: str,
        fn: Callable[..., Any],
        *,
        cancel: CancelToken | None = None,
        progress: ProgressFn | None = None,
        timeout_s: float = WAIT_S,
        extras: dict[str, Any] | None = None,
        **args: Any,
    ) -> SkillResult:
        skill = as_skill(fn)
        ctx = self.context(
            robot,
            skill.name,
            args,
            cancel=cancel,
            progress=progress,
            timeout_s=timeout_s,
            extras=extras,
        )
        return await skill.run(args, ctx)


def household_with_bowl_on_counter() -> FleetConfig:
    fleet = load_fleet()
    objects = [
        o.model_copy(update={"at": "kitchen_counter", "offset": (0.15, -0.5)})
        if o.name == "bowl"
        else o
        for o in fleet.scene.objects
    ]
    return fleet.model_copy(update={"scene": fleet.scene.model_copy(update={"objects": objects})})
