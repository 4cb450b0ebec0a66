"""Dispatchers: how the brain runs a skill call on a robot's agent.

`RayDispatcher` reaches each agent as the named Ray actor `agent:<robot>` and awaits the
call's ObjectRef with a deadline. `LocalDispatcher` calls in-process `AgentHandle`s the
same way (same errors, same deadline and cancel behaviour); it is what tests and
single-process deployments use.

Both leave a call running on the agent when the awaiting side gives up (a restarted
brain re-dispatches the same call id and the agent answers from its own record), and
both turn "the agent is gone" into RobotUnavailableError and a missed deadline into
DeadlineExceeded after asking the agent to cancel the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...agent_protocol import (
    AGENT_HOST_PREFIX,
    AgentHandle,
    HostedAgent,
    agent_actor_name,
    result_from_wire,
)
from ...contracts import ErrorCode, SkillCall, SkillResult
from ...errors import DeadlineExceeded, RobotUnavailableError, ServiceUnavailableError

if TYPE_CHECKING:
    from ...settings import RaySettings

__all__ = ["LocalDispatcher", "RayDispatcher"]

log = logging.getLogger(__name__)

RAY_CHECK_S = 3.0
CAMERA_TIMEOUT_S = 10.0
"""How long GET /v1/robots/{id}/camera waits for a robot's camera frame."""
"""How long /healthz waits for Ray's control store to list its nodes."""


