"""The cerebellum agent: one per robot. It registers the robot and its skills in the shared
memory, heartbeats, and runs skill calls one at a time (skills declared `concurrent` may
run beside), idempotently per call id, with progress, deadlines and cancellation.

A plain class: `robo_os.cerebellum.actor.AgentActor` is its thin Ray wrapper, and tests
or a single-process deployment use it directly (it implements `AgentHandle`).

    agent = CerebellumAgent(robot, memory, discover(), AgentSettings())
    await agent.start()
    result = await agent.run(SkillCall(call_id="t1/s1/1", robot=robot.id, skill="pick", args={...}))
    await agent.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from robo_os_memory import Memory
from robo_os_memory.models import RobotState, RobotStatusValue

from .. import tracing
from ..contracts import ErrorCode, SkillCall, SkillResult
from ..errors import ServiceUnavailableError
from ..keys import AgentKeys
from ..settings import AgentSettings
from ..skill.context import CancelToken, SkillContext
from ..skill.invoke import INFRASTRUCTURE, Skill
from ..skill.observation import observer_of
from ..skill.parts import parts_of
from ..skill.recording import record_facts
from ..skill.registry import SkillRegistry
from ..skill.robot import Robot
from ..skill.spec import SkillSpec
from .agent_state import (
    CallResults,
    CallRun,
    HeartbeatBatch,
    StatusWriter,
    Tombstones,
    acquire_within,
    driver_place,
    driver_reach,
    driver_slot,
    heartbeat_until,
    stamped,
)
from .reconcile import Reconciler
from .routing import resolve_skill, wants_instruction

if TYPE_CHECKING:
    from .robot_llm import RobotLLM

__all__ = ["INSTRUCT", "CerebellumAgent"]

log = logging.getLogger(__name__)

INSTRUCT = "instruct"
"""The skill name of a natural-language subtask (robot-side LLM mode)."""

DEFAULT_RESULT_TTL_S = 86_400.0
RECONCILE_TIMEOUT_S = 5.0
"""A reconciliation that takes longer is given up (the result goes back without it)."""
_CALL_FIELDS = ("current_subtask", "activity", "progress")


class CerebellumAgent:
    """Runs one robot's skills. `start()` before `run()`, `stop()` at the end.

    robot: the driver (connected by `start`, closed by `stop`). memory: a connected
    Memory (not closed by the agent: its owner closes it). registry: the skills this
    robot may offer; it offers those whose capabilities the robot has.
    settings: cancel grace period and the robot-side LLM mode. heartbeat_interval_s:
    default the memory's. node: the Ray node id recorded in the robot's record.
    place / reach: where the robot is and which places it reaches without moving, if
    the driver does not say (`robot.place` / `robot.reach` attributes).
    extra_capabilities: added to the driver's (e.g. what its MCP servers offer).
    llm: the robot's own model for `instruct` calls (needs `settings.llm_subtasks`).
    """

    def __init__(
        self,
        robot: Robot,
        memory: Memory,
        registry: SkillRegistry,
        settings: AgentSettings | None = None,
        *,
        heartbeat_interval_s: float | None = None,
        node: str | None = None,
        place: str | None = None,
        reach: Sequence[str] = (),
        extra_capabilities: Iterable[str] = (),
        llm: RobotLLM | None = None,
        result_ttl_s: float = DEFAULT_RESULT_TTL_S,
        heartbeats: HeartbeatBatch | None = None,
    ) -> None:
        self.robot = robot
        self.memory = memory
        self.registry = registry
        self.settings = settings or AgentSettings()
        self.heartbeat_interval_s = heartbeat_interval_s or memory.heartbeat_interval_s
        self._heartbeats = heartbeats
        self.node = node
        self._place = place
        self._reach = tuple(reach)
        self.capabilities = frozenset(robot.capabilities) | frozenset(extra_capabilities)
        self.llm = llm if self.settings.llm_subtasks else None
        self.id = robot.id
        self.skills: dict[str, Skill] = {}
        self._results = CallResults(
            memory.redis, AgentKeys(memory.keys.prefix, self.id), ttl_s=result_ttl_s
        )
        self._writer = StatusWriter(
            f"agent:{self.id}",
            lambda fields: memory.update_robot(self.id, by=self.id, **fields),
            written={"status": RobotStatusValue.idle, **dict.fromkeys(_CALL_FIELDS)},
        )
        self._running: dict[str, CallRun] = {}
        self._cancelled = Tombstones()
        self._lock = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None
        self._halt = asyncio.Event()
        self._loggers: dict[str, logging.Logger] = {}
        self._started = False
        self._stopping = False
        self._log = logging.LoggerAdapter(log, {"robot": self.id})
        observer = observer_of(robot) if self.settings.reconcile != "off" else None
        self.reconciler = Reconciler(self.id, observer, memory) if observer else None
        """Corrects memory from the robot's observation (drivers that observe only)."""
        self._periodic: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> RobotState:
        """Connect the robot, register it and its skills in memory, start heart-beating.
        Raises ServiceUnavailableError (robot closed again) if the robot cannot connect."""
        try:
            await self.robot.connect()
        except Exception as e:
            with contextlib.suppress(Exception):
                await self.robot.close()
            raise ServiceUnavailableError(
                f"robot {self.id} could not connect: {type(e).__name__}: {e}"
            ) from e
        self.skills = {s.name: s for s in self.registry.for_capabilities(self.capabilities)}
        specs = {name: s.spec for name, s in self.skills.items()}
        if self.llm is not None:
            specs[INSTRUCT] = self.llm.instruct_spec()
        loaded = await self._results.load()
        state = await self.memory.register_robot(
            RobotState(
                id=self.id,
                embodiment=self.robot.embodiment,
                capabilities=tuple(sorted(self.capabilities)),
                skills=tuple(sorted(specs)),
                pose=await self.robot.pose(),
                place=await driver_place(self.robot) or self._place,
                slot=await driver_slot(self.robot),
                reach=driver_reach(self.robot) or self._reach,
                status=RobotStatusValue.idle,
                node=self.node,
            ),
            by=self.id,
        )
        await self.memory.set_robot_skills(
            self.id, {n: s.model_dump(mode="json") for n, s in specs.items()}
        )
        self._writer.start()
        if self._heartbeats is not None:  # the host's one loop beats for all its robots
            await self._heartbeats.add(self.id)
        else:
            self._heartbeat = asyncio.create_task(
                heartbeat_until(self.memory, self.id, self.heartbeat_interval_s, self._halt),
                name=f"heartbeat:{self.id}",
            )
        self._started = True
        if self.reconciler is not None and self.settings.reconcile_interval_s is not None:
            self._periodic = asyncio.create_task(
                self._reconcile_every(self.settings.reconcile_interval_s),
                name=f"reconcile:{self.id}",
            )
        self._log.info(
            "agent %s started: %d skills (%s), %d stored results, node %s",
            self.id,
            len(specs),
            ", ".join(sorted(specs)),
            loaded,
            self.node,
        )
        return state

    async def stop(self, reason: str = "agent stopping") -> None:
        """Cancel running calls, mark the robot `stopped`, stop heart-beating, close the
        robot. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        for run in list(self._running.values()):
            run.token.cancel(reason)
        pending = [r.done for r in self._running.values()]
        if pending:
            await asyncio.wait(pending, timeout=self.settings.cancel_grace_s * 2)
        self._halt.set()
        if self._heartbeats is not None:
            self._heartbeats.discard(self.id)
        if self._periodic is not None:
            self._periodic.cancel()
            await asyncio.wait({self._periodic}, timeout=RECONCILE_TIMEOUT_S)
        if self._heartbeat is not None:
            # redis-py 8 may swallow a cancel that lands mid-command, so the beat loop
            # also watches `_halt`; cancel() only shortens a wait
            done, _ = await asyncio.wait({self._heartbeat}, timeout=self.heartbeat_interval_s * 2)
            if not done:
                self._heartbeat.cancel()
                await asyncio.wait({self._heartbeat}, timeout=self.heartbeat_interval_s * 2)
        await self._writer.close()
        if self._started:
            try:
                await self.memory.update_robot(
                    self.id,
                    status=RobotStatusValue.stopped,
                    current_subtask=None,
                    activity=None,
                    progress=None,
                    by=self.id,
                )
            except Exception as e:  # the robot still has to be closed
                self._log.warning("agent %s: could not mark the robot stopped: %s", self.id, e)
        try:
            await self.robot.close()
        finally:
            self._log.info("agent %s stopped", self.id)

    # -- AgentHandle ---------------------------------------------------------------------
    async def run(self, call: SkillCall) -> SkillResult:
        """Run `call` to the end; never raises for a skill's failure. A finished call id
        returns its stored result; a running one is awaited, never started twice."""
        known = self._results.get(call.call_id)
        if known is not None:
            return known
        running = self._running.get(call.call_id)
        if running is not None:
            return await asyncio.shield(running.done)
        run = CallRun(call, CancelToken(), asyncio.get_running_loop().create_future())
        reason = self._cancelled.ids.pop(call.call_id, None)
        if reason is not None:
            run.token.cancel(reason)
        self._running[call.call_id] = run
        try:
            with tracing.span(
                "skill",
                traceparent=call.traceparent,
                task_id=call.task_id,
                skill=call.skill,
                robot=self.id,
                call_id=call.call_id,
            ) as span:
                result = await self._execute(run)
                span.set_attribute("robo_os.result", result.error or "ok")
        except asyncio.CancelledError:
            # the agent itself is being torn down: whoever awaits this call hears so
            run.done.set_result(
                SkillResult.failure(ErrorCode.cancelled, f"agent {self.id} stopped during the call")
            )
            self._running.pop(call.call_id, None)
            raise
        except Exception as e:  # a bug in the agent; the brain still gets a result
            self._log.exception("agent %s: %s failed inside the agent", self.id, call.call_id)
            result = SkillResult.failure(
                ErrorCode.internal, f"agent {self.id}: {type(e).__name__}: {e}"
            )
        if result.ok:
            await self._record_facts(call)
        if self.reconciler is not None and (
            not result.ok or self.settings.reconcile == "always"
        ):
            result = await self._reconciled(call, result)
        if self._stopping and result.error == ErrorCode.cancelled:
            # cut short because this agent stops (its stack shuts down), not the call's
            # answer: not kept, so the same call id re-sent after a restart runs again
            result = result.model_copy(update={"data": {**result.data, INFRASTRUCTURE: True}})
        if result.data.get(INFRASTRUCTURE) is True:
            # not the call's answer: a re-dispatch (a restarted brain, a retry) runs it again
            self._log.warning(
                "agent %s: %s failed for an infrastructure reason; not kept: %s",
                self.id,
                call.call_id,
                result.message,
            )
        else:
            self._results.remember(call.call_id, result)
            self._writer.submit(lambda: self._results.store(call.call_id, result))
        self._running.pop(call.call_id, None)
        run.done.set_result(result)
        return result

    async def _record_facts(self, call: SkillCall) -> None:
        """Write what the call's success made true of its skill's recorded facts
        (robo_os.skill.recording), before the brain hears of it."""
        skill = self.skills.get(call.skill)
        if skill is None or not skill.spec.facts:
            return
        try:
            await record_facts(self.memory, skill.spec, call.args, self.id)
        except Exception as e:  # the skill did succeed; the planners re-read memory
            self._log.warning(
                "agent %s: %s: could not record its facts: %s", self.id, call.call_id, e
            )

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        """Stop a running or queued call (it returns `cancelled` within the grace period);
        True if there was one. A cancel that arrives before its call is remembered."""
        run = self._running.get(call_id)
        if run is None:
            if self._results.get(call_id) is None:
                self._cancelled.add(call_id, reason)
            return False
        run.token.cancel(reason)
        self._log.info("agent %s: cancel %s (%s)", self.id, call_id, reason)
        return True

    # -- reconciliation ------------------------------------------------------------------
    async def _reconciled(self, call: SkillCall, result: SkillResult) -> SkillResult:
        """`result` with what reconciling after it corrected (`data["reconciled"]`), so
        that the brain, and the replanner reading memory, start from what is true."""
        assert self.reconciler is not None
        about = [v for v in call.args.values() if isinstance(v, str)]
        try:
            rec = await asyncio.wait_for(
                self.reconciler.run(f"{call.skill} {result.error or 'ok'}", about),
                RECONCILE_TIMEOUT_S,
            )
        except Exception as e:  # observing failed: the failure still goes back, unreconciled
            self._log.warning("agent %s: reconciling after %s failed: %s", self.id, call.call_id, e)
            return result
        if not rec.disagreements:
            return result
        return result.model_copy(update={"data": {**result.data, "reconciled": rec.as_data()}})

    async def reconcile(self, reason: str = "asked") -> int:
        """Reconcile now, between calls; how many disagreements were found (0 without an
        observing driver)."""
        if self.reconciler is None:
            return 0
        async with self._lock:  # not while a skill moves the robot
            return len((await self.reconciler.run(reason)).disagreements)

    async def _reconcile_every(self, interval_s: float) -> None:
        while not self._halt.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), interval_s)
                return
            if self._lock.locked():
                continue  # busy: a failure will reconcile, or the next round
            try:
                await asyncio.wait_for(self.reconcile("periodic"), RECONCILE_TIMEOUT_S)
            except Exception as e:  # a missed round is retried on the next
                self._log.warning("agent %s: periodic reconciliation failed: %s", self.id, e)

    # -- reading ---------------------------------------------------------------------------
    async def camera_image(self, target: str | None = None) -> bytes | None:
        """A PNG from the robot's camera (looking at `target`), or None if it has none."""
        camera = parts_of(self.robot).camera
        if camera is None:
            return None
        return (await camera.capture(target)).png

    def specs(self) -> list[SkillSpec]:
        specs = [s.spec for s in self.skills.values()]
        if self.llm is not None:
            specs.append(self.llm.instruct_spec())
        return sorted(specs, key=lambda s: s.name)

    @property
    def running(self) -> list[str]:
        return sorted(self._running)

    async def flush(self) -> None:
        """Wait until the status writes queued so far reached memory (tests, shutdown)."""
        await self._writer.flush()

    # -- execution ---------------------------------------------------------------------------
    def _resolve(self, call: SkillCall) -> Skill | SkillResult:
        extra = [INSTRUCT] if self.llm is not None else []
        return resolve_skill(call, self.id, self.skills, self.registry, self.capabilities, extra)

    def _wants_llm(self, call: SkillCall) -> bool:
        return self.llm is not None and wants_instruction(call, self.skills, INSTRUCT)

    async def _execute(self, run: CallRun) -> SkillResult:
        call = run.call
        started = time.time()
        if self._stopping:
            return SkillResult.failure(ErrorCode.cancelled, f"agent {self.id} is stopping")
        if not self._started:
            return SkillResult.failure(ErrorCode.robot_offline, f"agent {self.id} is not started")
        if self.llm is not None and self._wants_llm(call):
            return await self._instruct(run, self.llm, started)
        skill = self._resolve(call)
        if isinstance(skill, SkillResult):
            return stamped(skill, started)
        timeout_s = call.timeout_s or skill.spec.timeout_s
        if skill.spec.concurrent:
            run.concurrent = True
            deadline = time.monotonic() + timeout_s
            return await skill.run(
                call.args,
                self._context(run, deadline, track=False),
                grace_s=self.settings.cancel_grace_s,
            )
        return await self._exclusive(
            run,
            timeout_s,
            started,
            lambda deadline: skill.run(
                call.args, self._context(run, deadline), grace_s=self.settings.cancel_grace_s
            ),
        )

    async def _instruct(self, run: CallRun, llm: RobotLLM, started: float) -> SkillResult:
        call = run.call
        instruction = call.args.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            return stamped(
                SkillResult.failure(
                    ErrorCode.invalid_args, "instruct needs a non-empty `instruction` string"
                ),
                started,
            )
        steps = itertools.count(1)

        async def body(deadline: float) -> SkillResult:
            async def execute(name: str, args: dict[str, Any]) -> SkillResult:
                sub = call.model_copy(
                    update={"call_id": f"{call.call_id}#{next(steps)}", "skill": name, "args": args}
                )
                skill = self._resolve(sub)
                if isinstance(skill, SkillResult):
                    return skill
                self._status(activity=f"{INSTRUCT}: {name}")
                sub_deadline = min(deadline, time.monotonic() + skill.spec.timeout_s)
                return await skill.run(
                    args,
                    self._context(run, sub_deadline, call=sub),
                    grace_s=self.settings.cancel_grace_s,
                )

            specs = [s.spec for s in self.skills.values()]
            hint = None if call.skill == INSTRUCT else call.skill
            return await llm.run(
                self.id, instruction, specs, execute, deadline=deadline, cancel=run.token, hint=hint
            )

        return await self._exclusive(run, call.timeout_s or llm.timeout_s, started, body)

    async def _exclusive(
        self, run: CallRun, timeout_s: float, started: float, body: Any
    ) -> SkillResult:
        """Wait for the robot (bounded by the call's deadline and its cancel token), mark it
        busy, run `body(deadline)`, mark it idle."""
        call = run.call
        deadline = time.monotonic() + timeout_s
        if not await acquire_within(self._lock, run.token, deadline):
            if run.token.cancelled:
                return stamped(
                    SkillResult.failure(ErrorCode.cancelled, run.token.reason or "cancelled"),
                    started,
                )
            busy = ", ".join(
                r.call.call_id for r in self._running.values() if r.started and not r.concurrent
            )
            return stamped(
                SkillResult.failure(
                    ErrorCode.timeout,
                    f"robot {self.id} stayed busy ({busy or 'another call'})"
                    f" past the deadline of {call.call_id}",
                ),
                started,
            )
        try:
            run.started = True
            self._status(
                status=RobotStatusValue.busy,
                current_subtask=call.call_id,
                activity=call.skill,
                progress=None,
            )
            result: SkillResult = await body(deadline)
        finally:
            self._lock.release()
            self._status(
                status=RobotStatusValue.idle, current_subtask=None, activity=None, progress=None
            )
        self._log.info(
            "agent %s: %s %s -> %s%s in %.3fs",
            self.id,
            call.call_id,
            call.skill,
            result.status,
            f" ({result.error})" if result.error else "",
            (result.finished_at or time.time()) - (result.started_at or started),
        )
        return result

    def _context(
        self, run: CallRun, deadline: float, *, track: bool = True, call: SkillCall | None = None
    ) -> SkillContext:
        call = call or run.call

        def progress(fraction: float, message: str) -> None:
            if not track:
                return
            activity = f"{call.skill}: {message}" if message else call.skill
            self._status(progress=fraction, activity=activity)

        return SkillContext(
            robot=self.robot,
            memory=self.memory,
            call=call,
            logger=logging.LoggerAdapter(
                self._skill_logger(call.skill), {"robot": self.id, "call_id": call.call_id}
            ),
            deadline=deadline,
            cancel=run.token,
            progress_fn=progress,
        )

    def _skill_logger(self, skill: str) -> logging.Logger:
        logger = self._loggers.get(skill)
        if logger is None:
            logger = self._loggers[skill] = logging.getLogger(f"robo_os.skills.{skill}")
        return logger

    def _status(self, **fields: Any) -> None:
        self._writer.update(**fields)
