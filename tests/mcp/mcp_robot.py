"""An in-test robot for the robo-os MCP server: typed `@skill` functions in a SkillRegistry,
and a small AgentHandle that runs them through the registry (idempotent per call id,
cancellable through the skill's cancel token), as a CerebellumAgent would.

Also the entry of the stdio round-trip test: `python mcp_robot.py` serves this robot's
skills over MCP stdio with robo-os's own server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated

from pydantic import Field

from robo_os.contracts import ErrorCode, SkillCall, SkillResult, StateChange
from robo_os.skill import ObjectName, SkillContext, SkillRegistry, skill

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


class ScriptedAgent:
    """An AgentHandle running a SkillRegistry's skills: one result per call id; `cancel`
    sets the running call's cancel token."""

    def __init__(self, skills: SkillRegistry | None = None) -> None:
        self.skills = skills or registry()
        self.calls: list[SkillCall] = []
        self.cancelled: list[tuple[str, str]] = []
        self.started = asyncio.Event()
        self.cancel_seen = asyncio.Event()
        self._running: dict[str, tuple[asyncio.Task[SkillResult], SkillContext]] = {}
        self._done: dict[str, SkillResult] = {}

    async def run(self, call: SkillCall) -> SkillResult:
        if call.call_id in self._done:
            return self._done[call.call_id]
        running = self._running.get(call.call_id)
        if running is None:
            self.calls.append(call)
            try:
                s = self.skills.get(call.skill)
            except Exception as e:
                return SkillResult.failure(ErrorCode.invalid_args, str(e))
            ctx = SkillContext(
                robot=None,  # type: ignore[arg-type]
                memory=None,  # type: ignore[arg-type]
                call=call,
                logger=logging.getLogger(f"test.robot.{ROBOT}"),
                deadline=time.monotonic() + (call.timeout_s or s.spec.timeout_s),
                extras={"started": self.started},
            )
            running = (asyncio.create_task(s.run(call.args, ctx)), ctx)
            self._running[call.call_id] = running
        result = await asyncio.shield(running[0])
        self._running.pop(call.call_id, None)
        self._done[call.call_id] = result
        return result

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        self.cancelled.append((call_id, reason))
        self.cancel_seen.set()
        running = self._running.get(call_id)
        if running is None or running[0].done():
            return False
        running[1].cancel.cancel(reason)
        return True


if __name__ == "__main__":
    from robo_os.mcp import RobotMcpServer

    asyncio.run(RobotMcpServer(ROBOT, ScriptedAgent(), SPECS).serve_stdio())