class LocalDispatcher:
    """Runs calls on in-process agents. `remove(robot)` makes the agent unreachable and
    fails its in-flight calls with RobotUnavailableError, as an actor death would."""

    def __init__(
        self, agents: Mapping[str, AgentHandle] | None = None, *, cancel_timeout_s: float = 5.0
    ) -> None:
        self._agents: dict[str, AgentHandle] = dict(agents or {})
        self._gone: dict[str, asyncio.Future[str]] = {}
        # Calls keep running on the agent when their awaiter gives up; hold references
        # so the loop does not garbage-collect them mid-run.
        self._jobs: set[asyncio.Future[SkillResult]] = set()
        self.cancel_timeout_s = cancel_timeout_s

    def add(self, robot: str, agent: AgentHandle) -> None:
        self._agents[robot] = agent
        self._gone.pop(robot, None)

    def remove(self, robot: str, reason: str = "agent removed") -> None:
        self._agents.pop(robot, None)
        gone = self._gone.pop(robot, None)
        if gone is not None and not gone.done():
            gone.set_result(reason)

    @property
    def robots(self) -> list[str]:
        return sorted(self._agents)

    def _gone_future(self, robot: str) -> asyncio.Future[str]:
        fut = self._gone.get(robot)
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._gone[robot] = fut
        return fut

    async def run(self, call: SkillCall, *, timeout_s: float) -> SkillResult:
        agent = self._agents.get(call.robot)
        if agent is None:
            raise RobotUnavailableError(f"no agent for robot {call.robot!r}")
        gone = self._gone_future(call.robot)
        job = asyncio.ensure_future(agent.run(call))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        waiting: set[asyncio.Future[Any]] = {job, gone}
        done, _ = await asyncio.wait(
            waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if job in done:
            return _result_of(job, call)
        if gone in done:
            raise RobotUnavailableError(
                f"agent of robot {call.robot!r} went away during {call.call_id}: {gone.result()}"
            )
        await self._cancel_quietly(agent, call, "deadline exceeded")
        raise DeadlineExceeded(f"{call.call_id} on {call.robot}: no result after {timeout_s:.1f}s")

    async def _cancel_quietly(self, agent: AgentHandle, call: SkillCall, reason: str) -> None:
        try:
            await asyncio.wait_for(agent.cancel(call.call_id, reason), self.cancel_timeout_s)
        except Exception as e:  # the call already timed out; a failing cancel must not hide that
            log.warning("cancel of %s on %s failed: %s", call.call_id, call.robot, e)

    async def cancel(self, robot: str, call_id: str, reason: str = "cancelled") -> bool:
        agent = self._agents.get(robot)
        if agent is None:
            return False
        return bool(await agent.cancel(call_id, reason))

    async def camera(self, robot: str, target: str | None = None) -> bytes | None:
        """A PNG of the robot's camera now (looking at `target`), None if it has none.
        RobotUnavailableError if there is no agent for it."""
        agent = self._agents.get(robot)
        if agent is None:
            raise RobotUnavailableError(f"no agent for robot {robot!r}")
        capture = getattr(agent, "camera_image", None)
        if capture is None:
            return None
        image = await asyncio.wait_for(capture(target), CAMERA_TIMEOUT_S)
        return image if isinstance(image, bytes) and image else None

    async def close(self) -> None:
        # Calls still running belong to the agents; a brain that stops does not stop them.
        self._gone.clear()

    def health(self) -> dict[str, Any]:
        return {"ok": True, "kind": "local", "agents": len(self._agents)}


def _result_of(job: asyncio.Future[SkillResult], call: SkillCall) -> SkillResult:
    if job.cancelled():
        return SkillResult.failure(ErrorCode.cancelled, f"{call.call_id} was cancelled in-process")
    exc = job.exception()
    if exc is None:
        result = job.result()
        if not isinstance(result, SkillResult):
            return SkillResult.failure(
                ErrorCode.internal,
                f"agent of {call.robot} returned {type(result).__name__}, not a SkillResult",
            )
        return result
    if isinstance(exc, RobotUnavailableError | DeadlineExceeded):
        raise exc
    # Agents must not raise for skill failures; one that does has a bug we report as such.
    return SkillResult.failure(
        ErrorCode.internal, f"agent of {call.robot} raised {type(exc).__name__}: {exc}"
    )


class RayDispatcher:
    """Runs calls on the agents' Ray actors (`agent_actor_name(robot)` in `namespace`),
    or, for a robot without its own actor, on the agent host that runs it (the named
    actors `agent-host:<i>`, asked which robots they run; robo_os/cerebellum/host.py)."""

    def __init__(
        self, namespace: str, *, lookup_timeout_s: float = 10.0, cancel_timeout_s: float = 5.0
    ) -> None:
        self.namespace = namespace
        self.lookup_timeout_s = lookup_timeout_s
        self.cancel_timeout_s = cancel_timeout_s
        self._handles: dict[str, Any] = {}
        self._owns_ray = False

    @classmethod
    def open(cls, settings: RaySettings, **kwargs: Any) -> RayDispatcher:
        """A dispatcher for the configured namespace; joins Ray (`settings.address`, or a
        local runtime) if this process is not connected yet, and leaves it on close."""
        import ray

        owns = False
        if not ray.is_initialized():
            try:
                ray.init(
                    address=settings.address,
                    namespace=settings.namespace,
                    include_dashboard=False,
                    configure_logging=False,
                    log_to_driver=False,
                )
            except Exception as e:
                raise ServiceUnavailableError(
                    f"cannot join Ray at {settings.address or 'a local runtime'}: {e}"
                ) from e
            owns = True
        dispatcher = cls(settings.namespace, **kwargs)
        dispatcher._owns_ray = owns
        return dispatcher

    async def _handle(self, robot: str) -> Any:
        handle = self._handles.get(robot)
        if handle is not None:
            return handle
        import ray

        name = agent_actor_name(robot)
        try:
            handle = await asyncio.wait_for(
                asyncio.to_thread(ray.get_actor, name, namespace=self.namespace),
                self.lookup_timeout_s,
            )
        except ValueError as e:
            hosted = await self._hosted(robot)
            if hosted is None:
                raise RobotUnavailableError(
                    f"no agent actor {name!r} (nor an agent host running {robot!r})"
                    f" in Ray namespace {self.namespace!r}"
                ) from e
            return hosted
        except TimeoutError as e:
            raise RobotUnavailableError(
                f"looking up agent actor {name!r} took over {self.lookup_timeout_s}s"
            ) from e
        self._handles[robot] = handle
        return handle

    async def _hosted(self, robot: str) -> HostedAgent | None:
        """The robot in one of the namespace's agent hosts (each asked for its robots;
        every hosted robot found is remembered), or None."""
        import ray

        def hosts() -> list[Any]:
            out = []
            for n in ray.util.list_named_actors(all_namespaces=True):
                if n["namespace"] != self.namespace or not n["name"].startswith(AGENT_HOST_PREFIX):
                    continue
                with contextlib.suppress(ValueError):  # gone since it was listed
                    out.append(ray.get_actor(n["name"], namespace=self.namespace))
            return out

        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                found = await asyncio.to_thread(hosts)
                robots = await asyncio.gather(
                    *(asyncio.wrap_future(h.robots.remote().future()) for h in found),
                    return_exceptions=True,
                )
        except TimeoutError as e:
            raise RobotUnavailableError(
                f"looking up the agent hosts took over {self.lookup_timeout_s}s"
            ) from e
        for host, names in zip(found, robots, strict=True):
            if isinstance(names, BaseException):  # a dead host: its robots are unavailable
                continue
            for name in names:
                self._handles.setdefault(name, HostedAgent(host, name))
        hosted: HostedAgent | None = self._handles.get(robot)
        return hosted

    async def run(self, call: SkillCall, *, timeout_s: float) -> SkillResult:
        from ray.exceptions import RayActorError, RayError, RayTaskError

        handle = await self._handle(call.robot)
        try:
            ref = handle.run.remote(call.model_dump(mode="json"))
            # wait_for cancels only our local future on timeout; the actor call goes on
            # until the agent honours the cancel below.
            result = await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout_s)
        except TimeoutError as e:
            await self._cancel_quietly(handle, call, "deadline exceeded")
            raise DeadlineExceeded(
                f"{call.call_id} on {call.robot}: no result after {timeout_s:.1f}s"
            ) from e
        except RayActorError as e:
            self._handles.pop(call.robot, None)
            raise RobotUnavailableError(
                f"agent of robot {call.robot!r} died during {call.call_id}: {type(e).__name__}"
            ) from e
        except RayTaskError as e:
            return SkillResult.failure(ErrorCode.internal, f"agent of {call.robot} raised: {e}")
        except RayError as e:
            self._handles.pop(call.robot, None)
            raise RobotUnavailableError(
                f"agent of robot {call.robot!r} unreachable during {call.call_id}:"
                f" {type(e).__name__}: {e}"
            ) from e
        return result_from_wire(result)

    async def _cancel_quietly(self, handle: Any, call: SkillCall, reason: str) -> None:
        try:
            await asyncio.wait_for(
                asyncio.wrap_future(handle.cancel.remote(call.call_id, reason).future()), self.cancel_timeout_s
            )
        except Exception as e:  # best effort: the deadline error is what the caller needs
            log.warning("cancel of %s on %s failed: %s", call.call_id, call.robot, e)

    async def cancel(self, robot: str, call_id: str, reason: str = "cancelled") -> bool:
        from ray.exceptions import RayError

        try:
            handle = await self._handle(robot)
            return bool(
                await asyncio.wait_for(
                    asyncio.wrap_future(handle.cancel.remote(call_id, reason).future()), self.cancel_timeout_s
                )
            )
        except (RobotUnavailableError, RayError, TimeoutError) as e:
            self._handles.pop(robot, None)
            log.warning("cancel of %s on %s failed: %s", call_id, robot, e)
            return False

    async def camera(self, robot: str, target: str | None = None) -> bytes | None:
        """A PNG of the robot's camera now (looking at `target`), None if it has none.
        RobotUnavailableError if its agent cannot be reached or does not answer in time."""
        from ray.exceptions import RayError

        handle = await self._handle(robot)
        try:
            image = await asyncio.wait_for(
                asyncio.wrap_future(handle.camera_image.remote(target).future()), CAMERA_TIMEOUT_S
            )
        except (RayError, TimeoutError) as e:
            self._handles.pop(robot, None)
            raise RobotUnavailableError(f"the camera of {robot!r} did not answer: {e}") from e
        return image if isinstance(image, bytes) and image else None

    async def close(self) -> None:
        self._handles.clear()
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False

    def health(self) -> dict[str, Any]:
        import ray

        ok = ray.is_initialized()
        return {
            "ok": ok,
            "kind": "ray",
            "namespace": self.namespace,
            **({} if ok else {"error": "Ray is not initialised"}),
        }

    async def health_check(self) -> dict[str, Any]:
        """/healthz's probe: asks Ray's control store for its live nodes (in a thread: the
        call blocks), so a Ray that went away is reported, not just a local flag."""
        import ray

        out = self.health()
        if not out["ok"]:
            return out
        try:
            nodes = await asyncio.wait_for(asyncio.to_thread(ray.nodes), RAY_CHECK_S)
        except Exception as e:  # Ray's errors vary by version; any of them is a finding
            return {**out, "ok": False, "error": f"Ray did not answer: {type(e).__name__}: {e}"}
        alive = sum(1 for n in nodes if n.get("Alive"))
        if not alive:
            return {**out, "ok": False, "error": "Ray has no live node"}
        return {**out, "nodes": alive}
