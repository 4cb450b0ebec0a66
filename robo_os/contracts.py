"""Frozen wire models shared by the brain, the agents, the REST API and the CLI.

Everything here crosses a process boundary (Ray, HTTP, Redis), so every model is
frozen: change one with `model_copy(update=...)`.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState, RobotStatusValue

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_PLAN_SUBTASKS",
    "TERMINAL_TASK_STATUSES",
    "ErrorCode",
    "ObjectEnd",
    "ObjectState",
    "PlaceState",
    "Plan",
    "PlanProblem",
    "Pose",
    "RobotState",
    "RobotStatus",
    "RobotStatusValue",
    "SkillCall",
    "SkillResult",
    "StateChange",
    "Subtask",
    "SubtaskState",
    "SubtaskStatus",
    "Task",
    "TaskError",
    "TaskEvent",
    "TaskEventKind",
    "TaskStatus",
    "Waiting",
]

RobotStatus = RobotState
"""A robot as the memory holds it (id, embodiment, capabilities, pose, status, ...)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorCode(StrEnum):
    """Why a skill failed. The brain's recovery depends on it (see docs/planning.md)."""

    unreachable = "unreachable"
    """The target cannot be reached (out of the arm's workspace, no path)."""
    not_found = "not_found"
    """The object/place is not where the skill expected it, or does not exist."""
    held_by_other = "held_by_other"
    """Another robot holds the object or a lease on it."""
    collision = "collision"
    """Motion stopped by an unexpected contact."""
    timeout = "timeout"
    """The skill did not finish before its deadline."""
    cancelled = "cancelled"
    """Cancelled by the brain or the user."""
    precondition_failed = "precondition_failed"
    """The robot's state does not allow the skill (e.g. hand already full)."""
    invalid_args = "invalid_args"
    """Arguments did not validate against the skill's schema."""
    robot_offline = "robot_offline"
    """The agent died or stopped heart-beating while running the skill (set by the brain)."""
    internal = "internal"
    """A bug or an unexpected exception in the skill or the driver."""
    rejected = "rejected"
    """A person rejected the subtask when asked to approve it (set by the brain)."""


TRANSIENT_ERRORS = frozenset({ErrorCode.timeout, ErrorCode.collision, ErrorCode.held_by_other})


class StateChange(_Frozen):
    """One change a skill made to the world, as recorded in memory."""

    kind: Literal["robot", "object", "place"]
    name: str
    fields: dict[str, JsonValue] = Field(default_factory=dict)


class SkillCall(_Frozen):
    """One request to run a skill on a robot."""

    call_id: str
    """Idempotency key (task id, subtask id and attempt): an agent never runs the same call twice."""
    robot: str
    skill: str
    args: dict[str, JsonValue] = Field(default_factory=dict)
    task_id: str | None = None
    subtask_id: str | None = None
    attempt: int = 1
    timeout_s: float | None = None
    """None: the skill's declared default timeout."""
    traceparent: str | None = None
    """The brain's subtask span (W3C trace context): the agent's skill span is its child."""


class SkillResult(_Frozen):
    """What a skill returns: ok, or failed with an error code and a message."""

    status: Literal["ok", "failed"]
    error: ErrorCode | None = None
    message: str = ""
    data: dict[str, JsonValue] = Field(default_factory=dict)
    changes: list[StateChange] = Field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def success(cls, message: str = "", *, data: dict[str, Any] | None = None, changes: list[StateChange] | None = None) -> SkillResult:
        return cls(status="ok", message=message, data=data or {}, changes=changes or [])

    @classmethod
    def failure(cls, error: ErrorCode, message: str, *, data: dict[str, Any] | None = None) -> SkillResult:
        return cls(status="failed", error=error, message=message, data=data or {})


MAX_NAME_LENGTH = 128
"""Longest id or name a plan may carry (subtask ids, robots, skills): longer ones are
refused with a 422 before anything echoes them back."""
MAX_PLAN_SUBTASKS = 500
"""Most subtasks one plan may have (checking a plan is superlinear in its size)."""

Name = Annotated[str, Field(max_length=MAX_NAME_LENGTH)]


class Subtask(_Frozen):
    """One skill call by one robot, after the subtasks it depends on."""

    # JSON has no NaN or infinity: an argument that is one is refused, never stored as null
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: Name
    robot: Name
    skill: Name
    args: dict[str, JsonValue] = Field(default_factory=dict)
    depends_on: list[Name] = Field(default_factory=list, max_length=MAX_PLAN_SUBTASKS)
    pinned: bool = False
    """The user chose this robot: the brain's allocation never moves it elsewhere."""


class Plan(_Frozen):
    """A DAG of subtasks."""

    subtasks: list[Subtask] = Field(default_factory=list, max_length=MAX_PLAN_SUBTASKS)
    error: str | None = None
    """The planner's reason when it declares the instruction infeasible."""
    pinned: bool = False
    """Every subtask keeps its robot (as if each were `pinned`)."""
    expected_duration_s: float | None = None
    """Expected time from the start until the last subtask ends (the planned schedule's
    makespan; robo_os.brain.planning.timing). None: not estimated."""


