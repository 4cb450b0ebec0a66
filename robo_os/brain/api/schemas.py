"""Request and response bodies of the REST API (what /openapi.json documents)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from robo_os_memory.models import Change, ObjectState, PlaceState, RobotState

from ...contracts import Plan, Task
from ...skill.spec import SkillSpec

__all__ = [
    "ChangesPage",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "ObjectList",
    "ObjectView",
    "PlaceList",
    "Problem",
    "RobotList",
    "SkillEntry",
    "SkillList",
    "SubmitTask",
    "TaskList",
]


class SubmitTask(BaseModel):
    """An instruction to plan, or an explicit plan (then the instruction is its label)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"instruction": "bring the apple to the dining table"},
                {
                    "instruction": "the book to the dining table",
                    "plan": {
                        "subtasks": [
                            {
                                "id": "s1",
                                "robot": "mm1",
                                "skill": "navigate_to",
                                "args": {"target": "shelf"},
                            },
                            {
                                "id": "s2",
                                "robot": "mm1",
                                "skill": "pick",
                                "args": {"object": "book"},
                                "depends_on": ["s1"],
                            },
                            {
                                "id": "s3",
                                "robot": "mm1",
                                "skill": "navigate_to",
                                "args": {"target": "dining_table"},
                                "depends_on": ["s2"],
                            },
                            {
                                "id": "s4",
                                "robot": "mm1",
                                "skill": "place",
                                "args": {"object": "book", "target": "dining_table"},
                                "depends_on": ["s3"],
                            },
                        ]
                    },
                },
            ]
        },
    )

    instruction: str | None = Field(default=None, min_length=1, max_length=4000)
    plan: Plan | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    """Higher first where tasks wait for the same robots or objects (the fleet queue,
    robot lanes); equal priorities: first come first served."""

    @model_validator(mode="after")
    def _one_of(self) -> SubmitTask:
        if self.instruction is None and self.plan is None:
            raise ValueError(
                'give `instruction` (text to plan) or `plan` ({"subtasks": [...]}), or both'
            )
        return self


class TaskList(BaseModel):
    tasks: list[Task]


class RobotList(BaseModel):
    robots: list[RobotState]


class SkillEntry(SkillSpec):
    """A skill's spec (as the first robot offering it published it) and the robots that offer it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    robots: list[str] = Field(default_factory=list)


class SkillList(BaseModel):
    skills: list[SkillEntry]


class ObjectView(ObjectState):
    """An object and the place it is at now, resolved through whatever holds or carries it."""

    place: str | None = None


class ObjectList(BaseModel):
    objects: list[ObjectView]


class PlaceList(BaseModel):
    places: list[PlaceState]


class ChangesPage(BaseModel):
    changes: list[Change]
    cursor: str
    """Pass it back as `?cursor=` to read what changed after this page."""


class Problem(BaseModel):
    code: str
    message: str
    subtask: str | None = None
    field: str | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[Problem] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str
    """`ok`, or `degraded` when a part below is not ok (then HTTP 503)."""
    redis: dict[str, Any]
    dispatcher: dict[str, Any]
    planner: dict[str, Any]
    scheduler: dict[str, Any]
