"""Scripted agents: `AgentHandle`s a test drives, for testing the brain or an app
without robots.

`ScriptedAgent` starts each call and waits until the test ends it (`finish`), or answers
at once through `auto`; the test awaits `next_call()` / `next_cancel()`, so it decides the
order of everything without sleeping. `RegistryAgent` runs real skills from a
`SkillRegistry` in-process (no robot, no memory: for skills that need neither).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..contracts import ErrorCode, SkillCall, SkillResult
from ..skill.context import SkillContext
from ..skill.recording import record_facts
from ..skill.registry import SkillRegistry
from .skills import skill_context

__all__ = ["WAIT_S", "RegistryAgent", "ScriptedAgent"]

WAIT_S = 20.0
"""Generous deadline for anything a test waits on (machines running tests are often busy)."""


class ScriptedAgent:
    """An AgentHandle for `robot` whose calls run until the test ends them: `finish`
    (success by default), `cancel`, or at once through `auto(call) -> SkillResult | None`.
    Each call id runs once; a re-dispatch of a known id gets the same result."""

    def __init__(self, robot: str, log: list[tuple[str, str, str]] | None = None) -> None:
        self.robot = robot
        self.log = log if log is not None else []
        """Shared across agents: ("start" | "end", robot, call_id) in the order they happened."""
        self.runs: list[SkillCall] = []
        """Every run() invocation, re-dispatches included."""
        self.auto: Callable[[SkillCall], SkillResult | None] | None = None
        self.cancels: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self.max_running = 0
        self._started: asyncio.Queue[SkillCall] = asyncio.Queue()
        self._gates: dict[str, asyncio.Future[SkillResult]] = {}
        self._results: dict[str, SkillResult] = {}
        self._cancel_seen: asyncio.Queue[str] = asyncio.Queue()
        self._runs_seen: asyncio.Queue[SkillCall] = asyncio.Queue()

    async def run(self, call: SkillCall) -> SkillResult:
        self.runs.append(call)
        self._runs_seen.put_nowait(call)
        if call.call_id in self._results:
            return self._results[call.call_id]
        gate = self._gates.get(call.call_id)
        if gate is None:  # a new call: run it (once)
            gate = asyncio.get_running_loop().create_future()
            self._gates[call.call_id] = gate
            self.running.add(call.call_id)
            self.max_running = max(self.max_running, len(self.running))
            self.log.append(("start", self.robot, call.call_id))
            self._started.put_nowait(call)
            answer = self.auto(call) if self.auto else None
            if answer is not None:
                self._end(call.call_id, answer)
        return await asyncio.shield(gate)

    def _end(self, call_id: str, result: SkillResult) -> None:
        gate = self._gates[call_id]
        if gate.done():
            return
        self.running.discard(call_id)
        self.log.append(("end", self.robot, call_id))
        self._results[call_id] = result
        gate.set_result(result)

    def finish(self, call_id: str, result: SkillResult | None = None) -> None:
        self._end(call_id, result or SkillResult.success(f"{call_id} done"))

    def finish_all(self) -> None:
        """End every call still running (a test's teardown)."""
        for call_id in list(self.running):
            self.finish(call_id)

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        self.cancels.append((call_id, reason))
        self._cancel_seen.put_nowait(call_id)
        gate = self._gates.get(call_id)
        if gate is None or gate.done():
            return False
        self._end(call_id, SkillResult.failure(ErrorCode.cancelled, reason))
        return True

    async def next_call(self, timeout_s: float = WAIT_S) -> SkillCall:
        """The next call that starts on this agent (waits for it)."""
        return await asyncio.wait_for(self._started.get(), timeout_s)

    async def next_run(self, timeout_s: float = WAIT_S) -> SkillCall:
        """The next run() invocation, a re-dispatch of a known call id included."""
        return await asyncio.wait_for(self._runs_seen.get(), timeout_s)

    async def next_cancel(self, timeout_s: float = WAIT_S) -> str:
        return await asyncio.wait_for(self._cancel_seen.get(), timeout_s)

    def pending_starts(self) -> int:
        return self._started.qsize()

    def call_ids(self) -> list[str]:
        return [c.call_id for c in self.runs]


class RegistryAgent:
    """An AgentHandle running a registry's skills in-process: one result per call id;
    `cancel` sets the running call's cancel token. `extras` reach every skill context."""

    def __init__(
        self,
        skills: SkillRegistry,
        *,
        robot: object = None,
        memory: object = None,
        extras: dict[str, object] | None = None,
    ) -> None:
        self.skills = skills
        self.robot = robot
        self.memory = memory
        self.extras = dict(extras or {})
        self.calls: list[SkillCall] = []
        self.cancelled: list[tuple[str, str]] = []
        self.cancel_seen = asyncio.Event()
        """Set by the first `cancel` (await it rather than polling `cancelled`)."""
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
            except Exception as e:  # unknown skill: a result, as a real agent answers
                return SkillResult.failure(ErrorCode.invalid_args, str(e))
            ctx = skill_context(
                self.robot,
                call=call,
                memory=self.memory,
                timeout_s=call.timeout_s or s.spec.timeout_s,
                extras=self.extras,
                logger=logging.getLogger(f"robo_os.testing.agent.{call.robot}"),
            )
            running = (asyncio.create_task(s.run(call.args, ctx)), ctx)
            self._running[call.call_id] = running
        result = await asyncio.shield(running[0])
        self._running.pop(call.call_id, None)
        if result.ok and self.memory is not None and call.call_id not in self._done:
            # as a real agent: a success writes the skill's recorded facts first
            await record_facts(
                self.memory,  # type: ignore[arg-type]
                self.skills.get(call.skill).spec,
                call.args,
                call.robot,
            )
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
