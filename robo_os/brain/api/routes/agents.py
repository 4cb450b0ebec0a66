"""POST /v1/robots/{robot_id}/restart: restart one robot's agent (operator scope). Only a
brain that runs its agents (`robo-os up`: the stack's AgentSupervisor in
`app.state.agent_supervisor`) can; others answer 503."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from robo_os_memory.models import RobotState

from ....errors import NotFoundError, ServiceUnavailableError
from ..auth import OperatorScope
from ..deps import BrainRuntime, get_runtime
from ..schemas import ErrorBody

__all__ = ["router"]

router = APIRouter(prefix="/v1/robots", tags=["fleet"])


@router.post(
    "/{robot_id}/restart",
    response_model=RobotState,
    responses={
        403: {"model": ErrorBody, "description": "The token's scope is not operator or admin."},
        404: {"model": ErrorBody, "description": "No such robot."},
        409: {"model": ErrorBody, "description": "The robot runs a skill (use `force`)."},
        503: {"model": ErrorBody, "description": "This brain does not run the agents."},
    },
)
async def restart_robot(
    robot_id: str,
    request: Request,
    rt: Annotated[BrainRuntime, Depends(get_runtime)],
    who: OperatorScope,
    force: Annotated[
        bool,
        Query(
            description="Restart even while a skill runs: the skill dies with the process"
            " and the brain retries or reassigns its subtask."
        ),
    ] = False,
) -> RobotState:
    """Restart the robot's agent in a new process (plug-ins imported afresh, so an edited
    skill is picked up); answers the robot as the new agent registered it (`idle`).
    Scope: operator."""
    supervisor: Any = getattr(request.app.state, "agent_supervisor", None)
    if await rt.memory.get_robot(robot_id) is None:
        raise NotFoundError(f"no robot {robot_id!r}")
    if supervisor is None:
        raise ServiceUnavailableError(
            "this brain does not run the agents (`robo-os up` does): restart it there"
        )
    state: RobotState = await supervisor.restart(robot_id, force=force)
    return state
