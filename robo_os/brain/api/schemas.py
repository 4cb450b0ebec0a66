"""Request and response bodies of the REST API (what /openapi.json documents)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from robo_os_memory.models import Change, ObjectState, PlaceState, RobotState

from ...contracts import Plan, Task
from ...skill.spec import SkillSpec
from ...symbolic.goal import Goal, GoalFormatError
from ..runtime.estop import RobotStop

__all__ = [
    "ChangesPage",
    "ErrorBody",
    "ErrorDetail",
    "FleetRobot",
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
    """An instruction to plan, a goal to plan (the goal language, docs/planning.md), or
    an explicit plan (then the instruction is its label, or the goal what it must reach)."""

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
                {
                    "goal": {
                        "facts": [["on", "apple", "dining_table"], "on(cup, dining_table)"],
                        "avoid": ["carrier1"],
                        "keep": ["bowl"],
                        "deadline_s": 300,
                        "instruction": "apple and cup to the table, without the carrier",
                    }
                },
            ]
        },
    )

    instruction: str | None = Field(default=None, min_length=1, max_length=4000)
    plan: Plan | None = None
    goal: dict[str, Any] | None = Field(
        default=None,
        description="What done means, in the goal language: `facts` (or ordered"
        ' `groups` of facts) such as `["on", "apple", "dining_table"]` or'
        ' `"on(apple, dining_table)"` over on/holding/held/at/open/closed, and the'
        " constraints `use`, `avoid` (robots), `keep` (objects not to move), `deadline_s`;"
        " `instruction` labels it. Planned by the embedded planner; with `plan`, the plan"
        ' must reach it. docs/planning.md, "Goal language".',
        json_schema_extra={
            "type": "object",
            "properties": {
                "facts": {"type": "array"},
                "groups": {"type": "array", "items": {"type": "array"}},
                "use": {"type": "array", "items": {"type": "string"}},
                "avoid": {"type": "array", "items": {"type": "string"}},
                "keep": {"type": "array", "items": {"type": "string"}},
                "deadline_s": {"type": "number", "exclusiveMinimum": 0},
                "instruction": {"type": "string"},
            },
        },
    )
    priority: int = Field(default=0, ge=-1000, le=1000)
    """Higher first where tasks wait for the same robots or objects (the fleet queue,
    robot lanes); equal priorities: first come first served."""
    mode: Literal["goal", "plan"] | None = None
    """With a model: `goal` (the model writes the goal, the embedded planner plans it)
    or `plan` (the model writes the goal and the plan); default `llm.mode`. Without a
    model the embedded planner plans either way."""

    @model_validator(mode="after")
    def _one_of(self) -> SubmitTask:
        if self.goal is not None:
            if self.instruction is not None:
                raise ValueError(
                    "give `instruction` or `goal`, not both (a goal's label is `goal.instruction`)"
                )
            try:
                # any predicate: the fleet's declared facts are checked when it is planned
                Goal.parse(self.goal, strict=True, predicates=None)
            except GoalFormatError as e:
                raise ValueError(f"goal: {e}") from e
            return self
        if self.instruction is None and self.plan is None:
            raise ValueError(
                'give `instruction` (text to plan), `goal` ({"facts": [...]}) or `plan`'
                ' ({"subtasks": [...]})'
            )
        return self


class TaskList(BaseModel):
    tasks: list[Task]


class FleetRobot(RobotState):
    """A robot as the memory holds it, and whether the emergency stop keeps it still."""

    estopped: bool = False
    """The global stop is engaged, or the robot's own (`estop`)."""
    estop: RobotStop | None = None
    """The robot's own emergency stop, while engaged."""


class RobotList(BaseModel):
    robots: list[FleetRobot]


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


class FactView(BaseModel):
    """A fact the fleet's skills declare (robo_os.symbolic.facts) and where it holds now."""

    signature: str
    meaning: str
    recorded: bool
    """Memory keeps it (in the attrs of its first argument); otherwise plans only."""
    initial: bool | str
    declared_by: list[str]
    """The skills whose specs declare it."""
    holds: list[list[str]]
    """Its atoms that hold now, as `[name, arg, ...]` (for an unrecorded fact: its
    initial value only)."""


class FactList(BaseModel):
    facts: list[FactView]


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
    brain: dict[str, Any] | None = None
    """With several brains (`ha.enabled`): this brain's id, its `role` (leader, taking
    over, follower) and who leads (`leader`: brain, epoch, URL)."""
