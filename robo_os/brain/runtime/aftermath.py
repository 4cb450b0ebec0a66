"""What a task leaves behind when it ends.

A failed or cancelled task whose robots still hold objects (in a gripper or on a tray)
has each one set down somewhere safe (`scheduler.held_on_end`: put back where it was
picked up, else on the nearest place that works; put down on the nearest; or keep):
`Planner.put_away` plans it, the runner dispatches it like any subtask (recorded in the
task, after its own subtasks), and a put-down that fails is tried once more from the
world it left, then reported, with the robot marked as needing attention. Then, for
every task, `Task.objects` records where each object it touched is as memory has it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from robo_os_memory.models import EntityKind

from ...contracts import (
    ErrorCode,
    ObjectEnd,
    SkillCall,
    SkillResult,
    Subtask,
    SubtaskState,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from ...errors import DeadlineExceeded, RobotUnavailableError
from .outage import is_store_outage
from .store import TaskMeta

if TYPE_CHECKING:
    from robo_os_memory.models import ObjectState

    from .task_state import TaskState

__all__ = ["PUT_AWAY_TRIES", "Aftermath", "touched_objects"]

log = logging.getLogger(__name__)

PUT_AWAY_TRIES = 2
"""Plans tried to set one object down (the second from the world the first left)."""

PUT_AWAY_ID = "putaway"
"""Prefix of the ids of put-down subtasks (the rest comes from the planner)."""


def touched_objects(subtasks: Iterable[SubtaskState], objects: set[str]) -> list[str]:
    """The objects named in the arguments of any of the subtasks, in first-named order."""
    out: dict[str, None] = {}
    for s in subtasks:
        for v in s.args.values():
            for x in v if isinstance(v, list) else [v]:
                if isinstance(x, str) and x in objects:
                    out[x] = None
    return list(out)


def picked_from(subtasks: Iterable[SubtaskState], obj: str) -> list[str]:
    """Where the task's successful calls took `obj` from, first pick first (pick
    results carry `data.from`)."""
    out: dict[str, None] = {}
    for s in subtasks:
        data = s.result.data if s.result is not None and s.result.ok else {}
        src = data.get("from")
        if data.get("object") == obj and isinstance(src, str):
            out[src] = None
    return list(out)


@dataclass
class _Outcome:
    note: str = ""
    attention: str | None = None
    by: str | None = None
    """The robot that set it down, when one of our put-downs did."""


@dataclass
class Aftermath:
    """Runs the end of one task (see the module docstring)."""

    state: TaskState
    handled: set[str] = field(default_factory=set)
    """The objects it found in a robot's hand or on a tray (and tried to set down)."""

    async def run(self, status: TaskStatus) -> list[ObjectEnd] | None:
        """Put held objects away (failed or cancelled tasks), then where every touched
        object is; None without a memory to read."""
        memory = self.state.d.memory
        if memory is None:
            return None
        records = {o.name: o for o in await memory.list_objects()}
        robots = set(await memory.names(EntityKind.robot))
        touched = touched_objects(self.state.task.subtasks, set(records))
        outcomes: dict[str, _Outcome] = {}
        mode = self.state.d.settings.held_on_end
        if status in (TaskStatus.failed, TaskStatus.cancelled) and mode != "keep":
            # its pending subtasks will never run: the robots they kept are free, so a
            # put-down never waits on a task that waits for this one's robots
            self.state.d.lanes.release_claims(self.state.task.id)
            for obj in touched:
                if _holder(records[obj], robots) is not None:
                    outcomes[obj] = await self._put_away(obj, mode, robots)
            if outcomes:
                self.handled = set(outcomes)
                records = {o.name: o for o in await memory.list_objects()}
        ends = []
        for obj in touched:
            rec = records.get(obj)
            out = outcomes.get(obj, _Outcome())
            ends.append(_end(obj, rec, robots, out))
        return ends

    def summary(self, ends: Iterable[ObjectEnd]) -> str:
        """What became of the objects it found in hand, for the task's message ("" if none)."""
        return "; ".join(e.note for e in ends if e.name in self.handled)

    async def _put_away(self, obj: str, mode: str, robots: set[str]) -> _Outcome:
        st = self.state
        memory = st.d.memory
        assert memory is not None
        if st.d.estop is not None and st.d.estop.engaged:
            return _Outcome(note="not set down: the emergency stop is engaged")
        prefer = picked_from(st.task.subtasks, obj) if mode == "put_back" else []
        why, by = "", None
        for n in range(PUT_AWAY_TRIES + 1):
            # memory decides, not the skill's answer: a put-down that failed may have set
            # it down after all, one that succeeded may have been undone
            rec = await memory.get_object(obj)
            holder = _holder(rec, robots) if rec is not None else None
            if holder is None:
                return _Outcome(by=by)
            if n == PUT_AWAY_TRIES:
                break
            ids = [s.id for s in st.task.subtasks]
            used = set(ids) | {i.removeprefix(f"{PUT_AWAY_ID}-") for i in ids}
            outcome = await st.d.planner.put_away(st.task.id, obj, prefer, used)
            if outcome.plan is None or not outcome.plan.subtasks:
                why = "; ".join(p.message for p in outcome.problems) or outcome.message
                break
            stopped = sorted({s.robot for s in outcome.plan.subtasks if st.robot_stopped(s.robot)})
            if stopped:  # a robot's own stop: it moves for no one until released
                return _Outcome(note=f"not set down: {', '.join(stopped)} emergency-stopped")
            by = outcome.plan.subtasks[-1].robot
            failed = await self._dispatch(outcome.plan.subtasks)
            why = failed or f"memory still has {obj} with {holder} after the put-down"
        assert holder is not None
        note = f"could not be set down: {why}" if why else "could not be set down"
        log.warning("task %s: %s %s; %s needs attention", st.task.id, obj, note, holder)
        try:
            await memory.update_robot(
                holder, by="brain", activity=f"needs attention: still holds {obj} ({note})"
            )
        except Exception as e:
            if is_store_outage(e):
                raise
            log.warning("task %s: cannot mark %s as needing attention: %s", st.task.id, holder, e)
        return _Outcome(note=note, attention=holder)

    async def _dispatch(self, subtasks: list[Subtask]) -> str | None:
        """Run the put-down subtasks in order (recorded in the task); None when all
        succeeded, else what failed."""
        st = self.state
        ids = {s.id: f"{PUT_AWAY_ID}-{s.id}" for s in subtasks}
        for planned in subtasks:
            sub = planned.model_copy(
                update={"id": ids[planned.id], "depends_on": [ids[d] for d in planned.depends_on]}
            )
            state = SubtaskState(
                id=sub.id,
                robot=sub.robot,
                skill=sub.skill,
                args=dict(sub.args),
                depends_on=list(sub.depends_on),
                status=SubtaskStatus.running,
                attempts=1,
                started_at=time.time(),
            )
            ev = st.event(
                TaskEventKind.subtask_started,
                f"setting down what the task left in hand: {sub.skill} on {sub.robot}",
                subtask=sub.id,
                robot=sub.robot,
                attempt=1,
                put_away=True,
            )
            await st.update(_appending(state, ev))
            result = await self._call(sub)
            kind = TaskEventKind.subtask_succeeded if result.ok else TaskEventKind.subtask_failed
            code = {} if result.ok else {"error": (result.error or ErrorCode.internal).value}
            ev = st.event(kind, result.message, subtask=sub.id, robot=sub.robot, **code)
            await st.set_subtask(
                sub.id,
                ev,
                status=SubtaskStatus.succeeded if result.ok else SubtaskStatus.failed,
                result=result,
                finished_at=time.time(),
            )
            if not result.ok:
                code_text = (result.error or ErrorCode.internal).value
                return f"{sub.skill} on {sub.robot} failed with {code_text}: {result.message}"
        return None

    async def _call(self, sub: Subtask) -> SkillResult:
        st = self.state
        call_id = f"{st.task.id}/{sub.id}/1"
        try:
            timeout_s = await st.d.timeouts.timeout_s(sub.robot, sub.skill)
            call = SkillCall(
                call_id=call_id,
                robot=sub.robot,
                skill=sub.skill,
                args=dict(sub.args),
                task_id=st.task.id,
                subtask_id=sub.id,
                attempt=1,
                timeout_s=timeout_s,
            )
            async with st.d.lanes.hold(sub.robot, call_id, priority=st.task.priority):
                return await st.d.dispatcher.run(
                    call, timeout_s=timeout_s + st.d.cancel_grace_s + 5.0
                )
        except RobotUnavailableError as e:
            return SkillResult.failure(ErrorCode.robot_offline, str(e))
        except DeadlineExceeded as e:
            return SkillResult.failure(ErrorCode.timeout, str(e))
        except Exception as e:
            if is_store_outage(e):
                raise
            log.exception("task %s: put-down %s failed to dispatch", st.task.id, call_id)
            return SkillResult.failure(ErrorCode.internal, f"{type(e).__name__}: {e}")


