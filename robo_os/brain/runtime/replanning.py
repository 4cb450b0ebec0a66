"""Planning and replanning of one task: talks to the Planner and adopts (or refuses) what
it returns, through the task's state and its versioned writes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robo_os_memory.models import EntityKind, RobotStatusValue

from ... import tracing
from ...contracts import (
    Plan,
    PlanProblem,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from ...symbolic.goal import Goal, fact_text
from ..planning.interface import PlanningOutcome
from .outage import is_store_outage
from .plan_ops import states_from_plan, structural_problems
from .policy import Fail, Replan, avoided, unmet_goal
from .store import TaskMeta

if TYPE_CHECKING:
    from ..planning.interface import Planner
    from .task_state import TaskState

__all__ = ["APP", "Replanner", "goal_text"]

log = logging.getLogger(__name__)

BACK_STATUSES = frozenset(
    {RobotStatusValue.idle.value, RobotStatusValue.busy.value}
)
"""A robot written with one of these statuses is back (an offline one became usable)."""

APP = "app"
"""`TaskMeta.goal_source` of a goal the app gave."""


def goal_text(goal: dict[str, Any] | None) -> str:
    """A goal's final facts in words: `on(cup, table), at(mm1, dock)`."""
    parsed = Goal.from_json(goal)
    return ", ".join(fact_text(a) for a in parsed.final) if parsed is not None else "?"


