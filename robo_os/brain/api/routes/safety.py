"""Safety controls: the emergency stop and approvals of gated subtasks.

POST /v1/estop                                     operator  halt every robot now
POST /v1/estop/release                             admin     go on
GET  /v1/estop                                     read      engaged? by whom, since
POST /v1/tasks/{id}/subtasks/{sid}/approve         operator  dispatch the subtask
POST /v1/tasks/{id}/subtasks/{sid}/reject          operator  fail it ("rejected by")
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ....contracts import Task
from ...runtime.estop import EStopState
from ..audit import audit_note
from ..auth import AdminScope, OperatorScope
from ..deps import BrainRuntime, get_runtime
from ..schemas import ErrorBody

__all__ = ["router"]

Runtime = Annotated[BrainRuntime, Depends(get_runtime)]
_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token."},
    403: {"model": ErrorBody, "description": "The token's scope does not allow it."},
}
router = APIRouter(prefix="/v1", tags=["safety"], responses=_errors)


class Reason(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "a person is in the aisle"}]}
    )

    reason: str = Field(default="", max_length=500)
    """Why (kept with the stop or the decision, in events and the audit stream)."""


_NoBody = Annotated[Reason | None, Body()]


@router.get("/estop", response_model=EStopState)
async def estop_state(rt: Runtime) -> EStopState:
    """Whether the emergency stop is engaged, by whom, why and since when."""
    return rt.scheduler.estop.state


@router.post("/estop", response_model=EStopState)
async def engage_estop(
    rt: Runtime, who: OperatorScope, request: Request, body: _NoBody = None
) -> EStopState:
    """Halt every robot now: running skills are cancelled (their subtasks go back to
    pending, not failed), nothing is dispatched, tasks are `paused`, until an admin
    releases it. Engaging it again keeps the first engagement. Survives a brain
    restart. Scope: operator."""
    reason = body.reason if body else ""
    state = await rt.scheduler.engage_estop(who.name, reason)
    audit_note(request, reason=reason)
    return state


@router.post("/estop/release", response_model=EStopState)
async def release_estop(
    rt: Runtime, who: AdminScope, request: Request, body: _NoBody = None
) -> EStopState:
    """Release the emergency stop: paused tasks go on, halted subtasks run again (as a
    new attempt). Releasing a released stop changes nothing. Scope: admin."""
    was = rt.scheduler.estop.state
    state = await rt.scheduler.release_estop(who.name)
    audit_note(
        request, reason=body.reason if body else "", was_engaged=was.engaged, engaged_by=was.by
    )
    return state


_decision: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No such task or subtask."},
    409: {
        "model": ErrorBody,
        "description": "The subtask does not await approval, or the task ended.",
    },
}


@router.post(
    "/tasks/{task_id}/subtasks/{subtask_id}/approve", response_model=Task, responses=_decision
)
async def approve_subtask(
    task_id: str,
    subtask_id: str,
    rt: Runtime,
    who: OperatorScope,
    request: Request,
    body: _NoBody = None,
) -> Task:
    """Approve a subtask in `awaiting_approval`: it is dispatched (approved once, it is
    not asked again on a retry). Scope: operator."""
    reason = body.reason if body else ""
    audit_note(request, reason=reason)
    return await rt.scheduler.decide(task_id, subtask_id, approve=True, by=who.name, reason=reason)


@router.post(
    "/tasks/{task_id}/subtasks/{subtask_id}/reject", response_model=Task, responses=_decision
)
async def reject_subtask(
    task_id: str,
    subtask_id: str,
    rt: Runtime,
    who: OperatorScope,
    request: Request,
    body: _NoBody = None,
) -> Task:
    """Reject a subtask in `awaiting_approval`: it fails `rejected by <name>`, and the
    task replans from there (an instruction with replans left) or fails. Scope: operator."""
    reason = body.reason if body else ""
    audit_note(request, reason=reason)
    return await rt.scheduler.decide(task_id, subtask_id, approve=False, by=who.name, reason=reason)
