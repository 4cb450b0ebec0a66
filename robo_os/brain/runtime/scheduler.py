"""The brain's task runtime: intake, one runner per active task, per-robot lanes shared by
all tasks, robot liveness, resume after a restart, cancel.

    scheduler = Scheduler(store, memory, dispatcher, planner, settings.scheduler)
    await scheduler.start()            # resumes every active task found in Redis, then
                                       # keeps adopting any that no runner owns
    task = await scheduler.submit(instruction="bring the apple to the table")
    task = await scheduler.cancel(task.id)
    await scheduler.engage_estop("alice", "person in the kitchen")   # every robot halts
    await scheduler.release_estop("bob")
    await scheduler.engage_estop("alice", "arm jammed", robots=["mm1"])  # mm1 only
    await scheduler.release_estop("bob", robots=["mm1"])
    await scheduler.decide(task.id, "s2", approve=True, by="alice")  # a gated skill
    await scheduler.close()            # stops runners; tasks stay as stored
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from robo_os_memory.models import EntityKind, RobotStatusValue

from ... import tracing
from ...contracts import (
    TERMINAL_TASK_STATUSES,
    Plan,
    PlanProblem,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from ...errors import (
    ConflictError,
    InvalidGoalError,
    InvalidPlanError,
    UnknownNameError,
    UserError,
)
from ..planning.interface import FleetWork
from .admission import Admission
from .allocation import Allocator, SkillTimeouts
from .approvals import approval, rejection
from .claims import ObjectClaims, claimed_robots, links, open_subtasks
from .estop import EStop, EStopState
from .executor import RunnerDeps, TaskRunner
from .lanes import RobotLanes
from .make_way import MakeWay
from .monitor import RobotMonitor
from .outage import is_store_outage, wait_for_store
from .plan_ops import merge_problems, states_from_plan, structural_problems
from .store import TaskMeta, TaskStore
from .tasks_util import cancel_and_wait

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from ...agent_protocol import Dispatcher
    from ...settings import SchedulerSettings
    from ..planning.interface import Planner

__all__ = ["Scheduler", "new_task_id"]

log = logging.getLogger(__name__)

MAX_INSTRUCTION_CHARS = 4000


def new_task_id() -> str:
    return secrets.token_hex(6)


class Scheduler:
    def __init__(
        self,
        store: TaskStore,
        memory: Memory,
        dispatcher: Dispatcher,
        planner: Planner,
        settings: SchedulerSettings,
        *,
        cancel_grace_s: float = 2.0,
        suspect_s: float = 5.0,
        watch_liveness: bool = False,
        estop: EStop | None = None,
    ) -> None:
        self.store = store
        self.estop = estop if estop is not None else EStop(store.redis, store.keys.prefix)
        """The emergency stop (its state in Redis: a restarted brain stays stopped)."""
        self.memory = memory
        self.dispatcher = dispatcher
        self.planner = planner
        self.settings = settings
        self.lanes = RobotLanes()
        self.allocator = Allocator(memory, planner, self.lanes, suspect_s=suspect_s)
        self.timeouts = SkillTimeouts(memory, override_s=settings.default_timeout_s)
        self.claims = ObjectClaims()
        self.admission = Admission(
            settings.max_active_tasks,
            wait_s=settings.admission_wait_s,
            queue=settings.admission_queue,
            retry_after_s=settings.retry_after_s,
        )
        """How many tasks this brain runs at once (429 over it; admission.py)."""
        self.deps = RunnerDeps(
            store=store,
            dispatcher=dispatcher,
            planner=planner,
            lanes=self.lanes,
            allocator=self.allocator,
            timeouts=self.timeouts,
            settings=settings,
            cancel_grace_s=cancel_grace_s,
            on_robot_unavailable=self.robot_unavailable,
            memory=memory,
            claims=self.claims,
            estop=self.estop,
            fleet_work=self.fleet_work,
        )
        self.writer = f"brain-{secrets.token_hex(3)}"
        """`by` of this brain's writes to memory."""
        self.monitor = RobotMonitor(
            memory,
            own_writer=self.writer,
            on_offline=self.robot_offline,
            on_online=self.robot_online,
            on_progress=self.robot_progress,
            watch_liveness=watch_liveness,
        )
        self.make_way = MakeWay(memory, dispatcher, self.lanes)
        """Sends idle robots parked in slots that others wait for elsewhere (make_way.py)."""
        self._runners: dict[str, tuple[TaskRunner, asyncio.Task[None]]] = {}
        self._started = False
        self._reconciler: asyncio.Task[None] | None = None
        self._reconcile_now = asyncio.Event()
        self.store_ok = True
        """Whether Redis answered the reconciler's last look (False during an outage)."""

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self, *, resume: bool = True) -> list[str]:
        """Follow robot liveness and resume the active tasks; returns their ids."""
        if not self._started:
            await self.estop.load()  # before any runner: none dispatches during a stop
            if self.estop.engaged:
                log.warning(
                    "the emergency stop is engaged (by %s: %s); nothing is dispatched until"
                    " it is released",
                    self.estop.state.by,
                    self.estop.state.reason,
                )
            self.monitor.start()
            self._started = True
        resumed = await self.resume() if resume else []
        if resume and self._reconciler is None:
            self._reconciler = asyncio.create_task(
                self._reconcile_loop(), name="robo-os-reconciler"
            )
        return resumed

    async def _reconcile_loop(self) -> None:
        """Every `reconcile_interval_s` (and whenever a runner stops without ending its
        task): adopt the active tasks no runner of this brain owns, e.g. one whose runner
        gave up waiting for Redis. While Redis is down, wait for it instead."""
        interval = self.settings.reconcile_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reconcile_now.wait(), interval)
            self._reconcile_now.clear()
            try:
                adopted = await self.resume()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not is_store_outage(e):
                    log.exception("reconciler: looking for unowned tasks failed")
                    continue
                self.store_ok = False
                log.warning("reconciler: Redis unreachable (%s); waiting for it", e)
                # woken as soon as Redis answers, then look again at once
                if await wait_for_store(self.store, interval):
                    self._reconcile_now.set()
                continue
            self.store_ok = True
            if adopted:
                log.info(
                    "reconciler: adopted %d task(s) no runner owned: %s", len(adopted), adopted
                )

    async def resume(self) -> list[str]:
        found: list[tuple[Task, TaskMeta]] = []
        for task_id in await self.store.active_ids():
            if task_id in self._runners:
                continue
            try:
                task, meta = await self.store.get_with_meta(task_id)
            except UserError:  # expired or removed meanwhile
                continue
            if task.status in TERMINAL_TASK_STATUSES:
                continue
            found.append((task, meta))
        # submit() may have started a runner for one of them while this read the store
        found = [(t, m) for t, m in found if t.id not in self._runners]
        await self._restore_claims(found)
        resumed = []
        # the fleet queue's order: priority, then arrival
        for task, meta in sorted(found, key=lambda tm: (-tm[0].priority, tm[0].created_at)):
            task_id = task.id
            if task_id in self._runners:
                continue
            log.info(
                "task=%s resuming (status %s, %d subtasks)",
                task_id,
                task.status.value,
                len(task.subtasks),
            )
            self._spawn(task, meta)
            resumed.append(task_id)
        return resumed

    async def _restore_claims(self, found: list[tuple[Task, TaskMeta]]) -> None:
        """Every resumed task's object claims (stored with it) and the robots its runs in
        progress keep (derived from its subtasks), restored before any task runs again:
        no other task can slip in between."""
        if not found:
            return
        specs = await self.timeouts.specs()
        objects = {o.name for o in await self.memory.list_objects()}
        for task, meta in found:
            self.claims.restore(task.id, meta.claims)
            subs = open_subtasks(task, meta.resolved_failures)
            for robot in claimed_robots(subs, links(subs, specs, objects)):
                self.lanes.claim(robot, task.id)

    async def close(self) -> None:
        """Stop following robots and stop every runner without ending its task (the
        calls in flight keep running on the agents; a restarted brain picks them up)."""
        if self._reconciler is not None:
            await cancel_and_wait([self._reconciler])
            self._reconciler = None
        await self.monitor.close()
        await self.make_way.close()
        await cancel_and_wait([job for _, job in self._runners.values()])
        self._runners.clear()
        self._started = False

    def _spawn(self, task: Task, meta: TaskMeta, *, admitted: bool = False) -> TaskRunner:
        """Run the task; `admitted`: it already holds an admission slot (a submission)."""
        if not admitted:
            self.admission.take()
        runner = TaskRunner(self.deps, task, meta)
        job = asyncio.create_task(runner.run(), name=f"robo-os-task-{task.id}")
        self._runners[task.id] = (runner, job)

        def forget(_: asyncio.Task[None], task_id: str = task.id) -> None:
            self.admission.release()
            if self._runners.get(task_id, (None, None))[1] is job:
                del self._runners[task_id]
            if runner.left_for_reconciler:
                # it stopped without ending its task (Redis gone too long): adopt it anew
                self._reconcile_now.set()

        job.add_done_callback(forget)
        return runner

    # -- intake --------------------------------------------------------------------------
    async def check_plan(self, plan: Plan) -> list[PlanProblem]:
        """Every defect of an explicit plan: structure (ids, dependencies, cycles) and the
        planner's checks against the live fleet and memory."""
        structural = structural_problems(plan.subtasks)
        return merge_problems(structural, await self.planner.check(plan))

    async def submit(
        self,
        *,
        instruction: str | None = None,
        plan: Plan | None = None,
        priority: int = 0,
        task_id: str | None = None,
        submitted_by: str | None = None,
        mode: str | None = None,
        goal: dict[str, Any] | None = None,
    ) -> Task:
        """Store a new task and start it. An explicit plan is checked first
        (InvalidPlanError naming each problem); `instruction` then only labels it.
        `goal` (the goal language's JSON) is resolved against the live world first
        (InvalidGoalError naming each problem) and planned by `Planner.plan_goal`; with
        `plan`, the plan must reach it and keep its constraints.
        `priority`: higher first where tasks wait for the same robots or objects.
        `task_id`: the id to give it (the REST layer's idempotency binds one first).
        `submitted_by`: the name of the token that submitted it (kept in the task).
        `mode`: `goal` or `plan`, how a model plans this task (default: the settings')."""
        if instruction is not None:
            instruction = instruction.strip()
            if not instruction:
                instruction = None
            elif len(instruction) > MAX_INSTRUCTION_CHARS:
                raise UserError(
                    f"the instruction has {len(instruction)} characters;"
                    f" at most {MAX_INSTRUCTION_CHARS} are accepted"
                )
        if plan is None and instruction is None and goal is None:
            raise UserError("give an instruction, a goal or a plan")
        # before any planning work: a burst over the limit costs the brain next to nothing
        await self.admission.acquire()
        try:
            task, meta = await self._store_new(
                instruction, plan, priority, task_id, submitted_by, mode, goal=goal
            )
        except BaseException:
            self.admission.release()
            raise
        self._spawn(task, meta, admitted=True)
        return task

    async def _store_new(
        self,
        instruction: str | None,
        plan: Plan | None,
        priority: int,
        task_id: str | None,
        submitted_by: str | None,
        mode: str | None,
        *,
        goal: dict[str, Any] | None = None,
    ) -> tuple[Task, TaskMeta]:
        meta = TaskMeta(mode=mode)
        subtasks = []
        expected_s: float | None = None
        note = ""
        if goal is not None:
            # names, kinds and contradictions against the live world, before storing
            resolved, goal_problems = await self.planner.resolve_goal(goal)
            if resolved is None:
                raise InvalidGoalError(goal_problems)
            goal = resolved
            meta.goal, meta.goal_source = goal, "app"
            instruction = instruction or str(goal.get("instruction") or "") or None
        if plan is not None:
            # checked like a planned one, then rebalanced (unless pinned) and timed
            structural = structural_problems(plan.subtasks)
            prepared = await self.planner.prepare(
                plan, busy=self.fleet_work(None, priority), goal=goal
            )
            problems = merge_problems(structural, prepared.problems)
            if problems or prepared.plan is None:
                raise InvalidPlanError(problems)
            plan = prepared.plan
            subtasks = states_from_plan(plan)
            meta.planner = "explicit"
            expected_s = plan.expected_duration_s
            note = prepared.message if prepared.message != "explicit plan" else ""
        task = Task(
            id=task_id or new_task_id(),
            instruction=instruction,
            status=TaskStatus.pending,
            subtasks=subtasks,
            priority=priority,
            submitted_by=submitted_by,
            expected_finish_at=round(time.time() + expected_s, 3)
            if expected_s is not None
            else None,
            goal=goal,
            goal_source="app" if goal is not None else None,
        )
        created = TaskEvent(
            task_id=task.id,
            kind=TaskEventKind.created,
            message=instruction or note or ("goal" if goal is not None else "explicit plan"),
            data={
                "subtasks": len(subtasks),
                "priority": priority,
                **({"rebalanced": note} if note else {}),
            },
        )
        stored = await self.store.create(task, [created], meta)
        tracing.task_started(
            task.id, instruction=instruction, goal=goal is not None, priority=priority
        )
        return stored, meta

    async def cancel(
        self, task_id: str, reason: str = "cancelled by the user", *, wait_s: float | None = None
    ) -> Task:
        """Cancel a task: its running skills are asked to stop and it ends `cancelled`.
        Waits (up to `wait_s`, default the cancel grace + 2 s) for it to end; a task that
        already ended is returned unchanged."""
        task = await self.store.get(task_id)
        if task.status in TERMINAL_TASK_STATUSES:
            return task
        entry = self._runners.get(task_id)
        if entry is None:
            # Not run by this brain (yet): end it here; a runner that resumes it later
            # finds it terminal.
            def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]] | None:
                if t.status in TERMINAL_TASK_STATUSES:
                    return None
                ev = TaskEvent(task_id=t.id, kind=TaskEventKind.cancelled, message=reason)
                return t.model_copy(update={"status": TaskStatus.cancelled}), [ev]

            ended = (await self.store.update(task_id, mutate))[0]
            self.claims.release(task_id)
            self.lanes.release_claims(task_id)
            return ended
        runner, _ = entry
        runner.cancel(reason)
        timeout = wait_s if wait_s is not None else self.deps.cancel_grace_s + 2.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.finished.wait(), timeout)
        return await self.store.get(task_id)

    def fleet_work(self, task_id: str | None, priority: int = 0) -> FleetWork:
        """The work of the active tasks other than `task_id`, as a task of `priority`
        meets it (planning.interface.FleetWork): in the fleet queue's order (priority,
        then arrival). Robot lanes serve higher priorities first, so of a task with a
        lower priority only what holds its robots counts: subtasks running now and the
        rest of runs it claims a robot for."""
        runners = [r.task for t, (r, _) in self._runners.items() if t != task_id]
        claims = self.lanes.claims()
        tasks = []
        for t in sorted(runners, key=lambda t: (-t.priority, t.created_at)):
            if t.status in TERMINAL_TASK_STATUSES:
                continue
            subs = t.subtasks
            if t.priority < priority:
                subs = [
                    s
                    for s in subs
                    if s.status == SubtaskStatus.running or claims.get(s.robot) == t.id
                ]
            tasks.append(subs)
        return FleetWork.of(tasks)

    # -- safety: the emergency stop and approvals ------------------------------------------
    async def engage_estop(
        self, by: str, reason: str = "", *, robots: Sequence[str] = ()
    ) -> EStopState:
        """Halt every robot now: each runner cancels its running calls (their subtasks go
        back to pending), nothing is dispatched and the tasks are `paused` until
        `release_estop`. Stored, so a restarted brain stays stopped. The runners are
        halted even when storing fails (then ServiceUnavailableError).

        With `robots`, only those: their calls are halted the same way and nothing is
        dispatched to them (their subtasks wait) until each is released; the other robots
        go on. UnknownNameError names a robot the memory does not know."""
        names = tuple(dict.fromkeys(robots))
        if names:
            await self._check_robots(names)
        try:
            if names:
                return await self.estop.engage_robots(names, by, reason)
            return await self.estop.engage(by, reason)
        finally:
            for runner, _ in list(self._runners.values()):
                runner.halt(names)
            log.warning(
                "emergency stop engaged by %s%s: %s",
                by,
                f" for {', '.join(names)}" if names else "",
                reason or "-",
            )

    async def release_estop(self, by: str, *, robots: Sequence[str] = ()) -> EStopState:
        """Release the emergency stop: the paused tasks go on (halted subtasks run again).
        With `robots`, those robots' own stops only (a global stop still holds); without,
        the global stop only (robots stopped one by one stay stopped)."""
        names = tuple(dict.fromkeys(robots))
        if names:
            await self._check_robots([r for r in names if r not in self.estop.state.robots])
            state = await self.estop.release_robots(names)
        else:
            state = await self.estop.release(by)
        for runner, _ in list(self._runners.values()):
            runner.release()
        log.warning(
            "emergency stop released by %s%s", by, f" for {', '.join(names)}" if names else ""
        )
        return state

    async def _check_robots(self, robots: Sequence[str]) -> None:
        """UnknownNameError for the first robot the memory does not know."""
        if not robots:
            return
        known = await self.memory.names(EntityKind.robot)
        for robot in robots:
            if robot not in known:
                raise UnknownNameError("robot", robot, known)

    async def decide(
        self, task_id: str, subtask_id: str, *, approve: bool, by: str, reason: str = ""
    ) -> Task:
        """Approve (it is dispatched) or reject (it fails `rejected by <by>`; the task
        replans or fails as after any failure) a subtask awaiting approval. NotFoundError
        for an unknown task or subtask, ConflictError when it does not await approval."""
        task = await self.store.get(task_id)
        if task.status in TERMINAL_TASK_STATUSES:
            raise ConflictError(f"task {task_id} already {task.status.value}")
        entry = self._runners.get(task_id)
        if entry is not None:
            await entry[0].decide(subtask_id, approve=approve, by=by, reason=reason)
            return entry[0].task
        # no runner here (yet): store the answer; the runner that adopts it acts on it
        mutate = approval(subtask_id, by, reason) if approve else rejection(subtask_id, by, reason)
        task = (await self.store.update(task_id, mutate))[0]
        self._reconcile_now.set()
        return task

    # -- robots -----------------------------------------------------------------------------
    async def robot_unavailable(self, robot: str, reason: str) -> None:
        """The dispatcher found the robot's agent gone. Memory is told at once (its
        heartbeat may live on for a while), so that planning and reassignment, which read
        memory, stop offering the robot; its next heartbeat, if it comes, brings it back."""
        self.allocator.mark_unavailable(robot)
        try:
            await self.memory.update_robot(robot, status=RobotStatusValue.offline, by=self.writer)
        except Exception as e:  # memory down or robot unknown: the in-brain mark still holds
            log.warning("robot=%s could not be marked offline in memory: %s", robot, e)
        self.robot_offline(robot, reason)

    def robot_offline(self, robot: str, reason: str) -> None:
        """Move the robot's running and queued subtasks, in every task, elsewhere."""
        log.info("robot=%s offline: %s", robot, reason)
        self.lanes.fail(robot, reason)
        for runner, _ in list(self._runners.values()):
            runner.robot_lost(robot, reason)

    def robot_online(self, robot: str, registered: bool) -> None:
        self.allocator.mark_available(robot)
        if registered:
            self.timeouts.invalidate()

    def robot_progress(self, robot: str, fields: dict[str, object]) -> None:
        """An agent reported progress: an event of the task whose call the robot runs.
        The agent's own start/end bookkeeping (`current_subtask` set or cleared in the
        same write, no progress value) is not progress."""
        value, activity = fields.get("progress"), fields.get("activity")
        if isinstance(activity, str) and "waiting for a slot" in activity:
            self.make_way.noticed(robot, activity)  # idle robots in those slots move
        if "current_subtask" in fields or not (isinstance(value, int | float) or activity):
            return
        call_id = self.lanes.holder(robot)
        if call_id is None:
            return
        entry = self._runners.get(call_id.split("/", 1)[0])
        if entry is not None:
            entry[0].progress(call_id, fields)

    # -- introspection --------------------------------------------------------------------
    @property
    def active(self) -> list[str]:
        return sorted(self._runners)

    async def wait_finished(self, task_id: str, timeout_s: float) -> bool:
        """Wait until this brain's runner of the task has ended (True) or the timeout."""
        entry = self._runners.get(task_id)
        if entry is None:
            return True
        # asyncio.wait, not wait_for: a runner cancelled meanwhile has ended too
        done, _ = await asyncio.wait({entry[1]}, timeout=timeout_s)
        return bool(done)

    def health(self) -> dict[str, Any]:
        """What this brain knows without asking Redis (see `health_check` for the full
        probe): `active_tasks` here counts this brain's runners (the metrics' figure)."""
        waiting = sorted(t for t, (r, _) in self._runners.items() if r.store_lost.is_set())
        return {
            "ok": self._started,
            "active_tasks": len(self._runners),
            "runners": len(self._runners),
            "store_ok": self.store_ok,
            "waiting_for_redis": waiting,
            "admission": {
                "active": self.admission.held,
                "limit": self.admission.limit,
                "waiting": self.admission.waiting,
                "refused": self.admission.refused,
            },
            "estop": self.estop.state.model_dump(mode="json"),
        }

    async def health_check(self) -> dict[str, Any]:
        """/healthz's probe: `active_tasks` is the store's active set; `unowned` the ones no
        runner of this brain owns (adopted by the reconciler within an interval). Not ok
        while Redis cannot be read."""
        out = self.health()
        try:
            active = await self.store.active_ids()
        except Exception as e:
            if not is_store_outage(e):
                raise
            return {
                **out,
                "ok": False,
                "active_tasks": None,  # unknown: the store cannot be read
                "error": f"cannot read the active tasks: {e}",
            }
        unowned = sorted(set(active) - set(self._runners))
        return {**out, "active_tasks": len(active), "unowned": unowned}
