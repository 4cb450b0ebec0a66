"""/v1/tasks: submit, read, list, cancel, follow (SSE) and wait."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ....contracts import Task, TaskStatus
from ....errors import ConflictError, NotFoundError
from ...runtime.scheduler import new_task_id
from ..audit import audit_note
from ..auth import OperatorScope
from ..deps import BrainRuntime, get_runtime
from ..events import parse_cursor, task_event_stream
from ..schemas import ErrorBody, SubmitTask, TaskList

__all__ = ["router"]

Runtime = Annotated[BrainRuntime, Depends(get_runtime)]
_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token."},
    403: {"model": ErrorBody, "description": "The token's scope does not allow it."},
    404: {"model": ErrorBody, "description": "No such task."},
}
router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=_errors)

IDEMPOTENCY_TTL_S = 24 * 3600.0
"""How long an Idempotency-Key names the task its first request created."""


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Task,
    responses={
        422: {
            "model": ErrorBody,
            "description": "Malformed body, the explicit plan failed the checks, or"
            " the goal names what does not exist or contradicts itself (each problem"
            " named).",
        },
        429: {
            "model": ErrorBody,
            "description": "The brain runs as many tasks as its limit allows"
            " (scheduler.max_active_tasks, named in the body); retry after `Retry-After`.",
        },
    },
)
async def submit_task(
    body: SubmitTask,
    rt: Runtime,
    response: Response,
    request: Request,
    who: OperatorScope,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Retry safely: a second request with the same key (within"
            " 24 h) answers with the task the first one created instead of creating"
            " another (header `Idempotent-Replayed: true`).",
        ),
    ] = None,
) -> Task:
    """Accept a task: an instruction the brain plans, a goal (the goal language: facts
    and constraints, resolved against the live world and planned by the embedded
    planner), or an explicit plan (checked exactly like a planned one before it is
    accepted; with a goal, also that it reaches it). Answers at once; follow it with
    `/events` or `/wait`. Scope: operator; the task records its submitter."""
    if idempotency_key is None:
        task = await rt.scheduler.submit(
            instruction=body.instruction,
            plan=body.plan,
            goal=body.goal,
            priority=body.priority,
            submitted_by=who.name,
            mode=body.mode,
        )
        audit_note(request, task_id=task.id)
        return task
    task_id = new_task_id()
    bound = await rt.store.claim_idempotency(idempotency_key, task_id, IDEMPOTENCY_TTL_S)
    if bound is not None:
        try:
            task = await rt.store.get(bound)
        except NotFoundError as e:  # the first request is still storing it
            raise ConflictError(
                "a request with this Idempotency-Key is still being processed; retry"
            ) from e
        response.headers["Idempotent-Replayed"] = "true"
        audit_note(request, task_id=task.id, replayed=True)
        return task
    try:
        task = await rt.scheduler.submit(
            instruction=body.instruction,
            plan=body.plan,
            goal=body.goal,
            priority=body.priority,
            task_id=task_id,
            submitted_by=who.name,
            mode=body.mode,
        )
        audit_note(request, task_id=task.id)
        return task
    except BaseException:
        # nothing was created: a corrected retry with the same key is a new request
        await rt.store.release_idempotency(idempotency_key, task_id)
        raise


@router.get("", response_model=TaskList)
async def list_tasks(
    rt: Runtime,
    status_: Annotated[
        TaskStatus | None, Query(alias="status", description="Only tasks with this status.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> TaskList:
    """Recent tasks, newest first; a `queued` one's `waiting_for` says which objects
    (or robots) it waits for and which task holds them."""
    return TaskList(tasks=await rt.store.recent(status_, limit))


@router.get("/{task_id}", response_model=Task)
async def get_task(task_id: str, rt: Runtime) -> Task:
    """The task: status, the plan with each subtask's robot, status, attempts and result,
    and the error (with the problems) when it failed."""
    return await rt.store.get(task_id)


@router.post(
    "/{task_id}/cancel",
    response_model=Task,
    responses={409: {"description": "The task already succeeded or failed."}},
)
async def cancel_task(task_id: str, rt: Runtime, who: OperatorScope) -> Task:
    """Cancel the task; its running skills are asked to stop. Answers once it ended (or
    after the cancel grace period). Cancelling a cancelled task again returns it
    unchanged; one that already succeeded or failed is a 409. Scope: operator."""
    task = await rt.store.get(task_id)
    if task.status in (TaskStatus.succeeded, TaskStatus.failed):
        raise ConflictError(f"task {task_id} already {task.status.value}: nothing to cancel")
    return await rt.scheduler.cancel(task_id, f"cancelled by {who.name}")


@router.get(
    "/{task_id}/wait",
    response_model=Task,
    responses={200: {"description": "The task, terminal unless the timeout passed first."}},
)
async def wait_task(
    task_id: str,
    rt: Runtime,
    # `timeout` is the query parameter's public name.
    timeout: Annotated[float, Query(ge=0, le=300, description="Seconds to wait at most.")] = 30.0,  # noqa: ASYNC109
) -> Task:
    """Long poll: answers when the task is terminal or when `timeout` passes, whichever
    comes first (a blocking read on the task's event stream; nothing polls)."""
    return await rt.store.wait_terminal(task_id, timeout)


async def _resume_after(
    task_id: str,
    rt: Runtime,
    cursor: Annotated[
        str | None, Query(description="Resume after this event id (same as Last-Event-ID).")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> str:
    # A dependency, so a bad cursor (400) or an unknown task (404) is answered before the
    # stream's 200 is sent.
    after = parse_cursor(cursor if cursor is not None else last_event_id)
    await rt.store.get(task_id)
    return after


@router.get(
    "/{task_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `id` is the cursor, `event` the kind,"
            " `data` a TaskEvent.",
        },
        400: {"model": ErrorBody, "description": "The cursor is not an event id."},
    },
)
async def task_events(
    task_id: str, rt: Runtime, after: Annotated[str, Depends(_resume_after)]
) -> AsyncIterator[ServerSentEvent]:
    """The task's events from the start (or after the cursor), then live, until the task
    ends. Reconnect with `Last-Event-ID` to continue where the stream stopped."""
    async for event in task_event_stream(rt.store, task_id, after):
        yield ServerSentEvent(data=event, event=event.kind.value, id=event.cursor)
