"""The plans the API documents are valid: each OpenAPI example of `POST /v1/tasks`
passes the real checks on the demo household scene (submitted word for word, it is
accepted)."""

from __future__ import annotations

from typing import Any

from robo_os.brain.api.schemas import SubmitTask
from robo_os.brain.planning.checker import check_plan_data
from robo_os.symbolic.state import symbolic_state

from .planning_world import household_catalogue


def examples() -> list[dict[str, Any]]:
    extra = SubmitTask.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    found = extra["examples"]
    assert isinstance(found, list) and found
    return found


def test_every_documented_submission_is_a_valid_request() -> None:
    for example in examples():
        SubmitTask.model_validate(example)


def test_every_documented_plan_passes_the_checks_on_the_demo_scene() -> None:
    plans = [e["plan"] for e in examples() if "plan" in e]
    assert plans
    cat = household_catalogue()
    for plan in plans:
        report = check_plan_data(plan, cat, symbolic_state(cat))
        assert report.problems == [], report.problems
        assert report.plan is not None
