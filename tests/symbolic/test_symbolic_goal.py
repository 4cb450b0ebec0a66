"""The goal language on its own: strict parsing naming the malformed part, what a goal
contradicts, and which final facts a symbolic state leaves unmet (in words)."""

from __future__ import annotations

from typing import Any

import pytest

from robo_os.symbolic.goal import Goal, GoalFormatError
from robo_os.symbolic.state import SymbolicState

MALFORMED: list[tuple[Any, str]] = [
    ([], "is an object"),
    ({}, "needs 'facts' or 'groups'"),
    ({"facts": []}, "facts is empty"),
    ({"facts": "on(cup, table)"}, "facts must be a list"),
    ({"groups": [["on(cup, table)"], "x"]}, "groups must be a list of lists"),
    ({"facts": [["on", "cup"]]}, "facts[0]: on takes 2 argument(s), got 1"),
    ({"facts": [["under", "cup", "table"]]}, "facts[0]: unknown predicate 'under'"),
    ({"facts": ["on(cup table"]}, "facts[0]: 'on(cup table' is not a fact"),
    ({"facts": [{"predicate": "on"}]}, "facts[0]: an object fact needs 'predicate' and 'args'"),
    ({"facts": [["on", "cup", 3]]}, "facts[0]"),
    ({"groups": [["on(a, b)"], [["held"]]]}, "groups[1][0]: held takes 1"),
    ({"facts": ["held(cup)"], "use": "mm1"}, "use must be a list of names"),
    ({"facts": ["held(cup)"], "keep": [""]}, "keep must be a list of names"),
    ({"facts": ["held(cup)"], "deadline_s": 0}, "deadline_s must be a positive number"),
    ({"facts": ["held(cup)"], "deadline_s": True}, "deadline_s must be a positive number"),
    ({"facts": ["held(cup)"], "deadline_s": "soon"}, "deadline_s must be a positive number"),
    ({"facts": ["held(cup)"], "groups": [["held(cup)"]]}, "not both"),
    ({"facts": ["held(cup)"], "kind": "plan"}, "kind must be 'goal'"),
    ({"facts": ["held(cup)"], "avoidd": ["mm1"]}, "unknown key 'avoidd'; did you mean 'avoid'?"),
    ({"fact": ["held(cup)"]}, "unknown key 'fact'; did you mean 'facts'?"),
    ({"facts": ["held(cup)"], "instruction": 3}, "instruction must be a string"),
]


@pytest.mark.parametrize(("data", "says"), MALFORMED)
def test_a_malformed_goal_is_refused_naming_the_part(data: Any, says: str) -> None:
    with pytest.raises(GoalFormatError) as err:
        Goal.parse(data, strict=True)
    assert says in str(err.value)


def test_every_fact_form_reads_the_same_and_round_trips() -> None:
    forms = [
        ["on", "cup", "table"],
        "on(cup, table)",
        {"predicate": "on", "args": ["cup", "table"]},
    ]
    goals = [Goal.parse({"facts": [f], "avoid": ["mm1"], "deadline_s": 30}) for f in forms]
    assert {g.groups for g in goals} == {((("on", "cup", "table"),),)}
    again = Goal.parse(goals[0].to_json(), strict=True)
    assert again == goals[0] and Goal.from_json(again.to_json()) == again
    assert Goal.from_json({"facts": ["held(cup)"]}) is None  # not stored by a task: no kind


CONTRADICTIONS: list[tuple[dict[str, Any], str]] = [
    ({"facts": ["on(cup, table)", "on(cup, shelf)"]}, "on(cup, table) and on(cup, shelf)"),
    ({"facts": ["open(fridge)", "closed(fridge)"]}, "open(fridge) and closed(fridge)"),
    ({"facts": ["holding(mm1, cup)", "holding(mm2, cup)"]}, "holding(mm1, cup) and holding"),
    ({"facts": ["at(mm1, sink)", "at(mm1, shelf)"]}, "at(mm1, sink) and at(mm1, shelf)"),
    ({"facts": ["on(cup, table)", "held(cup)"]}, "on(cup, table) and held(cup)"),
    ({"facts": ["on(bowl, bowl)"]}, "cannot rest on itself"),
    ({"facts": ["on(cup, bowl)", "on(bowl, cup)"]}, "on(bowl, cup) and on(cup, bowl)"),
    ({"facts": ["held(cup)"], "use": ["mm1"], "avoid": ["mm1"]}, "mm1 is both in use and in avoid"),
    ({"facts": ["at(mm1, sink)"], "avoid": ["mm1"]}, "needs mm1, which the goal's avoid"),
    ({"facts": ["holding(mm2, cup)"], "use": ["mm1"]}, "needs mm2, which the goal's use"),
    ({"facts": ["on(cup, table)"], "keep": ["cup"]}, "moves cup, which the goal keeps"),
]


@pytest.mark.parametrize(("data", "says"), CONTRADICTIONS)
def test_a_goal_that_contradicts_itself_is_named(data: dict[str, Any], says: str) -> None:
    found = Goal.parse(data).contradictions()
    assert any(says in c for c in found), found


def test_consistent_goals_have_no_contradiction() -> None:
    for data in (
        {"facts": ["held(cup)", "holding(mm1, cup)"]},
        {"groups": [["on(cup, table)"], ["on(cup, shelf)"]]},  # one after the other
        {"facts": ["on(cup, table)", "on(mug, table)"], "keep": ["bowl"], "use": ["mm1"]},
        {"facts": ["on(cup, bowl)", "closed(cabinet)"], "avoid": ["arm1"]},
    ):
        assert Goal.parse(data).contradictions() == [], data


def test_unmet_names_each_fact_and_where_things_are() -> None:
    state = SymbolicState(
        {
            ("on", "cup", "counter"),
            ("holding", "mm1", "mug"),
            ("at", "mm1", "shelf"),
            ("open", "fridge"),
        }
    )
    goal = Goal.parse(
        {
            "facts": [
                "on(cup, table)",
                "held(mug)",
                "holding(mm2, mug)",
                "at(mm1, sink)",
                "closed(fridge)",
                "open(cabinet)",
            ]
        }
    )
    assert goal.unmet(state) == [
        "on(cup, table) does not hold (cup is on counter)",
        "holding(mm2, mug) does not hold (mug is held by mm1)",
        "at(mm1, sink) does not hold (mm1 is at shelf)",
        "closed(fridge) does not hold (fridge is open)",
        "open(cabinet) does not hold (cabinet is closed)",
    ]
    assert Goal.parse({"facts": ["held(cup)"]}).unmet(state) == [
        "held(cup) does not hold (cup is on counter)"
    ]
    met = Goal.parse(
        {"facts": ["on(cup, counter)", "held(mug)", "at(mm1, shelf)", "closed(cabinet)"]}
    )
    assert met.unmet(state) == []


def test_a_later_group_decides_what_must_hold_at_the_end() -> None:
    state = SymbolicState({("on", "cup", "shelf")})
    goal = Goal.parse({"groups": [["on(cup, table)"], ["on(cup, shelf)"]]})
    assert goal.final == [("on", "cup", "shelf")] and goal.unmet(state) == []
