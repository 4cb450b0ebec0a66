"""Safety controls: the emergency stop and approvals of gated subtasks.

POST /v1/estop                                     operator  halt every robot now
                                                             ({"robots": [...]}: those only)
POST /v1/estop/release                             admin     go on (the global stop, or
                                                             {"robots": [...]}: theirs)
GET  /v1/estop                                     read      engaged? by whom, since; robots
POST /v1/tasks/{id}/subtasks/{sid}/approve         operator  dispatch the subtask
POST /v1/tasks/{id}/subtasks/{sid}/reject          operator  fail it ("rejected by")
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from ....contracts import Task
from ....errors import UnknownNameError
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


class EStopRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "a person is in the aisle"},
                {"reason": "arm jammed", "robots": ["r1"]},
            ]
        },
    )

    reason: str = Field(default="", max_length=500)
    """Why (kept with the stop, in events and the audit stream)."""
    robots: list[str] = Field(default_factory=list, max_length=100)
    """Only these robots (their own stop; the others go on); empty: the global stop."""


_EStopBody = Annotated[EStopRequest | None, Body()]
_unknown_robot: dict[int | str, dict[str, object]] = {
    422: {
        "model": ErrorBody,
        "description": "The body is malformed, or names a robot the memory does not know"
        " (`problems[].field` is `robots.<i>`).",
    }
}


def _unknown(e: UnknownNameError, robots: list[str]) -> RequestValidationError:
    where = robots.index(e.name) if e.name in robots else 0
    return RequestValidationError(
        [{"type": "unknown_robot", "loc": ("body", "robots", where), "msg": str(e)}]
    )


@router.get("/estop", response_model=EStopState)
async def estop_state(rt: Runtime) -> EStopState:
    """Whether the emergency stop is engaged, by whom, why and since when; `robots`: the
    robots stopped one by one."""
    return rt.scheduler.estop.state


@router.post("/estop", response_model=EStopState, responses=_unknown_robot)
async def engage_estop(
    rt: Runtime, who: OperatorScope, request: Request, body: _EStopBody = None
) -> EStopState:
    """Halt every robot now: running skills are cancelled (their subtasks go back to
    pending, not failed), nothing is dispatched, tasks are `paused`, until an admin
    releases it. Engaging it again keeps the first engagement. Survives a brain
    restart. With `robots`, only those: their running skills are halted the same way,
    nothing is dispatched to them (their subtasks wait for them, they are not moved),
    the other robots go on and the tasks stay `running`. Scope: operator."""
    body = body or EStopRequest()
    try:
        state = await rt.scheduler.engage_estop(who.name, body.reason, robots=body.robots)
    except UnknownNameError as e:
        raise _unknown(e, body.robots) from e
    audit_note(request, reason=body.reason, robots=[*body.robots])
    return state


@router.post("/estop/release", response_model=EStopState, responses=_unknown_robot)
async def release_estop(
    rt: Runtime, who: AdminScope, request: Request, body: _EStopBody = None
) -> EStopState:
    """Release the emergency stop: paused tasks go on, halted subtasks run again (as a
    new attempt). Releasing a released stop changes nothing. Without `robots` it releases
    the global stop only (robots stopped one by one stay stopped); with `robots`, those
    robots' own stops only. Scope: admin."""
    body = body or EStopRequest()
    was = rt.scheduler.estop.state
    try:
        state = await rt.scheduler.release_estop(who.name, robots=body.robots)
    except UnknownNameError as e:
        raise _unknown(e, body.robots) from e
    audit_note(
        request,
        reason=body.reason,
        was_engaged=was.engaged,
        engaged_by=was.by,
        robots=[*body.robots],
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
