"""An in-test robot for the robo-os MCP server: a few skill specs and a small AgentHandle
that runs them (idempotent per call id, cancellable), as a CerebellumAgent would.

Also the entry of the stdio round-trip test: `python mcp_robot.py` serves this robot's
skills over MCP stdio with robo-os's own server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from robo_os.contracts import ErrorCode, SkillCall, SkillResult, StateChange
from robo_os.skill.spec import SkillSpec

ROBOT = "waiter"

SPECS = [
    SkillSpec(
        name="pick",
        description="Pick an object up from where the robot stands.",
        capabilities=("manipulate",),
        args_schema={
            "type": "object",
            "properties": {"object": {"type": "string", "x-robo-os-entity": ["object"]}},
            "required": ["object"],
            "additionalProperties": False,
        },
        timeout_s=20.0,
        preconditions=("not holding(robot, *)",),
        effects=("holding(robot, object)",),
        source="test",
    ),
    SkillSpec(
        name="wave",
        description="Wave a number of times.",
        capabilities=("manipulate",),
        args_schema={
            "type": "object",
            "properties": {"times": {"type": "integer", "minimum": 1, "maximum": 5}},
            "required": ["times"],
        },
        timeout_s=5.0,
        concurrent=True,
        source="test",
    ),
    SkillSpec(
        name="hold",
        description="Hold still until cancelled.",
        args_schema={"type": "object", "properties": {}},
        source="test",
    ),
]


class ScriptedAgent:
    """An AgentHandle over plain coroutines: one result per call id, cancellable."""

    def __init__(self) -> None:
        self.calls: list[SkillCall] = []
        self.cancelled: list[tuple[str, str]] = []
        self.started = asyncio.Event()
        self._running: dict[str, asyncio.Task[SkillResult]] = {}
        self._done: dict[str, SkillResult] = {}
        self._skills: dict[str, Callable[[dict[str, Any]], Awaitable[SkillResult]]] = {
            "pick": self._pick,
            "wave": self._wave,
            "hold": self._hold,
        }

    async def _pick(self, args: dict[str, Any]) -> SkillResult:
        if args["object"] != "cup":
            return SkillResult.failure(
                ErrorCode.not_found, f"no {args['object']} within reach", data={"seen": ["cup"]}
            )
        return SkillResult.success(
            "picked cup",
            data={"grip_force": 4.5},
            changes=[StateChange(kind="object", name="cup", fields={"held_by": ROBOT})],
        )

    async def _wave(self, args: dict[str, Any]) -> SkillResult:
        return SkillResult.success(f"waved {args['times']} times", data={"times": args["times"]})

    async def _hold(self, args: dict[str, Any]) -> SkillResult:
        self.started.set()
        await asyncio.Event().wait()  # until cancelled
        return SkillResult.success()

    async def run(self, call: SkillCall) -> SkillResult:
        if call.call_id in self._done:
            return self._done[call.call_id]
        task = self._running.get(call.call_id)
        if task is None:
            self.calls.append(call)
            fn = self._skills.get(call.skill)
            if fn is None:
                return SkillResult.failure(ErrorCode.invalid_args, f"unknown skill {call.skill}")
            task = asyncio.create_task(fn(dict(call.args)))
            self._running[call.call_id] = task
        started = time.time()
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # our awaiter was cancelled, not the skill
            result = SkillResult.failure(ErrorCode.cancelled, "cancelled")
        result = result.model_copy(update={"started_at": started, "finished_at": time.time()})
        self._running.pop(call.call_id, None)
        self._done[call.call_id] = result
        return result

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        self.cancelled.append((call_id, reason))
        task = self._running.get(call_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True


if __name__ == "__main__":
    from robo_os.mcp import RobotMcpServer

    asyncio.run(RobotMcpServer(ROBOT, ScriptedAgent(), SPECS).serve_stdio())
