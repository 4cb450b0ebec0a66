"""What the brain needs from a robot's agent, and how it reaches it.

`AgentHandle` is implemented by the plain `CerebellumAgent` (in-process) and reached
through Ray by the actor wrapper; the brain talks to every agent through a `Dispatcher`.
A robot's agent runs in its own Ray actor (`agent_actor_name(robot)`) or in a shared
agent host (`agent_host_name(i)`, robo_os/cerebellum/host.py), reached through a
`HostedAgent` used exactly like the robot's own actor handle.
"""

from __future__ import annotations

from typing import Any, Protocol

from .contracts import ErrorCode, SkillCall, SkillResult

__all__ = [
    "AGENT_ACTOR_PREFIX",
    "AGENT_HOST_PREFIX",
    "AgentHandle",
    "Dispatcher",
    "HostedAgent",
    "WireCall",
    "WireResult",
    "agent_actor_name",
    "agent_host_name",
    "call_from_wire",
    "result_from_wire",
]

WireCall = dict[str, Any]
"""A SkillCall as JSON-mode data: what crosses Ray between the brain and an agent actor.
Ray pickles pydantic objects at about 1 ms per round trip here and plain dicts at about
0.1 ms, so the hot path sends data and validates it on each side (pydantic-core is fast)."""
WireResult = dict[str, Any]


def call_from_wire(call: SkillCall | WireCall) -> SkillCall:
    return call if isinstance(call, SkillCall) else SkillCall.model_validate(call)


def result_from_wire(result: object) -> SkillResult:
    """A SkillResult from what an agent answered; a malformed answer becomes a failed
    result naming the problem, never an exception in the brain."""
    if isinstance(result, SkillResult):
        return result
    if isinstance(result, dict):
        try:
            return SkillResult.model_validate(result)
        except ValueError as e:
            return SkillResult.failure(ErrorCode.internal, f"agent answered a malformed result: {e}")
    return SkillResult.failure(ErrorCode.internal, f"agent answered {type(result).__name__}, not a SkillResult")

AGENT_ACTOR_PREFIX = "agent:"


def agent_actor_name(robot_id: str) -> str:
    """The Ray actor name of a robot's agent (in the configured Ray namespace)."""
    return f"{AGENT_ACTOR_PREFIX}{robot_id}"


AGENT_HOST_PREFIX = "agent-host:"


def agent_host_name(index: int) -> str:
    """The Ray actor name of the `index`-th agent host (many robots' agents, one process)."""
    return f"{AGENT_HOST_PREFIX}{index}"


class HostedAgent:
    """One robot's agent inside an agent host actor, used like the robot's own actor
    handle: `ref.run.remote(call)` is `host.run.remote(robot, call)`, and
    `ref.start.options(...).remote()` is `host.start.options(...).remote(robot)`. Every
    host method takes the robot id first. Ray pickles it with the host handle inside."""

    def __init__(self, host: Any, robot: str) -> None:
        self.host = host
        self.robot = robot

    def __getattr__(self, name: str) -> _HostedMethod:
        if name.startswith("_") or name in ("host", "robot"):
            raise AttributeError(name)
        return _HostedMethod(getattr(self.host, name), self.robot)

    def __repr__(self) -> str:
        return f"HostedAgent({self.robot!r} in {self.host!r})"


class _HostedMethod:
    def __init__(self, method: Any, robot: str) -> None:
        self._method = method
        self._robot = robot

    def options(self, **options: Any) -> _HostedMethod:
        return _HostedMethod(self._method.options(**options), self._robot)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._method.remote(self._robot, *args, **kwargs)


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
