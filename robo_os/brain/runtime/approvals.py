"""Approvals of gated skills, as data: which subtasks need one, and the writes of an
answer (docs/operations.md, "Approvals"). The runner applies them (executor.py); the
scheduler applies them directly to a task no runner of it owns."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from ...contracts import (
    ErrorCode,
    SkillResult,
    SubtaskState,
    SubtaskStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from ...errors import ConflictError, NotFoundError
from .store import TaskMeta

__all__ = ["approval", "awaiting", "check_awaiting", "needs_approval", "rejected", "rejection"]

Mutation = Callable[[Task, TaskMeta], tuple[Task, list[TaskEvent]]]


def needs_approval(
    sub: SubtaskState, specs: Mapping[str, Mapping[str, Any]], listed: Collection[str]
) -> bool:
    """Its skill is listed (`scheduler.approval_skills`), or a robot publishes it as
    `requires_approval` (`@skill(requires_approval=True)`). `specs`: robot -> skill ->
    published spec."""
    if sub.skill in listed:
        return True
    found = [skills.get(sub.skill) for skills in specs.values()]
    return any(isinstance(s, Mapping) and s.get("requires_approval") is True for s in found)


def awaiting(task: Task) -> list[str]:
    """The ids of the subtasks that wait for approval."""
    return [s.id for s in task.subtasks if s.status == SubtaskStatus.awaiting_approval]


def check_awaiting(task: Task, sub_id: str) -> SubtaskState:
    """The subtask, if it awaits approval (else NotFoundError / ConflictError)."""
    sub = next((s for s in task.subtasks if s.id == sub_id), None)
    if sub is None:
        raise NotFoundError(f"task {task.id} has no subtask {sub_id!r}")
    if sub.status != SubtaskStatus.awaiting_approval:
        raise ConflictError(f"subtask {sub_id} is {sub.status.value}, not awaiting approval")
    return sub


def _settled(t: Task, subs: list[SubtaskState]) -> TaskStatus:
    # the task stops awaiting approval with its last waiting subtask
    waits = any(s.status == SubtaskStatus.awaiting_approval for s in subs)
    return (
        TaskStatus.running if t.status == TaskStatus.awaiting_approval and not waits else t.status
    )


def approval(sub_id: str, by: str, reason: str = "") -> Mutation:
    """The write of an approval: the subtask is pending again (it starts at once) and
    remembered as approved (never asked again, a retry or a move included)."""

    def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]]:
        check_awaiting(t, sub_id)
        subs = [
            s.model_copy(update={"status": SubtaskStatus.pending}) if s.id == sub_id else s
            for s in t.subtasks
        ]
        m.approved = {**m.approved, sub_id: by}
        ev = TaskEvent(
            task_id=t.id,
            kind=TaskEventKind.approved,
            subtask=sub_id,
            message=f"approved by {by}" + (f": {reason}" if reason else ""),
            data={"by": by},
        )
        return t.model_copy(update={"subtasks": subs, "status": _settled(t, subs)}), [ev]

    return mutate


def rejected(by: str, reason: str = "") -> SkillResult:
    """The result a rejected subtask fails with."""
    return SkillResult.failure(
        ErrorCode.rejected, f"rejected by {by}" + (f": {reason}" if reason else "")
    )


def rejection(sub_id: str, by: str, reason: str = "") -> Mutation:
    """The write of a rejection for a task no runner owns: the subtask failed (the
    runner that adopts the task corrects it as any failure: replan or fail)."""

    def mutate(t: Task, m: TaskMeta) -> tuple[Task, list[TaskEvent]]:
        sub = check_awaiting(t, sub_id)
        result = rejected(by, reason)
        subs = [
            s.model_copy(update={"status": SubtaskStatus.failed, "result": result})
            if s.id == sub_id
            else s
            for s in t.subtasks
        ]
        ev = TaskEvent(
            task_id=t.id,
            kind=TaskEventKind.rejected,
            subtask=sub_id,
            robot=sub.robot,
            message=result.message,
            data={"by": by},
        )
        return t.model_copy(update={"subtasks": subs, "status": _settled(t, subs)}), [ev]

    return mutate
