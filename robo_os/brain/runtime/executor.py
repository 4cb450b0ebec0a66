"""One task's execution: plan it, run its DAG, correct failures, end it.

A `TaskRunner` is a small actor: subtask calls run as their own asyncio tasks and report
back through the runner's inbox, as do cancel requests and lost robots; the runner
handles one message at a time, so the task's state has one writer in this process
(every write is still versioned in Redis, so a second process would find out).

What to do about a failed subtask (retry, reassign, replan, fail, stop) is decided by
the pure `policy.decide` from the failure's facts and a view of the task; the runner
applies the action, `Corrector` doing its writes (see docs/execution.md).

Redis going away mid-step is not the task's failure: the runner waits for it (bounded by
`scheduler.store_outage_s`) and resumes from the stored record (`outage.py`).

The emergency stop (`estop.py`) halts the runner: its running calls are cancelled
through the agents' cancel tokens and their subtasks go back to `pending` (not failed),
nothing is dispatched and the task is `paused` until the stop is released. A robot's own
stop does the same to that robot only: its calls are halted, its subtasks wait (they are
not moved to another robot) and no other work is moved onto it, while the task's other
robots go on; the task stays `running`. A subtask whose
skill needs approval waits in `awaiting_approval` until a person approves or rejects it
(a rejection is the subtask's failure: the task replans or fails, as for any failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

from ... import tracing
from ...contracts import (
    TERMINAL_TASK_STATUSES,
    ErrorCode,
    ObjectEnd,
    Plan,
    PlanProblem,
    SkillCall,
    SkillResult,
    Subtask,
    SubtaskState,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
    Waiting,
)
from ...errors import (
    ConflictError,
    DeadlineExceeded,
    NotFoundError,
    RobotUnavailableError,
    ServiceUnavailableError,
)
from ...skill.invoke import INFRASTRUCTURE, is_infrastructure_error
from .aftermath import Aftermath
from .approvals import approval, awaiting, check_awaiting, needs_approval, rejected
from .claims import ClaimWaitExpired, claimed_robots, links, named_objects, open_subtasks
from .correction import Corrector
from .lanes import LaneClosed
from .outage import is_store_outage, wait_for_store
from .plan_ops import ready_subtasks, remaining_plan
from .policy import Fail, Failure, Reassign, Replan, Retry, Stop, decide, settle
from .replanning import Replanner
from .store import FencedOff, TaskMeta
from .task_state import RunnerDeps, TaskState

__all__ = ["RunnerDeps", "TaskRunner", "call_id_for"]

log = logging.getLogger(__name__)


DECISION_WAIT_S = 10.0
"""How long an approval or rejection waits for the task's runner to take it."""

MAX_STALE_REPLANS = 3
"""Replans a task may make because a robot came back from another task in a state its
plan did not expect; after them its subtasks start unchecked (errors are corrected as
usual)."""


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
    halted: bool = False
    """The emergency stop interrupted it: a failure it ends with is not the skill's."""


@dataclass
class _Done:
    flight: _Flight
    result: SkillResult
    stale: str | None = None
    """Set when the subtask never started: after waiting for its robot, the world the
    other task left no longer fits it (the runner replans)."""


@dataclass
class _RobotLost:
    robot: str
    reason: str


@dataclass
class _Signal:
    kind: str
    """"cancel", "cancel_deadline", "wake" (a retry's backoff ended), "halt" (the
    emergency stop), "halt_deadline" or "release"."""
    subtask: str | None = None
    robots: tuple[str, ...] = ()
    """"halt" of these robots only (their own stop); () for every robot."""


@dataclass
class _Decision:
    """A person's answer to a subtask awaiting approval."""

    subtask: str
    approve: bool
    by: str
    reason: str
    answer: asyncio.Future[None]


