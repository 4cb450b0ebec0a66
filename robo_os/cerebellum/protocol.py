"""What the brain needs from a robot's agent, and how it reaches it.

`AgentHandle` is implemented by the plain `CerebellumAgent` (in-process) and reached
through Ray by the actor wrapper; the brain talks to every agent through a `Dispatcher`.
"""

from __future__ import annotations

from typing import Protocol

from ..contracts import SkillCall, SkillResult

__all__ = ["AGENT_ACTOR_PREFIX", "AgentHandle", "Dispatcher", "agent_actor_name"]

AGENT_ACTOR_PREFIX = "agent:"


def agent_actor_name(robot_id: str) -> str:
    """The Ray actor name of a robot's agent (in the configured Ray namespace)."""
    return f"{AGENT_ACTOR_PREFIX}{robot_id}"


class AgentHandle(Protocol):
    async def run(self, call: SkillCall) -> SkillResult:
        """Run one skill call to the end and return its result. Idempotent per
        `call.call_id`: a call already finished returns its stored result; a call
        already running is awaited, never started twice. Never raises for skill
        failures: they come back as a failed SkillResult."""
        ...

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        """Ask the running call to stop; True if it was running. The call's `run`
        returns a `cancelled` result within the agent's cancel grace period."""
        ...


class Dispatcher(Protocol):
    """The brain's way to run skill calls on robots (Ray in production, in-process in tests)."""

    async def run(self, call: SkillCall, *, timeout_s: float) -> SkillResult:
        """Run `call` on `call.robot`. Raises RobotUnavailableError if the agent is
        gone or dies during the call, DeadlineExceeded after `timeout_s`."""
        ...

    async def cancel(self, robot: str, call_id: str, reason: str = "cancelled") -> bool: ...

    async def close(self) -> None: ...
