"""One task's execution: plan it, run its DAG, correct failures, end it.

A `TaskRunner` is a small actor: subtask calls run as their own asyncio tasks and report
back through the runner's inbox, as do cancel requests and lost robots; the runner
handles one message at a time, so the task's state has one writer in this process
(every write is still versioned in Redis, so a second process would find out).

What to do about a failed subtask (retry, reassign, replan, fail, stop) is decided by
the pure `policy.decide` from the failure's facts and a view of the task; the runner
applies the action, `Corrector` doing its writes (see docs/execution.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

from ...contracts import (
    TERMINAL_TASK_STATUSES,
    ErrorCode,
    SkillCall,
    SkillResult,
    SubtaskState,
    SubtaskStatus,
    Task,
    TaskEventKind,
    TaskStatus,
)
from ...errors import DeadlineExceeded, RobotUnavailableError
from .correction import Corrector
from .lanes import LaneClosed
from .plan_ops import ready_subtasks
from .policy import Fail, Failure, Reassign, Replan, Retry, Stop, decide, settle
from .replanning import Replanner
from .store import TaskMeta
from .task_state import RunnerDeps, TaskState

__all__ = ["RunnerDeps", "TaskRunner", "call_id_for"]

log = logging.getLogger(__name__)


def call_id_for(task_id: str, subtask_id: str, attempt: int) -> str:
    """The idempotency key of one attempt: a re-dispatch of the same attempt (after a
    brain restart) reaches the agent with the same id and never runs twice."""
    return f"{task_id}/{subtask_id}/{attempt}"


@dataclass(eq=False)
class _Flight:
    subtask: str
    robot: str
    call_id: str
    attempt: int
    running: bool = False
    started: float = 0.0
    job: asyncio.Task[None] | None = None


@dataclass
class _Done:
    flight: _Flight
    result: SkillResult


@dataclass
class _RobotLost:
    robot: str
    reason: str


@dataclass
class _Signal:
    kind: str
    """"cancel", "cancel_deadline" or "wake" (a retry's backoff ended)."""
    subtask: str | None = None


class TaskRunner(TaskState):
    def __init__(self, deps: RunnerDeps, task: Task, meta: TaskMeta) -> None:
        super().__init__(deps, task, meta)
        self.inbox: asyncio.Queue[_Done | _RobotLost | _Signal] = asyncio.Queue()
        self.flights: dict[str, _Flight] = {}
        self.not_before: dict[str, float] = {}
        self.failures: list[str] = []
        self.finished = asyncio.Event()
        self._side_jobs: set[asyncio.Task[Any]] = set()
        self.planning = Replanner(self, deps.planner)
        self.correct = Corrector(
            self,
            planner=deps.planner,
            allocator=deps.allocator,
            lanes=deps.lanes,
            rebalance=deps.settings.rebalance,
        )

    # -- outside world -----------------------------------------------------------------
    def cancel(self, reason: str) -> None:
        if self.request_cancel(reason):
            self.inbox.put_nowait(_Signal("cancel"))

    def robot_lost(self, robot: str, reason: str) -> None:
        if any(f.robot == robot for f in self.flights.values()):
            self.inbox.put_nowait(_RobotLost(robot, reason))

    def progress(self, call_id: str, fields: dict[str, object]) -> None:
        """Record an agent's progress report on the running call as an event (the task
        record itself does not change)."""
        flight = next((f for f in self.flights.values() if f.call_id == call_id), None)
        if flight is None or not flight.running:
            return
        value = fields.get("progress")
        activity = fields.get("activity")
        ev = self.event(
            TaskEventKind.subtask_progress,
            str(activity or ""),
            subtask=flight.subtask,
            robot=flight.robot,
            call_id=call_id,
            **({"progress": float(value)} if isinstance(value, int | float) else {}),
        )
        self._side_job(self.d.store.append_events(self.task.id, [ev]))

    # -- main ----------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            if self.task.status not in TERMINAL_TASK_STATUSES:
                await self._run()
        except asyncio.CancelledError:
            # The brain is stopping: the task stays as stored; a restarted brain resumes it.
            for f in self.flights.values():
                if f.job is not None:
                    f.job.cancel()
            raise
        except Exception as e:  # a bug here must end this task, never the brain
            log.exception("task %s: scheduler error", self.task.id)
            await self._abandon_flights("the task failed")
            with contextlib.suppress(Exception):
                await self.finish(
                    TaskStatus.failed, f"internal error in the scheduler: {type(e).__name__}: {e}"
                )
        finally:
            self.finished.set()

    async def _run(self) -> None:
        if not self.task.subtasks:
            if not await self.planning.plan_task():
                return
        elif self.task.status != TaskStatus.running:
            await self.update(
                lambda t, m: (
                    t.model_copy(update={"status": TaskStatus.running}),
                    [
                        self.event(
                            TaskEventKind.planned,
                            "explicit plan",
                            source=m.planner or "explicit",
                            subtasks=len(t.subtasks),
                        )
                    ],
                )
            )
        self.failures = [
            f"{s.id}: {(s.result.message if s.result else '') or 'failed'}"
            for s in self.task.subtasks
            if s.status == SubtaskStatus.failed and s.id not in self.meta.resolved_failures
        ]
        for s in self.task.subtasks:
            if s.status == SubtaskStatus.running:  # it was running when the brain stopped
                self._launch(s, resumed=True)
        await self._loop()

    async def _loop(self) -> None:
        while True:
            if self.cancel_reason is not None:
                if not self.flights:
                    await self.finish(TaskStatus.cancelled, self.cancel_reason)
                    return
            elif self.failures:
                if not self.flights:
                    if not await self._replan():
                        return
                    continue
            else:
                await self._start_ready()
                if self.failures:
                    continue
                if not self.flights:
                    if self.all_done():
                        await self.finish(TaskStatus.succeeded, "all subtasks succeeded")
                        return
                    if not self.not_before:
                        await self.finish(TaskStatus.failed, self.stuck_reason())
                        return
            await self._handle(await self.inbox.get())

    async def _replan(self) -> bool:
        """Replan after the failures (the running subtasks have ended); True to go on."""
        failure = "; ".join(self.failures)
        step = settle(self.view())
        if isinstance(step, Fail):
            await self.finish(TaskStatus.failed, f"{failure} ({step.reason})")
            return False
        if not await self.planning.replan_task(failure):
            return False
        self.failures.clear()
        self.not_before.clear()
        return True

    # -- starting subtasks ------------------------------------------------------------
    def hold_back(self, sub_id: str, delay_s: float) -> None:
        """Keep a ready subtask from starting for `delay_s` (a retry's backoff)."""
        loop = asyncio.get_running_loop()
        self.not_before[sub_id] = loop.time() + delay_s
        loop.call_later(delay_s, self.inbox.put_nowait, _Signal("wake", sub_id))

    async def _start_ready(self) -> None:
        for ready in ready_subtasks(self.task):
            if ready.id in self.flights or ready.id in self.not_before:
                continue
            sub = await self._place(self.sub(ready.id))
            if sub is not None:
                self._launch(sub)

    async def _place(self, sub: SubtaskState) -> SubtaskState | None:
        """The subtask on the robot that should run it now (moved if need be), or None
        when no robot can (then it failed and waits for a replan)."""
        if await self.correct.can_run(sub):
            return await self.correct.balance(sub)
        view = self.view()
        failure = Failure(
            sub.id,
            sub.robot,
            ErrorCode.robot_offline,
            sub.attempts,
            placement=True,
            excluded=self.correct.excluded(sub.id),
        )
        action = decide(failure, view)
        if isinstance(action, Reassign):
            if await self.correct.move(sub, action.exclude, f"robot {sub.robot} is unavailable"):
                return self.sub(sub.id)
            action = decide(replace(failure, equivalent_free=False), view)
        if isinstance(action, Replan | Fail):
            result = SkillResult.failure(
                ErrorCode.robot_offline,
                f"robot {sub.robot} is unavailable and no equivalent robot can run {sub.skill}",
            )
            self.failures.append(await self.correct.fail(sub, result))
        return None

    def _launch(self, sub: SubtaskState, *, resumed: bool = False) -> None:
        attempt = max(1, sub.attempts) if resumed else sub.attempts + 1
        flight = _Flight(sub.id, sub.robot, call_id_for(self.task.id, sub.id, attempt), attempt)
        flight.job = asyncio.create_task(
            self._fly(flight, sub, resumed), name=f"robo-os-call-{flight.call_id}"
        )
        self.flights[sub.id] = flight

    async def _fly(self, flight: _Flight, sub: SubtaskState, resumed: bool) -> None:
        try:
            async with self.d.lanes.hold(flight.robot, flight.call_id):
                if self.cancel_reason is not None:
                    raise _NotStarted
                timeout_s = await self.d.timeouts.timeout_s(flight.robot, sub.skill)
                started = time.time()
                kind_msg = (
                    "resumed after a brain restart" if resumed else f"{sub.skill} on {flight.robot}"
                )
                event = self.event(
                    TaskEventKind.subtask_started,
                    kind_msg,
                    subtask=sub.id,
                    robot=flight.robot,
                    attempt=flight.attempt,
                    call_id=flight.call_id,
                    resumed=resumed,
                )
                if resumed:
                    await self.set_subtask(sub.id, event)
                else:
                    await self.set_subtask(
                        sub.id,
                        event,
                        status=SubtaskStatus.running,
                        attempts=flight.attempt,
                        robot=flight.robot,
                        started_at=started,
                        finished_at=None,
                    )
                if self.flights.get(sub.id) is not flight:
                    return  # aborted meanwhile (a cancel the store write swallowed)
                flight.running, flight.started = True, time.monotonic()
                call = SkillCall(
                    call_id=flight.call_id,
                    robot=flight.robot,
                    skill=sub.skill,
                    args=dict(sub.args),
                    task_id=self.task.id,
                    subtask_id=sub.id,
                    attempt=flight.attempt,
                    timeout_s=timeout_s,
                )
                # The agent enforces the skill's own timeout and answers `timeout`; ours is
                # the backstop for an agent that does not answer at all.
                result = await self.d.dispatcher.run(
                    call, timeout_s=timeout_s + self.d.cancel_grace_s + 5.0
                )
        except _NotStarted:
            result = SkillResult.failure(
                ErrorCode.cancelled, "the task was cancelled before the subtask started"
            )
        except RobotUnavailableError as e:
            result = SkillResult.failure(ErrorCode.robot_offline, str(e))
            if not isinstance(e, LaneClosed):  # the dispatcher found the agent gone: tell everyone
                await self.d.on_robot_unavailable(flight.robot, str(e))
        except DeadlineExceeded as e:
            result = SkillResult.failure(ErrorCode.timeout, str(e))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # e.g. Redis down while recording the start
            log.exception("task %s: dispatch of %s failed", self.task.id, flight.call_id)
            result = SkillResult.failure(
                ErrorCode.internal, f"dispatch failed: {type(e).__name__}: {e}"
            )
        self.inbox.put_nowait(_Done(flight, result))

    # -- messages ------------------------------------------------------------------------
    async def _handle(self, msg: _Done | _RobotLost | _Signal) -> None:
        if isinstance(msg, _Done):
            if self.flights.get(msg.flight.subtask) is msg.flight:
                del self.flights[msg.flight.subtask]
                await self._finished_call(msg.flight, msg.result)
        elif isinstance(msg, _RobotLost):
            for flight in [f for f in self.flights.values() if f.robot == msg.robot]:
                if flight.job is not None and flight.job.done():
                    continue  # its result is already in the inbox
                if flight.running:
                    self._side_job(
                        self.d.dispatcher.cancel(flight.robot, flight.call_id, "robot offline")
                    )
                await self._abort(
                    flight,
                    SkillResult.failure(
                        ErrorCode.robot_offline, f"robot {msg.robot} went offline: {msg.reason}"
                    ),
                )
        elif msg.kind == "cancel":
            for flight in list(self.flights.values()):
                if flight.running:
                    self._side_job(
                        self.d.dispatcher.cancel(
                            flight.robot, flight.call_id, self.cancel_reason or "cancelled"
                        )
                    )
                elif flight.job is not None and not flight.job.done():
                    await self._abort(
                        flight,
                        SkillResult.failure(
                            ErrorCode.cancelled, "the task was cancelled before the subtask started"
                        ),
                    )
            asyncio.get_running_loop().call_later(
                self.d.cancel_grace_s + 1.0, self.inbox.put_nowait, _Signal("cancel_deadline")
            )
        elif msg.kind == "cancel_deadline":
            await self._abandon_flights(
                f"no answer to the cancel within {self.d.cancel_grace_s + 1.0:.1f}s"
            )
        elif msg.kind == "wake" and msg.subtask is not None:
            self.not_before.pop(msg.subtask, None)

    async def _abort(self, flight: _Flight, result: SkillResult) -> None:
        if flight.job is not None:
            flight.job.cancel()
        self.flights.pop(flight.subtask, None)
        await self._finished_call(flight, result)

    async def _abandon_flights(self, why: str) -> None:
        for flight in list(self.flights.values()):
            await self._abort(flight, SkillResult.failure(ErrorCode.cancelled, why))

    def _side_job(self, work: Awaitable[Any]) -> None:
        """Run something whose outcome the task does not wait for (a cancel request to
        an agent, a progress event); failures are logged."""
        job = asyncio.ensure_future(work)
        self._side_jobs.add(job)
        job.add_done_callback(self._side_job_done)

    def _side_job_done(self, job: asyncio.Future[Any]) -> None:
        self._side_jobs.discard(job)
        if not job.cancelled() and job.exception() is not None:
            log.warning("task %s: side job failed: %s", self.task.id, job.exception())

    async def _finished_call(self, flight: _Flight, result: SkillResult) -> None:
        sub = self.sub(flight.subtask)
        took = time.monotonic() - flight.started if flight.running else 0.0
        common = {
            "attempt": flight.attempt,
            "call_id": flight.call_id,
            "duration_s": round(took, 3),
        }
        if result.ok:
            ev = self.event(
                TaskEventKind.subtask_succeeded,
                result.message,
                subtask=sub.id,
                robot=flight.robot,
                **common,
            )
            await self.set_subtask(
                sub.id, ev, status=SubtaskStatus.succeeded, result=result, finished_at=time.time()
            )
            return
        view = self.view()
        failure = Failure(
            sub.id,
            flight.robot,
            result.error or ErrorCode.internal,
            sub.attempts,
            excluded=self.correct.excluded(sub.id),
        )
        action = decide(failure, view)
        if isinstance(action, Reassign):
            code = failure.error.value
            reason = f"{code} on {flight.robot}: {result.message}"
            if await self.correct.move(sub, action.exclude, reason, result=result):
                return
            action = decide(replace(failure, equivalent_free=False), view)
        if isinstance(action, Retry):
            await self.correct.retry(sub, flight.robot, result, action.delay_s, common)
            if action.delay_s > 0:
                self.hold_back(sub.id, action.delay_s)
        elif isinstance(action, Stop):
            if flight.running:  # one never started stays pending; the end marks it skipped
                await self.correct.cancelled(sub, flight.robot, result, common)
        elif isinstance(action, Replan | Fail):
            self.failures.append(await self.correct.fail(sub, result, **common))


class _NotStarted(Exception):
    pass