class TaskRunner(TaskState):
    def __init__(self, deps: RunnerDeps, task: Task, meta: TaskMeta) -> None:
        super().__init__(deps, task, meta)
        self.inbox: asyncio.Queue[_Done | _RobotLost | _Signal | _Decision] = asyncio.Queue()
        self.flights: dict[str, _Flight] = {}
        self.not_before: dict[str, float] = {}
        self.failures: list[str] = []
        self.finished = asyncio.Event()
        self._side_jobs: set[asyncio.Task[Any]] = set()
        self.stale: str | None = None
        """Why the plan must be redone before anything else starts (a robot came back
        from another task in a state the plan did not expect)."""
        self._stale_replans = 0
        self.left_for_reconciler = False
        """Set when the runner stopped without ending its task: Redis stayed unreachable
        longer than `store_outage_s` (the scheduler's reconciler adopts the task)."""
        self.store_lost = asyncio.Event()
        """Set while the runner waits for an unreachable Redis (cleared once it resumes)."""
        self.outages = 0
        """Redis outages this runner waited through (or gave up on)."""
        self._specs: dict[str, dict[str, dict[str, Any]]] = {}
        self._objects: set[str] = set()
        """Skill specs and object names as last read (for runs and object claims)."""
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

    def halt(self, robots: tuple[str, ...] = ()) -> None:
        """The emergency stop was engaged (for these robots only, when named): cancel
        their running calls, start nothing on them."""
        self.inbox.put_nowait(_Signal("halt", robots=robots))

    def release(self) -> None:
        """The emergency stop (global, or a robot's own) was released: go on."""
        self.inbox.put_nowait(_Signal("release"))

    async def decide(self, subtask: str, *, approve: bool, by: str, reason: str = "") -> None:
        """Approve or reject a subtask awaiting approval (NotFoundError, ConflictError
        when it does not await one); returns once the answer is stored."""
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox.put_nowait(_Decision(subtask, approve, by, reason, answer))
        ended = asyncio.ensure_future(self.finished.wait())
        waiting: set[asyncio.Future[Any]] = {answer, ended}
        try:
            await asyncio.wait(
                waiting, timeout=DECISION_WAIT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ended.cancel()
        if answer.done():
            return answer.result()
        answer.cancel()  # not taken later either
        if self.finished.is_set():
            raise ConflictError(f"task {self.task.id} ended before the answer was taken")
        raise ServiceUnavailableError(
            f"task {self.task.id} did not take the answer within {DECISION_WAIT_S:.0f}s"
            " (is Redis reachable?); read the task, and answer again if it still waits"
        )

    def _stopped(self) -> bool:
        """The global stop: nothing of the task starts."""
        return self.d.estop is not None and self.d.estop.engaged

    def _held_by_robot_stop(self) -> bool:
        """Whether a ready subtask waits for its robot's own stop to be released."""
        return any(self.robot_stopped(r.robot) for r in ready_subtasks(self.task))

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

    async def finish(
        self,
        status: TaskStatus,
        message: str,
        problems: list[PlanProblem] | None = None,
        *,
        objects: list[ObjectEnd] | None = None,
    ) -> None:
        """End the task; first set down what its robots still hold (failed or cancelled)
        and record where every object it touched ended (`aftermath.py`)."""
        if self.task.status in TERMINAL_TASK_STATUSES:
            return
        if objects is None:
            after = Aftermath(self)
            try:
                objects = await after.run(status)
            except Exception as e:
                if is_store_outage(e):
                    raise
                log.exception("task %s: recording where its objects ended failed", self.task.id)
            else:
                tail = after.summary(objects or [])
                message = f"{message}; {tail}" if tail else message
        await super().finish(status, message, problems, objects=objects)

    # -- main ----------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while self.task.status not in TERMINAL_TASK_STATUSES:
                try:
                    await self._run()
                    break
                except FencedOff as e:
                    # another brain leads now and resumes the task from its record
                    log.warning("task %s: left to the leading brain: %s", self.task.id, e)
                    self._drop_flights()
                    return
                except Exception as e:
                    if not is_store_outage(e):
                        raise
                    if not await self._outlast_outage(e):
                        # the task stays as stored; the reconciler adopts it later
                        self.left_for_reconciler = True
                        return
        except asyncio.CancelledError:
            # The brain is stopping: the task stays as stored; a restarted brain resumes it.
            self._drop_flights()
            raise
        except Exception as e:  # a bug here must end this task, never the brain
            log.exception("task %s: scheduler error", self.task.id)
            await self._abandon_flights("the task failed")
            with contextlib.suppress(Exception):
                await self.finish(
                    TaskStatus.failed, f"internal error in the scheduler: {type(e).__name__}: {e}"
                )
        finally:
            if self.task.status in TERMINAL_TASK_STATUSES:
                # however it ended; a brain that is only stopping keeps them (stored)
                self.d.claims.release(self.task.id)
                self.d.lanes.release_claims(self.task.id)
            self.finished.set()

    def _drop_flights(self) -> None:
        """Stop following the calls in flight (they keep running on the agents; a resumed
        runner re-dispatches them under the same call ids and gets their answers)."""
        for f in self.flights.values():
            if f.job is not None:
                f.job.cancel()

    async def _outlast_outage(self, error: Exception) -> bool:
        """Redis went away mid-step: drop the in-memory step, wait for Redis (at most
        `store_outage_s`) and reload the task as stored, to resume it as a restarted brain
        would. False: the outage outlasted the wait; the runner stops without ending the
        task (its claims stay, as after a brain stop)."""
        log.warning("task %s: Redis unreachable, waiting for it: %s", self.task.id, error)
        self.outages += 1
        self.store_lost.set()
        self._drop_flights()
        self.flights.clear()
        self.not_before.clear()
        self.failures = []
        self.stale = None
        self.inbox = asyncio.Queue()
        bound = self.d.settings.store_outage_s
        end = time.monotonic() + bound
        while True:
            if not await wait_for_store(self.d.store, max(0.0, end - time.monotonic())):
                log.warning(
                    "task %s: Redis unreachable for %.0f s; left to the reconciler",
                    self.task.id,
                    bound,
                )
                return False
            try:
                self.task, self.meta = await self.d.store.get_with_meta(self.task.id)
                break
            except Exception as e:  # it went away again between the probe and the read
                if not is_store_outage(e):
                    raise
        self.store_lost.clear()
        log.info("task %s: Redis is back; resuming (status %s)", self.task.id, self.task.status)
        return True

    async def _run(self) -> None:
        if not self.task.subtasks:
            if not await self.planning.plan_task():
                return
        elif self.task.status not in (
            TaskStatus.running,
            TaskStatus.queued,
            TaskStatus.paused,
            TaskStatus.awaiting_approval,
        ):
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
        if not await self._claim_objects():
            return
        for s in self.task.subtasks:
            if s.status == SubtaskStatus.running:  # it was running when the brain stopped
                self._launch(s, resumed=True)
        await self._loop()

    # -- sharing the fleet (docs/execution.md, "How tasks share the fleet") ------------
    async def _read_world(self) -> None:
        memory = self.d.memory
        if memory is None:
            return
        self._specs = await self.d.timeouts.specs()
        self._objects = {o.name for o in await memory.list_objects()}

    def _linked(self) -> set[str]:
        """Subtasks whose robot's next subtask (of this task) must follow with nothing
        of another task in between."""
        return links(
            open_subtasks(self.task, self.meta.resolved_failures), self._specs, self._objects
        )

    def _sync_robot_claims(self) -> None:
        """Release the robots no run of this task keeps any more."""
        subs = open_subtasks(self.task, self.meta.resolved_failures)
        self.d.lanes.release_claims(self.task.id, claimed_robots(subs, self._linked()))

    async def _claim_objects(self) -> bool:
        """Claim the objects the open subtasks name, waiting in the fleet queue while
        other tasks hold them. After a wait the plan is checked against the world the
        holder left (and replanned when it no longer fits). False: the task ended."""
        while True:
            await self._read_world()
            await self._release_unneeded()
            needed = named_objects(
                self.task.subtasks, self._objects, self._specs
            ) - self.d.claims.held_by(self.task.id)
            if not needed:
                return True
            try:
                waited = await self.until_cancelled(
                    self.d.claims.take(
                        self.task.id,
                        needed,
                        priority=self.task.priority,
                        seq=self.task.created_at,
                        wait_s=self.d.settings.claim_wait_s,
                        on_wait=self._queued,
                    )
                )
            except ClaimWaitExpired as e:
                await self.finish(TaskStatus.failed, f"{e}; another task kept them")
                return False
            if waited is None:
                await self.finish(TaskStatus.cancelled, self.cancel_reason or "cancelled")
                return False
            holders = sorted({w.holder for w in self.task.waiting_for if w.holder})
            await self._claimed(needed)
            if not waited:
                return True
            await self._read_world()
            problems = await self.d.planner.check(remaining_plan(self.task))
            if not problems:
                return True
            why = "; ".join(p.message for p in problems)
            if not self.task.instruction and self.meta.goal is None:
                await self.finish(
                    TaskStatus.failed,
                    f"after waiting for task {', '.join(holders)} the plan no longer fits: {why}",
                    problems,
                )
                return False
            if not await self.planning.replan_task(
                f"the world changed while the task waited for its objects: {why}", count=False
            ):
                return False

    async def _queued(self, holders: dict[str, str]) -> None:
        """The task waits for objects: say what for, and whom (stored and an event)."""
        waits = [Waiting(kind="object", name=o, holder=t) for o, t in sorted(holders.items())]
        text = ", ".join(f"{o} (claimed by task {t})" for o, t in sorted(holders.items()))
        data: dict[str, Any] = {"for": [w.model_dump(mode="json") for w in waits]}

        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            # nothing of it ran yet: it waits in the fleet queue; otherwise it runs on
            started = any(x.attempts or x.status != SubtaskStatus.pending for x in t.subtasks)
            status = t.status if started else TaskStatus.queued
            keep = [w for w in t.waiting_for if w.kind != "object"]
            ev = self.event(TaskEventKind.waiting, f"waits for {text}", **data)
            return t.model_copy(update={"status": status, "waiting_for": keep + waits}), [ev]

        await self.update(mutate)

    async def _claimed(self, objects: set[str]) -> None:
        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            claims = sorted(set(m.claims) | objects)
            waiting = [w for w in t.waiting_for if w.kind != "object"]
            if claims == m.claims and waiting == t.waiting_for and t.status != TaskStatus.queued:
                return None
            m.claims = claims
            status = TaskStatus.running if t.status == TaskStatus.queued else t.status
            return t.model_copy(update={"status": status, "waiting_for": waiting}), []

        await self.update(mutate)

    async def _release_unneeded(self) -> None:
        """Give back the objects no open subtask names any more."""
        needed = named_objects(self.task.subtasks, self._objects, self._specs)
        done = self.d.claims.held_by(self.task.id) - needed
        if not done:
            return
        self.d.claims.release(self.task.id, done)

        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            claims = sorted(set(m.claims) - done)
            if claims == m.claims:
                return None
            m.claims = claims
            return t, []

        await self.update(mutate)

    async def _stale(self, sub: SubtaskState, resumed: bool) -> str | None:
        """After waiting for its robot: what about the subtask no longer holds in the
        world the other task left (the robot moved, its hand is full), or None. Checked
        on the subtask alone (the rest of the plan may wait on work still running)."""
        if resumed or self._stale_replans >= MAX_STALE_REPLANS:
            return None
        alone = Subtask(id=sub.id, robot=sub.robot, skill=sub.skill, args=dict(sub.args))
        problems = await self.d.planner.check(Plan(subtasks=[alone]))
        if not problems:
            return None
        why = "; ".join(p.message for p in problems)
        return f"{sub.id} waited for {sub.robot}, which another task used meanwhile: {why}"

    async def _robot_wait(self, sub_id: str, robot: str, holder: str | None) -> None:
        """Record (holder set) or clear (None) a subtask's wait for a robot."""

        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            keep = [w for w in t.waiting_for if not (w.kind == "robot" and w.subtask == sub_id)]
            if holder is None:
                if keep == t.waiting_for:
                    return None
                return t.model_copy(update={"waiting_for": keep}), []
            w = Waiting(kind="robot", name=robot, holder=holder, subtask=sub_id)
            ev = self.event(
                TaskEventKind.waiting,
                f"{sub_id} waits for {robot} (kept by task {holder})",
                subtask=sub_id,
                robot=robot,
                **{"for": [w.model_dump(mode="json")]},
            )
            return t.model_copy(update={"waiting_for": [*keep, w]}), [ev]

        await self.update(mutate)

    async def _loop(self) -> None:
        while True:
            await self._sync_status()
            if self.cancel_reason is not None:
                if not self.flights:
                    await self.finish(TaskStatus.cancelled, self.cancel_reason)
                    return
            elif self.failures:
                if not self.flights:
                    if not await self._replan():
                        return
                    continue
            elif self.stale is not None:
                if not self.flights:
                    reason, self.stale = self.stale, None
                    self._stale_replans += 1
                    if not await self.planning.replan_task(reason, count=False):
                        return
                    if not await self._claim_objects():
                        return
                    continue
            else:
                if not self._stopped():  # stopped: nothing starts until the release
                    await self._start_ready()
                    if self.failures:
                        continue
                if not self.flights:
                    if self.all_done():
                        # decided against memory: the goal must hold (replanning.py)
                        if not await self.planning.conclude():
                            return
                        if not await self._claim_objects():
                            return
                        continue
                    if (
                        not self.not_before
                        and not self._stopped()
                        and not self._awaiting()
                        and not self._held_by_robot_stop()
                    ):
                        await self.finish(TaskStatus.failed, self.stuck_reason())
                        return
            await self._handle(await self.inbox.get())
            self._sync_robot_claims()

    def _awaiting(self) -> list[str]:
        return awaiting(self.task)

    async def _sync_status(self) -> None:
        """The task's status as the e-stop and the approvals make it: `paused` while the
        stop is engaged, `awaiting_approval` while a subtask awaits one, else `running`
        (only among these three: the others are set where they happen)."""
        own = (TaskStatus.running, TaskStatus.paused, TaskStatus.awaiting_approval)
        if self.task.status not in own:
            return
        if self._stopped():
            want = TaskStatus.paused
        elif self._awaiting():
            want = TaskStatus.awaiting_approval
        else:
            want = TaskStatus.running
        if want == self.task.status:
            return
        events: list[TaskEvent] = []
        estop = self.d.estop.state if self.d.estop is not None else None
        if want == TaskStatus.paused and estop is not None:
            events.append(
                self.event(
                    TaskEventKind.paused,
                    f"emergency stop engaged by {estop.by}: {estop.reason}".rstrip(": "),
                    by=estop.by,
                )
            )
        elif self.task.status == TaskStatus.paused:
            by = estop.released_by if estop is not None else None
            events.append(self.event(TaskEventKind.resumed, f"emergency stop released by {by}"))

        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            if t.status not in own or t.status == want:
                return None
            return t.model_copy(update={"status": want}), events

        await self.update(mutate)

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
        # the new plan may name objects the old one did not
        if not await self._claim_objects():
            return False
        # robots the old plan kept and the new one does not: freed now, not after the
        # next message (which may wait on a robot another task keeps for this one's)
        self._sync_robot_claims()
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
            if self.robot_stopped(ready.robot):
                continue  # it waits for the release (not moved: the stop is a pause)
            if self._needs_approval(ready) and ready.id not in self.meta.approved:
                await self._ask_approval(ready)
                continue
            sub = await self._place(self.sub(ready.id))
            if sub is not None:
                self._launch(sub)

    def _needs_approval(self, sub: SubtaskState) -> bool:
        return needs_approval(sub, self._specs, self.d.settings.approval_skills)

    async def _ask_approval(self, sub: SubtaskState) -> None:
        ev = self.event(
            TaskEventKind.awaiting_approval,
            f"{sub.skill} on {sub.robot} needs approval: POST /v1/tasks/{self.task.id}"
            f"/subtasks/{sub.id}/approve (or /reject)",
            subtask=sub.id,
            robot=sub.robot,
            skill=sub.skill,
            args=dict(sub.args),
        )

        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            subs = [
                s.model_copy(update={"status": SubtaskStatus.awaiting_approval})
                if s.id == sub.id
                else s
                for s in t.subtasks
            ]
            # the task's status in the same write (`_sync_status` keeps it so)
            status = TaskStatus.awaiting_approval if t.status == TaskStatus.running else t.status
            return t.model_copy(update={"subtasks": subs, "status": status}), [ev]

        await self.update(mutate)

    async def _decided(self, msg: _Decision) -> None:
        """Store a person's answer (or tell them why it cannot be taken)."""
        if msg.answer.done():
            return  # the caller gave up waiting: the answer is not taken
        try:
            sub = check_awaiting(self.task, msg.subtask)
        except (NotFoundError, ConflictError) as e:
            _answer(msg.answer, e)
            return
        try:
            if msg.approve:
                await self.update(approval(sub.id, msg.by, msg.reason))
            else:
                result = rejected(msg.by, msg.reason)
                ev = self.event(
                    TaskEventKind.rejected,
                    result.message,
                    subtask=sub.id,
                    robot=sub.robot,
                    by=msg.by,
                )
                await self.update(lambda t, m: (t, [ev]))
                self.failures.append(await self.correct.fail(sub, result))
        except Exception as e:
            _answer(msg.answer, e)
            raise
        _answer(msg.answer)

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
            blocker = self.d.lanes.blocker(flight.robot, self.task.id)
            if blocker is not None:
                await self._robot_wait(sub.id, flight.robot, blocker)
            async with self.d.lanes.hold(
                flight.robot,
                flight.call_id,
                priority=self.task.priority,
                claim=sub.id in self._linked(),
            ):
                if blocker is not None:
                    await self._robot_wait(sub.id, flight.robot, None)
                    stale = await self._stale(sub, resumed)
                    if stale is not None:
                        self.inbox.put_nowait(_Done(flight, SkillResult.success(), stale=stale))
                        return
                if self.cancel_reason is not None:
                    raise _NotStarted
                if self.robot_stopped(flight.robot):
                    raise _Halted
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
                if self.robot_stopped(flight.robot):  # engaged while the start was written
                    raise _Halted
                with tracing.span(
                    "subtask",
                    task_id=self.task.id,
                    subtask=sub.id,
                    skill=sub.skill,
                    robot=flight.robot,
                    attempt=flight.attempt,
                ) as span:
                    call = SkillCall(
                        call_id=flight.call_id,
                        robot=flight.robot,
                        skill=sub.skill,
                        args=dict(sub.args),
                        task_id=self.task.id,
                        subtask_id=sub.id,
                        attempt=flight.attempt,
                        timeout_s=timeout_s,
                        traceparent=tracing.inject(),
                    )
                    # The agent enforces the skill's own timeout and answers `timeout`;
                    # ours is the backstop for an agent that does not answer at all.
                    result = await self.d.dispatcher.run(
                        call, timeout_s=timeout_s + self.d.cancel_grace_s + 5.0
                    )
                    span.set_attribute("robo_os.result", result.error or "ok")
        except _NotStarted:
            result = SkillResult.failure(
                ErrorCode.cancelled, "the task was cancelled before the subtask started"
            )
        except _Halted:
            flight.halted = True
            result = SkillResult.failure(ErrorCode.cancelled, "emergency stop")
            if resumed:  # it may still run on its agent (the brain stopped meanwhile)
                self._side_job(
                    self.d.dispatcher.cancel(flight.robot, flight.call_id, "emergency stop")
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
            # a service gone (Redis, Ray) is retried on the same robot, not corrected as
            # the skill's failure (policy.decide)
            infra = is_infrastructure_error(e) or is_store_outage(e)
            result = SkillResult.failure(
                ErrorCode.internal,
                f"dispatch failed: {type(e).__name__}: {e}",
                data={INFRASTRUCTURE: True} if infra else None,
            )
        self.inbox.put_nowait(_Done(flight, result))

    # -- messages ------------------------------------------------------------------------
    async def _handle(self, msg: _Done | _RobotLost | _Signal | _Decision) -> None:
        if isinstance(msg, _Decision):
            await self._decided(msg)
        elif isinstance(msg, _Done):
            if self.flights.get(msg.flight.subtask) is msg.flight:
                del self.flights[msg.flight.subtask]
                if msg.stale is not None:
                    self.stale = self.stale or msg.stale
                else:
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
        elif msg.kind == "halt":
            await self._halt_flights(msg.robots)
        elif msg.kind == "halt_deadline":
            for flight in [f for f in self.flights.values() if f.halted]:
                await self._abort(
                    flight,
                    SkillResult.failure(
                        ErrorCode.cancelled,
                        f"emergency stop: no answer to the cancel within"
                        f" {self.d.cancel_grace_s + 1.0:.1f}s",
                    ),
                )

    async def _halt_flights(self, robots: tuple[str, ...] = ()) -> None:
        """The emergency stop: every running call (of `robots` only, when named) is
        cancelled (the agent's cancel token); one not started yet is dropped. Their
        subtasks run again on release."""
        flights = [f for f in self.flights.values() if not robots or f.robot in robots]
        if not flights:
            return
        for flight in flights:
            flight.halted = True
            if flight.running:
                self._side_job(
                    self.d.dispatcher.cancel(flight.robot, flight.call_id, "emergency stop")
                )
            elif flight.job is not None and not flight.job.done():
                await self._abort(
                    flight, SkillResult.failure(ErrorCode.cancelled, "emergency stop")
                )
        asyncio.get_running_loop().call_later(
            self.d.cancel_grace_s + 1.0, self.inbox.put_nowait, _Signal("halt_deadline")
        )

    async def _halted(self, flight: _Flight, result: SkillResult) -> None:
        """A call the emergency stop ended: its subtask is pending again (the next run is
        a new attempt, so a new call id), not failed. Decided on the stored record: the
        start's write may have landed while its job was cancelled."""
        ev = self.event(
            TaskEventKind.subtask_halted,
            f"halted by the emergency stop ({result.message})",
            subtask=flight.subtask,
            robot=flight.robot,
            attempt=flight.attempt,
            call_id=flight.call_id,
        )

        def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
            sub = next(s for s in t.subtasks if s.id == flight.subtask)
            if sub.status != SubtaskStatus.running or sub.attempts != flight.attempt:
                return None  # it never started: nothing to undo
            new = sub.model_copy(update={"status": SubtaskStatus.pending, "result": result})
            subs = [new if s.id == sub.id else s for s in t.subtasks]
            return t.model_copy(update={"subtasks": subs}), [ev]

        async with self._write_lock:
            # re-read: the in-memory record may miss a start written while it was cancelled
            self.task, self.meta = await self.d.store.update(self.task.id, mutate)

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
        if flight.halted and not result.ok and self.cancel_reason is None:
            await self._halted(flight, result)
            return
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
            await self._release_unneeded()
            return
        view = self.view()
        failure = Failure(
            sub.id,
            flight.robot,
            result.error or ErrorCode.internal,
            sub.attempts,
            excluded=self.correct.excluded(sub.id),
            infrastructure=result.data.get(INFRASTRUCTURE) is True,
        )
        action = decide(failure, view)
        if isinstance(action, Reassign | Replan | Fail) and not failure.infrastructure:
            # a call that failed for good: no replan plans it again; repeated, it ends the task
            full = result.data.get("full")
            await self.correct.remember(
                sub, flight.robot, failure.error, result.message,
                full=full if isinstance(full, str) else None,
            )
            view = self.view()
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


class _Halted(Exception):
    pass


def _answer(future: asyncio.Future[None], error: Exception | None = None) -> None:
    """Answer a caller that may have stopped waiting (then there is no one to tell)."""
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
