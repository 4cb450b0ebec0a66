"""Pure operations on a task's subtask graph: validity, readiness, moving work between
robots, and the part of a plan that is still to run. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ...contracts import (
    Plan,
    PlanProblem,
    Subtask,
    SubtaskState,
    SubtaskStatus,
    Task,
)

__all__ = [
    "OPEN_STATUSES",
    "apply_move",
    "descendants",
    "is_chain_head",
    "merge_problems",
    "ready_subtasks",
    "remaining_plan",
    "states_from_plan",
    "structural_problems",
]

OPEN_STATUSES = frozenset(
    {SubtaskStatus.pending, SubtaskStatus.awaiting_approval, SubtaskStatus.running}
)
"""Subtasks that still have to run (or finish)."""


def structural_problems(
    subtasks: Sequence[Subtask | SubtaskState], *, done: Iterable[str] = ()
) -> list[PlanProblem]:
    """Defects that make a plan unschedulable whatever the world looks like: no
    subtasks, duplicate ids, dependencies on unknown ids or on itself, cycles.
    `done` are ids of earlier subtasks (a replan may depend on them)."""
    problems: list[PlanProblem] = []
    if not subtasks:
        return [PlanProblem(code="empty_plan", message="the plan has no subtasks")]
    ids: set[str] = set()
    for s in subtasks:
        if s.id in ids:
            problems.append(
                PlanProblem(
                    code="duplicate_id",
                    message=f"subtask id {s.id!r} is used more than once",
                    subtask=s.id,
                )
            )
        ids.add(s.id)
    earlier = set(done)
    for s in subtasks:
        for d in s.depends_on:
            if d == s.id:
                problems.append(
                    PlanProblem(
                        code="self_dependency",
                        message=f"subtask {s.id!r} depends on itself",
                        subtask=s.id,
                    )
                )
            elif d not in ids and d not in earlier:
                problems.append(
                    PlanProblem(
                        code="unknown_dependency",
                        message=f"subtask {s.id!r} depends on unknown subtask {d!r}",
                        subtask=s.id,
                    )
                )
    cycle = _find_cycle(
        {s.id: [d for d in s.depends_on if d in ids and d != s.id] for s in subtasks}
    )
    if cycle:
        path = " -> ".join([*cycle, cycle[0]])
        problems.append(
            PlanProblem(
                code="dependency_cycle", message=f"dependency cycle: {path}", subtask=cycle[0]
            )
        )
    return problems


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = grey
        while stack:
            node, i = stack[-1]
            edges = graph.get(node, [])
            if i < len(edges):
                stack[-1] = (node, i + 1)
                nxt = edges[i]
                if colour.get(nxt) == grey:
                    return path[path.index(nxt) :]
                if colour.get(nxt) == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                path.pop()
    return None


def merge_problems(*groups: Iterable[PlanProblem]) -> list[PlanProblem]:
    """Concatenate, keeping one problem per (code, subtask)."""
    seen: set[tuple[str, str | None]] = set()
    out: list[PlanProblem] = []
    for group in groups:
        for p in group:
            if (p.code, p.subtask) not in seen:
                seen.add((p.code, p.subtask))
                out.append(p)
    return out


def states_from_plan(plan: Plan) -> list[SubtaskState]:
    return [
        SubtaskState(
            id=s.id,
            robot=s.robot,
            skill=s.skill,
            args=dict(s.args),
            depends_on=list(s.depends_on),
            pinned=s.pinned or plan.pinned,
        )
        for s in plan.subtasks
    ]


def ready_subtasks(task: Task) -> list[SubtaskState]:
    """Pending subtasks whose dependencies all succeeded, in plan order."""
    succeeded = {s.id for s in task.subtasks if s.status == SubtaskStatus.succeeded}
    return [
        s
        for s in task.subtasks
        if s.status == SubtaskStatus.pending and all(d in succeeded for d in s.depends_on)
    ]


def descendants(subtasks: Sequence[SubtaskState], root: str) -> set[str]:
    """Ids of every subtask that (transitively) depends on `root`."""
    children: dict[str, list[str]] = {}
    for s in subtasks:
        for d in s.depends_on:
            children.setdefault(d, []).append(s.id)
    out: set[str] = set()
    todo = list(children.get(root, []))
    while todo:
        sid = todo.pop()
        if sid not in out:
            out.add(sid)
            todo.extend(children.get(sid, []))
    return out


def ancestors(subtasks: Sequence[SubtaskState], root: str) -> set[str]:
    by_id = {s.id: s for s in subtasks}
    out: set[str] = set()
    todo = list(by_id[root].depends_on) if root in by_id else []
    while todo:
        sid = todo.pop()
        if sid not in out and sid in by_id:
            out.add(sid)
            todo.extend(by_id[sid].depends_on)
    return out


def is_chain_head(task: Task, subtask_id: str) -> bool:
    """True when no earlier subtask of this task ran (or runs) on the same robot, i.e.
    the robot carries no state (a held object, a position) from this task into it."""
    by_id = {s.id: s for s in task.subtasks}
    robot = by_id[subtask_id].robot
    return all(by_id[a].robot != robot for a in ancestors(task.subtasks, subtask_id))


def apply_move(task: Task, subtask_id: str, new: Subtask) -> tuple[Task, list[str]]:
    """Move a subtask to `new.robot` (with `new.args`), together with the pending
    subtasks after it that the old robot was to run (they continue its work: holding
    what it picked, standing where it went). Arguments of open subtasks that named the
    old robot (a hand-over to it, its tray) now name the new one. Returns the new task
    and the ids moved."""
    by_id = {s.id: s for s in task.subtasks}
    old = by_id[subtask_id].robot
    chain = {subtask_id} | {
        d
        for d in descendants(task.subtasks, subtask_id)
        if by_id[d].robot == old and by_id[d].status == SubtaskStatus.pending
    }
    out: list[SubtaskState] = []
    for s in task.subtasks:
        if s.id == subtask_id:
            s = s.model_copy(update={"robot": new.robot, "args": dict(new.args)})
        elif s.id in chain:
            s = s.model_copy(update={"robot": new.robot, "args": _rename(s.args, old, new.robot)})
        elif s.status == SubtaskStatus.pending:
            s = s.model_copy(update={"args": _rename(s.args, old, new.robot)})
        out.append(s)
    return task.model_copy(update={"subtasks": out}), [s.id for s in task.subtasks if s.id in chain]


def _rename(args: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    def sub(v: Any) -> Any:
        if v == old:
            return new
        if isinstance(v, list):
            return [sub(x) for x in v]
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        return v

    return {k: sub(v) for k, v in args.items()}


def remaining_plan(task: Task) -> Plan:
    """The open part of the task as a plan (dependencies on finished work dropped), to
    check against the current world state."""
    open_ids = {s.id for s in task.subtasks if s.status in OPEN_STATUSES}
    return Plan(
        subtasks=[
            Subtask(
                id=s.id,
                robot=s.robot,
                skill=s.skill,
                args=dict(s.args),
                depends_on=[d for d in s.depends_on if d in open_ids],
            )
            for s in task.subtasks
            if s.id in open_ids
        ]
    )
