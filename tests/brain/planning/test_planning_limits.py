"""Plan size and name limits: a model's (or an app's) oversized plan is a named problem,
found before anything is simulated, and nothing long is echoed back."""

from __future__ import annotations

from typing import Any

from robo_os.brain.planning.checker import check_plan_data
from robo_os.contracts import MAX_NAME_LENGTH, MAX_PLAN_SUBTASKS
from robo_os.symbolic.state import symbolic_state

from .planning_world import household_catalogue


def chain(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"s{i}",
            "robot": "mm1",
            "skill": "navigate_to",
            "args": {"target": "shelf" if i % 2 else "sink"},
            "depends_on": [f"s{i - 1}"] if i else [],
        }
        for i in range(n)
    ]


def check(subtasks: list[dict[str, Any]]) -> Any:
    cat = household_catalogue()
    return check_plan_data({"subtasks": subtasks}, cat, symbolic_state(cat))


def test_a_plan_at_the_limit_is_checked_and_one_over_it_is_refused_at_once() -> None:
    at_limit = check(chain(MAX_PLAN_SUBTASKS))
    assert at_limit.plan is not None and len(at_limit.plan.subtasks) == MAX_PLAN_SUBTASKS
    over = check(chain(20_000))
    assert over.plan is None
    assert [p.code for p in over.problems] == ["plan_too_large"]
    assert (
        str(MAX_PLAN_SUBTASKS) in over.problems[0].message and "20000" in over.problems[0].message
    )
    # refused before any subtask is read or simulated: no other finding, no simulation note
    assert not any("simulat" in n for n in over.notes)


def test_long_ids_and_names_are_named_and_not_echoed() -> None:
    huge = "x" * 1_000_000
    for field in ("id", "robot", "skill"):
        plan = chain(2)
        plan[1][field] = huge
        report = check(plan)
        assert report.plan is None
        problem = next(p for p in report.problems if p.code == "name_too_long")
        assert f"'{field}'" in problem.message and str(MAX_NAME_LENGTH) in problem.message
        assert all(len(p.message) < 500 for p in report.problems)
    deps = chain(2)
    deps[1]["depends_on"] = [huge]
    report = check(deps)
    assert report.plan is None and all(len(p.message) < 500 for p in report.problems)
    exact = chain(1)
    exact[0]["id"] = "s" * MAX_NAME_LENGTH
    assert check(exact).plan is not None