def _appending(
    state: SubtaskState, ev: TaskEvent
) -> Callable[[Task, TaskMeta], tuple[Task, list[TaskEvent]]]:
    def mutate(task: Task, meta: TaskMeta) -> tuple[Task, list[TaskEvent]]:
        return task.model_copy(update={"subtasks": [*task.subtasks, state]}), [ev]

    return mutate


def _holder(rec: ObjectState, robots: set[str]) -> str | None:
    """The robot that has the object in hand or on its tray, or None."""
    if rec.held_by is not None:
        return rec.held_by
    return rec.on if rec.on in robots else None


def _end(obj: str, rec: ObjectState | None, robots: set[str], out: _Outcome) -> ObjectEnd:
    if rec is None:
        return ObjectEnd(name=obj, unknown=True, note=f"{obj} is no longer in memory")
    holder = _holder(rec, robots)
    unknown = rec.unknown_since is not None
    by = out.by or (rec.updated_by if rec.updated_by in robots else None)
    if unknown:
        note = f"{obj} is lost: nobody found it where memory had it"
    elif rec.held_by is not None:
        note = f"{obj} still held by {rec.held_by}"
    elif holder is not None:
        note = f"{obj} on {holder}'s tray"
    elif rec.on is not None:
        note = f"{obj} left on {rec.on}" + (f" by {by}" if by else "")
    else:
        note = f"{obj} on the floor" + (f", dropped by {by}" if by else "")
    if out.note:
        note = f"{note}: {out.note}" if holder is not None else f"{note} ({out.note})"
    return ObjectEnd(
        name=obj,
        on=rec.on,
        held_by=rec.held_by,
        unknown=unknown,
        note=note,
        attention=out.attention,
    )