class PlanProblem(_Frozen):
    """One defect found in a plan, named so that a model (or a person) can fix it."""

    code: str
    """Machine-readable: invalid_json, unknown_robot, unknown_skill, invalid_args,
    unknown_object, unknown_place, robot_lacks_capability, unknown_dependency,
    self_dependency, dependency_cycle, duplicate_id, precondition_failed, conflict,
    empty_plan, infeasible, ..."""
    message: str
    subtask: str | None = None


class TaskStatus(StrEnum):
    pending = "pending"
    planning = "planning"
    queued = "queued"
    """Planned; waits in the fleet queue for objects other tasks claim (`waiting_for`)."""
    running = "running"
    awaiting_approval = "awaiting_approval"
    """A subtask waits for a person's approval (docs/operations.md, "Approvals")."""
    paused = "paused"
    """The emergency stop is engaged: nothing is dispatched until it is released."""
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_TASK_STATUSES = frozenset({TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled})


class SubtaskStatus(StrEnum):
    pending = "pending"
    awaiting_approval = "awaiting_approval"
    """Ready, but its skill needs a person's approval before it is dispatched."""
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    skipped = "skipped"
    """Dropped by a replan or never started because the task ended."""


class SubtaskState(_Frozen):
    """A subtask with its execution state, as GET /v1/tasks/{id} shows it."""

    id: str
    robot: str
    """The robot it is assigned to now (may differ from the plan after reassignment)."""
    skill: str
    args: dict[str, JsonValue] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    pinned: bool = False
    """The plan pinned it to its robot (Subtask.pinned)."""
    status: SubtaskStatus = SubtaskStatus.pending
    attempts: int = 0
    result: SkillResult | None = None
    started_at: float | None = None
    finished_at: float | None = None


class Waiting(_Frozen):
    """One thing a task waits for: an object or a robot another task claims."""

    kind: Literal["object", "robot"]
    name: str
    holder: str | None = None
    """The id of the task holding the claim."""
    subtask: str | None = None
    """The subtask that waits (robot claims)."""
    since: float = Field(default_factory=time.time)


class TaskError(_Frozen):
    message: str
    problems: list[PlanProblem] = Field(default_factory=list)


class Task(_Frozen):
    id: str
    instruction: str | None = None
    status: TaskStatus = TaskStatus.pending
    subtasks: list[SubtaskState] = Field(default_factory=list)
    error: TaskError | None = None
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    version: int = 0
    model_calls: int = 0
    replans: int = 0
    submitted_by: str | None = None
    """The name of the API token that submitted it (None: auth off, or before tokens)."""
    priority: int = 0
    """Higher first in the fleet queue and in robot lanes; equal priorities: first come
    first served."""
    waiting_for: list[Waiting] = Field(default_factory=list)
    """What the task waits for now (empty when nothing)."""
    expected_finish_at: float | None = None
    """When the task is expected to be done (epoch seconds): planned at + the plan's
    `expected_duration_s`. None: not estimated."""
    objects: list[ObjectEnd] = Field(default_factory=list)
    """Set when the task ends: every object it touched, where memory has it then."""
    goal: dict[str, Any] | None = None
    """What "done" means, in the goal language (docs/planning.md, "Goal language"):
    given by the app, or read from the instruction by the planner. After every subtask
    succeeded the task succeeds only if its final facts hold in memory. None: unknown."""
    goal_source: str | None = None
    """Where the goal came from: `app`, or the planner that read it (`embedded`,
    `llm:<model>`, ...)."""


class ObjectEnd(_Frozen):
    """Where one object a task touched was when the task ended, as memory has it."""

    name: str
    on: str | None = None
    held_by: str | None = None
    unknown: bool = False
    """Nobody could find it (memory's `unknown_since` is set)."""
    note: str = ""
    """In words: "cup left on counter by arm1", "mug still held by mm1: ..."."""
    attention: str | None = None
    """A robot that needs a person: it still holds the object and could not set it down."""


class TaskEventKind(StrEnum):
    created = "created"
    planning = "planning"
    planned = "planned"
    plan_rejected = "plan_rejected"
    subtask_started = "subtask_started"
    subtask_progress = "subtask_progress"
    subtask_succeeded = "subtask_succeeded"
    subtask_failed = "subtask_failed"
    subtask_retried = "subtask_retried"
    subtask_reassigned = "subtask_reassigned"
    replanned = "replanned"
    waiting = "waiting"
    """The task (or one of its subtasks) waits for a claim another task holds; `data.for`."""
    awaiting_approval = "awaiting_approval"
    """A subtask needs a person's approval before it is dispatched (`subtask`)."""
    approved = "approved"
    rejected = "rejected"
    paused = "paused"
    """The emergency stop was engaged: running skills were cancelled, nothing starts."""
    resumed = "resumed"
    """The emergency stop was released: the task goes on."""
    subtask_halted = "subtask_halted"
    """A subtask the emergency stop interrupted; it runs again (new attempt) on release."""
    goal_unmet = "goal_unmet"
    """Every subtask succeeded but the goal does not hold in memory (`data.unmet`); the
    task replans once if it can, else fails."""
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class TaskEvent(_Frozen):
    task_id: str
    kind: TaskEventKind
    ts: float = Field(default_factory=time.time)
    subtask: str | None = None
    robot: str | None = None
    message: str = ""
    data: dict[str, JsonValue] = Field(default_factory=dict)
    cursor: str | None = None
    """The event's stream id once stored; resume a stream after it."""