class Replanner:
    """Plans and replans one task. A cancel request interrupts the planner (the task
    then ends `cancelled`); every other way a plan is not adopted ends the task."""

    def __init__(self, state: TaskState, planner: Planner) -> None:
        self.state = state
        self.planner = planner

    def _app_goal(self) -> dict[str, Any] | None:
        """The goal the app gave (planned and replanned by `Planner.plan_goal`), if any."""
        meta = self.state.meta
        return meta.goal if meta.goal_source == APP and meta.goal is not None else None

    async def plan_task(self) -> bool:
        """Plan the instruction (or the app's goal); True when there is a plan to run."""
        st = self.state
        instruction = st.task.instruction
        goal = self._app_goal()
        if not instruction and goal is None:
            await st.finish(TaskStatus.failed, "the task has neither an instruction nor a plan")
            return False
        label = instruction or f"goal: {goal_text(goal)}"
        await st.update(
            lambda t, m: (
                t.model_copy(update={"status": TaskStatus.planning}),
                [st.event(TaskEventKind.planning, label)],
            )
        )
        t0 = time.monotonic()
        try:
            busy = st.d.fleet_work(st.task.id, st.task.priority)
            tracing.task_started(st.task.id, instruction=instruction)  # a resumed task's
            with tracing.span("plan", task_id=st.task.id, mode=st.meta.mode) as span:
                if goal is not None:
                    outcome = await st.until_cancelled(
                        self.planner.plan_goal(st.task.id, goal, busy=busy)
                    )
                else:
                    assert instruction is not None
                    outcome = await st.until_cancelled(
                        self.planner.plan(st.task.id, instruction, busy=busy, mode=st.meta.mode)
                    )
                if outcome is not None:
                    span.set_attribute("robo_os.planner", outcome.planner)
                    span.set_attribute(
                        "robo_os.subtasks", len(outcome.plan.subtasks) if outcome.plan else 0
                    )
                    span.set_attribute("robo_os.model_calls", outcome.model_calls)
        except Exception as e:  # a planner bug fails this task only
            if is_store_outage(e):
                raise  # Redis is gone, not the planner: the runner waits for it
            log.exception("task %s: planner raised", st.task.id)
            await st.finish(TaskStatus.failed, f"the planner failed: {type(e).__name__}: {e}")
            return False
        if outcome is None:
            await st.finish(TaskStatus.cancelled, st.cancel_reason or "cancelled")
            return False
        return await self._adopt(outcome, time.monotonic() - t0, failure=None)

    async def replan_task(self, failure: str, *, count: bool = True) -> bool:
        """Replace the rest of the task after permanent failures (described by `failure`);
        True to go on. Whether a replan is left is the policy's call (`policy.settle`).
        `count=False`: a replan the task did not cause (the world changed while it
        waited for a claim); it does not use up `max_replans`."""
        st = self.state
        await st.update(
            lambda t, m: (
                t,
                [
                    st.event(
                        TaskEventKind.planning, f"replanning after: {failure}", replan=t.replans + 1
                    )
                ],
            )
        )
        t0 = time.monotonic()
        deadline = t0 + st.d.settings.offline_wait_s
        while True:
            outcome = await self._replan_once(failure)
            if outcome is None:
                return False  # finished (cancelled, or the planner raised)
            if outcome.plan is not None and not outcome.plan.error:
                break
            # no plan: if robots are only away for a while (a host restarting), wait
            back = await self._wait_for_offline_robots(deadline)
            if back is None:
                await st.finish(TaskStatus.cancelled, st.cancel_reason or "cancelled")
                return False
            if not back:
                break
        return await self._adopt(outcome, time.monotonic() - t0, failure=failure, count=count)

    async def _replan_once(self, failure: str) -> PlanningOutcome | None:
        """One planning round for the rest of the task; None when the task finished
        meanwhile (cancelled, or the planner raised: the task failed)."""
        st = self.state
        goal = self._app_goal()
        try:
            if goal is not None:
                work = self.planner.plan_goal(
                    st.task.id,
                    goal,
                    history=list(st.task.subtasks),
                    avoid=avoided(st.failed_calls()),
                    busy=st.d.fleet_work(st.task.id, st.task.priority),
                )
            else:
                work = self.planner.replan(
                    st.task.id,
                    st.task.instruction,
                    st.meta.goal,
                    list(st.task.subtasks),
                    failure,
                    avoided(st.failed_calls()),
                    busy=st.d.fleet_work(st.task.id, st.task.priority),
                )
            outcome = await st.until_cancelled(work)
        except Exception as e:
            if is_store_outage(e):
                raise
            log.exception("task %s: planner raised while replanning", st.task.id)
            await st.finish(
                TaskStatus.failed, f"{failure}; replanning failed: {type(e).__name__}: {e}"
            )
            return None
        if outcome is None:
            await st.finish(TaskStatus.cancelled, st.cancel_reason or "cancelled")
            return None
        return outcome

    async def _wait_for_offline_robots(self, deadline: float) -> bool | None:
        """With robots of the fleet offline, wait until one comes back online (True: plan
        again) or the deadline (False); None when the task is cancelled meanwhile. False
        at once when no robot is offline: waiting would not change the answer."""
        st = self.state
        memory = st.d.memory
        if memory is None or time.monotonic() >= deadline:
            return False
        if not (st.task.instruction or st.meta.goal or self._app_goal()):
            return False  # an explicit plan: a replan has no goal to plan towards
        async with memory.subscribe(kinds=[EntityKind.robot]) as changes:
            offline = sorted(
                r.id for r in await memory.list_robots() if r.status == RobotStatusValue.offline
            )
            if not offline:
                log.info("task %s: no plan and no robot offline: not waiting", st.task.id)
                return False
            log.info("task %s: no plan; waiting for %s to come back", st.task.id, offline)
            await st.update(
                lambda t, m: (
                    t,
                    [
                        st.event(
                            TaskEventKind.planning,
                            "no plan with the robots online; waiting up to"
                            f" {max(0.0, deadline - time.monotonic()):.0f} s for"
                            f" {', '.join(offline)} to come back",
                        )
                    ],
                )
            )

            async def online() -> bool:
                # back: a heartbeat's `online`, or its agent registering it again
                async for change in changes:
                    status = change.fields.get("status")
                    if change.name in offline and (
                        change.op == "online" or status in BACK_STATUSES
                    ):
                        return True
                return False

            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    came = await st.until_cancelled(online())
            except TimeoutError:
                return False
            return came

    async def _adopt(
        self, outcome: PlanningOutcome, took: float, *, failure: str | None, count: bool = True
    ) -> bool:
        plan = outcome.plan
        calls = outcome.model_calls
        prefix = f"{failure}; replanning" if failure else "planning"
        if plan is None or plan.error:
            problems = list(outcome.problems)
            reason = (plan.error if plan is not None else None) or outcome.message or "no plan"
            if (
                plan is not None
                and plan.error
                and not any(p.code == "infeasible" for p in problems)
            ):
                problems.append(PlanProblem(code="infeasible", message=plan.error))
            await self._reject(f"{prefix} failed: {reason}", problems, calls)
            return False
        existing = {s.id for s in self.state.task.subtasks}
        failed_ids = [s.id for s in self.state.task.subtasks if s.status == SubtaskStatus.failed]
        if not plan.subtasks:
            # The planner sees the goal already reached from the current state.
            await self.state.update(self._adopting([], outcome, took, failure, failed_ids))
            await self.state.finish(
                TaskStatus.succeeded, "nothing left to do: the goal already holds"
            )
            return False
        done = {s.id for s in self.state.task.subtasks if s.status == SubtaskStatus.succeeded}
        problems = structural_problems(plan.subtasks, done=done)
        problems += [
            PlanProblem(
                code="duplicate_id",
                message=f"subtask id {s.id!r} is already used in this task",
                subtask=s.id,
            )
            for s in plan.subtasks
            if s.id in existing
        ]
        if problems:
            await self._reject(f"{prefix} produced an unusable plan", problems, calls)
            return False
        await self.state.update(
            self._adopting(plan.subtasks, outcome, took, failure, failed_ids, count=count)
        )
        return True

    def _adopting(
        self,
        subtasks: list[Any],
        outcome: PlanningOutcome,
        took: float,
        failure: str | None,
        failed_ids: list[str],
        *,
        count: bool = True,
    ) -> Callable[[Task, TaskMeta], tuple[Task, list[TaskEvent]]]:
        new_states = states_from_plan(Plan(subtasks=subtasks))

        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            subs = [
                s.model_copy(update={"status": SubtaskStatus.skipped})
                if s.status in (SubtaskStatus.pending, SubtaskStatus.awaiting_approval)
                else s
                for s in task.subtasks
            ]
            update: dict[str, Any] = {
                "status": TaskStatus.running,
                "subtasks": subs + new_states,
                "model_calls": task.model_calls + outcome.model_calls,
            }
            expected = outcome.plan.expected_duration_s if outcome.plan is not None else None
            if expected is not None:  # brain/planning/timing.py's estimate
                update["expected_finish_at"] = round(time.time() + expected, 3)
            if failure is not None and count:
                update["replans"] = task.replans + 1
            if failure is not None:
                meta.resolved_failures = sorted(set(meta.resolved_failures) | set(failed_ids))
            if outcome.goal is not None and meta.goal_source != APP:
                meta.goal = outcome.goal
                shown = Goal.from_json(outcome.goal)
                if shown is not None:  # in the goal language: shown, and success checks it
                    meta.goal_source = outcome.planner or "planner"
                    update["goal"] = shown.to_json()
                    update["goal_source"] = meta.goal_source
            meta.planner = outcome.planner or meta.planner
            kind = TaskEventKind.replanned if failure is not None else TaskEventKind.planned
            ev = self.state.event(
                kind,
                outcome.message or f"{len(new_states)} subtasks",
                planner=outcome.planner,
                subtasks=[s.id for s in new_states],
                model_calls=outcome.model_calls,
                duration_s=round(took, 3),
                **({"failure": failure} if failure else {}),
            )
            return task.model_copy(update=update), [ev]

        return mutate

    async def conclude(self) -> bool:
        """Every subtask succeeded: decide the task against memory. Its goal (when it has
        one in the goal language and `scheduler.verify_goal`) must hold there; if it
        does not, a `goal_unmet` event names each unmet fact and the policy decides
        (`policy.unmet_goal`): replan toward the goal once, or fail naming the facts.
        True: a new plan runs; False: the task ended."""
        st = self.state
        goal = st.meta.goal
        if goal is None or Goal.from_json(goal) is None or not st.d.settings.verify_goal:
            await st.finish(TaskStatus.succeeded, "all subtasks succeeded")
            return False
        unmet = await self.planner.unmet(goal)
        if not unmet:
            await st.finish(TaskStatus.succeeded, "all subtasks succeeded and the goal holds")
            return False
        text = "goal not met: " + "; ".join(unmet)
        step = unmet_goal(st.view(), st.meta.goal_checks)
        replan = isinstance(step, Replan)
        ev = st.event(
            TaskEventKind.goal_unmet,
            f"{text} ({step.reason})" if isinstance(step, Fail) else text,
            unmet=unmet,
            replanning=replan,
        )

        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            meta.goal_checks += 1
            return task, [ev]

        await st.update(mutate)
        log.warning("task %s: %s", st.task.id, text)
        if replan:
            return await self.replan_task(text)
        problems = [PlanProblem(code="goal_unmet", message=u) for u in unmet]
        await st.finish(TaskStatus.failed, text, problems)
        return False

    async def _reject(self, message: str, problems: list[PlanProblem], calls: int) -> None:
        def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
            ev = self.state.event(
                TaskEventKind.plan_rejected,
                message,
                problems=[p.model_dump(mode="json") for p in problems],
            )
            return task.model_copy(update={"model_calls": task.model_calls + calls}), [ev]

        await self.state.update(mutate)
        await self.state.finish(TaskStatus.failed, message, problems)
