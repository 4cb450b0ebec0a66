"""An in-test robot for the robo-os MCP server: typed `@skill` functions in a SkillRegistry,
and a small AgentHandle that runs them through the registry (idempotent per call id,
cancellable through the skill's cancel token), as a CerebellumAgent would.

Also the entry of the stdio round-trip test: `python mcp_robot.py` serves this robot's
skills over MCP stdio with robo-os's own server.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import Field

from robo_os.contracts import ErrorCode, SkillResult, StateChange
from robo_os.skill import ObjectName, SkillContext, SkillRegistry, skill
from robo_os.testing import RegistryAgent

ROBOT = "waiter"


@skill(
    capabilities={"manipulate"},
    timeout_s=20.0,
    preconditions=["hand_empty(robot)"],
    effects=["holding(robot, object)", "not hand_empty(robot)"],
)
async def pick(ctx: SkillContext, object: ObjectName) -> SkillResult:
    """Pick an object up from where the robot stands.

    Args:
        object: The object to pick up.
    """
    if object != "cup":
        return SkillResult.failure(
            ErrorCode.not_found, f"no {object} within reach", data={"seen": ["cup"]}
        )
    return SkillResult.success(
        "picked cup",
        data={"grip_force": 4.5},
        changes=[StateChange(kind="object", name="cup", fields={"held_by": ctx.robot_id})],
    )


@skill(capabilities={"manipulate"}, timeout_s=5.0, concurrent=True)
async def wave(ctx: SkillContext, times: Annotated[int, Field(ge=1, le=5)]) -> SkillResult:
    """Wave a number of times.

    Args:
        times: How often.
    """
    return SkillResult.success(f"waved {times} times", data={"times": times})


@skill(capabilities={"manipulate"})
async def hold(ctx: SkillContext) -> SkillResult:
    """Hold still until cancelled."""
    started = ctx.extras.get("started")
    if isinstance(started, asyncio.Event):
        started.set()
    await ctx.cancel.wait()
    ctx.cancel.raise_if_cancelled()
    return SkillResult.success()


def registry() -> SkillRegistry:
    return SkillRegistry([pick, wave, hold], plugins=False)


SPECS = registry().specs()
SPEC = {s.name: s for s in SPECS}


class ScriptedAgent(RegistryAgent):
    """The public registry agent over this robot's skills; `started` is set by the
    `hold` skill once it runs (the skills read it from the context's extras)."""

    def __init__(self, skills: SkillRegistry | None = None) -> None:
        self.started = asyncio.Event()
        super().__init__(skills or registry(), extras={"started": self.started})


if __name__ == "__main__":
    from robo_os.mcp import RobotMcpServer

    asyncio.run(RobotMcpServer(ROBOT, ScriptedAgent(), SPECS).serve_stdio())
