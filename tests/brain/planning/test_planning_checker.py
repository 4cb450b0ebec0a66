"""The plan checker on the demo household scene (arm1 fixed at the kitchen counter,
carrier1 at the dining table, mm1 at the shelf; standard skills)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import CheckReport, check_plan, check_plan_data
from robo_os.brain.planning.dag import find_cycles
from robo_os.contracts import Plan, Subtask
from robo_os.symbolic.state import symbolic_state

from .planning_world import household_catalogue


def st(sid: str, robot: str, skill: str, deps: tuple[str, ...] = (), **args: Any) -> dict[str, Any]:
    return {"id": sid, "robot": robot, "skill": skill, "args": args, "depends_on": list(deps)}


def check(*subtasks: dict[str, Any], cat: Catalogue | None = None, **kw: Any) -> CheckReport:
    cat = cat or household_catalogue()
    return check_plan_data({"subtasks": list(subtasks)}, cat, symbolic_state(cat), **kw)


def codes(report: CheckReport) -> list[str]:
    return [p.code for p in report.problems]


RELAY = [
    st("s1", "arm1", "pick", object="apple"),
    st("s2", "carrier1", "navigate_to", target="kitchen_counter"),
    st("s3", "arm1", "place", ("s1", "s2"), object="apple", target="carrier1"),
    st("s4", "carrier1", "navigate_to", ("s3",), target="dining_table"),
    st("s5", "carrier1", "deliver", ("s4",), object="apple", target="dining_table"),
]


def test_valid_relay_plan_is_accepted() -> None:
    report = check(*RELAY, goal=[("on", "apple", "dining_table")])
    assert report.ok, report.problems
    assert report.plan is not None and [s.id for s in report.plan.subtasks] == [
        "s1",
        "s2",
        "s3",
        "s4",
        "s5",
    ]
    assert (
        report.final_state is not None
        and ("on", "apple", "dining_table") in report.final_state.atoms
    )


def test_explicit_plan_gets_the_same_checks() -> None:
    cat = household_catalogue()
    plan = Plan(subtasks=[Subtask(**s) for s in RELAY])
    assert check_plan(plan, cat, symbolic_state(cat)).ok
    bad = Plan(
        subtasks=[Subtask(id="s1", robot="arm1", skill="navigate_to", args={"target": "shelf"})]
    )
    assert codes(check_plan(bad, cat, symbolic_state(cat))) == ["robot_lacks_capability"]


def test_place_before_pick() -> None:
    report = check(
        st("s1", "mm1", "place", object="mug", target="shelf"),
        st("s2", "mm1", "pick", ("s1",), object="mug"),
    )
    assert codes(report)[0] == "precondition_failed"
    p = report.problems[0]
    assert (
        p.subtask == "s1" and "holding(mm1, mug)" in p.message and "mm1 holds nothing" in p.message
    )


def test_two_robots_pick_the_same_cup_in_order() -> None:
    report = check(
        st("s1", "arm1", "pick", object="cup"),
        st("s2", "mm1", "navigate_to", target="kitchen_counter"),
        st("s3", "mm1", "pick", ("s1", "s2"), object="cup"),
    )
    p = next(p for p in report.problems if p.code == "precondition_failed")
    assert p.subtask == "s3" and "held by arm1" in p.message


def test_two_robots_pick_the_same_cup_in_parallel_is_a_conflict() -> None:
    report = check(
        st("s0", "mm1", "navigate_to", target="kitchen_counter"),
        st("s1", "arm1", "pick", object="cup"),
        st("s2", "mm1", "pick", ("s0",), object="cup"),
        st("s3", "arm1", "place", ("s1",), object="cup", target="kitchen_counter"),
    )
    conflict = next(p for p in report.problems if p.code == "conflict")
    assert (
        "s1" in conflict.message
        and "s2" in conflict.message
        and "on(cup, kitchen_counter)" in conflict.message
    )


def test_carrier_leaving_while_the_arm_loads_it_is_a_conflict() -> None:
    report = check(
        st("s1", "arm1", "pick", object="apple"),
        st("s2", "carrier1", "navigate_to", target="kitchen_counter"),
        st("s3", "arm1", "place", ("s1", "s2"), object="apple", target="carrier1"),
        st("s4", "carrier1", "navigate_to", ("s2",), target="dining_table"),  # not after s3
        st("s5", "carrier1", "deliver", ("s3", "s4"), object="apple", target="dining_table"),
    )
    conflict = next(p for p in report.problems if p.code == "conflict")
    assert (
        "s3" in conflict.message
        and "s4" in conflict.message
        and "at(carrier1, kitchen_counter)" in conflict.message
    )


def test_reach_violation_of_a_fixed_arm() -> None:
    report = check(
        st("s1", "arm1", "pick", object="apple"),
        st("s2", "arm1", "place", ("s1",), object="apple", target="dining_table"),
    )
    p = report.problems[0]
    assert p.code == "precondition_failed" and p.subtask == "s2"
    assert "arm1 cannot move and reaches only kitchen_counter, not dining_table" in p.message


def test_hand_already_full() -> None:
    report = check(
        st("s1", "arm1", "pick", object="apple"),
        st("s2", "arm1", "pick", ("s1",), object="cup"),
        st("s3", "arm1", "place", ("s2",), object="cup", target="kitchen_counter"),
        st("s4", "arm1", "place", ("s3",), object="apple", target="kitchen_counter"),
    )
    p = report.problems[0]
    assert (
        p.code == "precondition_failed"
        and p.subtask == "s2"
        and "already full: it holds apple" in p.message
    )


def test_robot_not_at_location() -> None:
    report = check(
        st("s1", "mm1", "pick", object="apple"),
        st("s2", "mm1", "place", ("s1",), object="apple", target="shelf"),
    )
    p = report.problems[0]
    assert (
        p.subtask == "s1"
        and "mm1 is at shelf, not at kitchen_counter; navigate mm1 to kitchen_counter" in p.message
    )


def test_object_left_in_hand_unless_the_goal_wants_it_held() -> None:
    plan = [st("s1", "mm1", "pick", object="book")]
    assert codes(check(*plan)) == ["object_left_in_hand"]
    assert check(*plan, allowed_holding=["book"]).ok


def test_no_net_effect() -> None:
    report = check(
        st("s1", "mm1", "pick", object="book"),
        st("s2", "mm1", "place", ("s1",), object="book", target="shelf"),
    )
    assert codes(report) == ["no_net_effect"]


def test_goal_not_met() -> None:
    report = check(
        st("s1", "mm1", "pick", object="book"),
        st("s2", "mm1", "navigate_to", ("s1",), target="sink"),
        st("s3", "mm1", "place", ("s2",), object="book", target="sink"),
        goal=[("on", "book", "dining_table")],
    )
    assert codes(report) == ["goal_not_met"]
    assert "book is on sink" in report.problems[0].message


def test_unknown_names_with_suggestions() -> None:
    report = check(
        st("s1", "mm2", "navigate_to", target="shelf"),
        st("s2", "mm1", "grab", object="mug"),
        st("s3", "mm1", "pick", object="mugg"),
        st("s4", "mm1", "navigate_to", target="dining table"),
        st("s5", "mm1", "place", object="mug", target="apple"),
    )
    by_subtask = {p.subtask: (p.code, p.message) for p in report.problems}
    assert by_subtask["s1"][0] == "unknown_robot" and "did you mean 'mm1'" in by_subtask["s1"][1]
    assert by_subtask["s2"][0] == "unknown_skill" and "unknown skill 'grab'" in by_subtask["s2"][1]
    assert by_subtask["s3"][0] == "unknown_object" and "did you mean 'mug'" in by_subtask["s3"][1]
    assert (
        by_subtask["s4"][0] == "unknown_place"
        and "did you mean 'dining_table'" in by_subtask["s4"][1]
    )
    assert by_subtask["s5"][0] == "unknown_place"
    assert (
        "'apple' is an object, but place.target must name a place or robot" in by_subtask["s5"][1]
    )


def test_robot_lacks_capability_names_who_can() -> None:
    report = check(st("s1", "carrier1", "pick", object="bowl"))
    p = report.problems[0]
    assert p.code == "robot_lacks_capability"
    assert "needs capability manipulate" in p.message and "robots that can: arm1, mm1" in p.message


def test_robot_lacks_skill_when_not_offered() -> None:
    cat = household_catalogue()
    offered = {r: dict(v) for r, v in cat.offered.items()}
    del offered["mm1"]["look"]
    narrower = Catalogue(cat.robots, offered, cat.objects, cat.places)
    report = check(st("s1", "mm1", "look", target="shelf"), cat=narrower)
    assert codes(report) == ["robot_lacks_skill"]
    assert "robots that can: arm1" in report.problems[0].message


def test_offline_robot() -> None:
    report = check(
        st("s1", "mm1", "navigate_to", target="sink"), cat=household_catalogue(offline=["mm1"])
    )
    assert codes(report) == ["robot_unavailable"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({}, "missing required argument 'object'"),
        ({"object": "mug", "location": "shelf"}, "unexpected argument 'location'"),
        ({"object": {"type": "string", "enum": ["mug"]}}, "looks copied from the schema"),
        ({"object": 3}, "must be string"),
    ],
)
def test_invalid_args(args: dict[str, Any], needle: str) -> None:
    report = check({"id": "s1", "robot": "mm1", "skill": "pick", "args": args, "depends_on": []})
    assert "invalid_args" in codes(report)
    assert any(needle in p.message for p in report.problems), report.problems


def test_dependency_defects() -> None:
    report = check(
        st("s1", "mm1", "navigate_to", ("s1",), target="shelf"),
        st("s2", "mm1", "navigate_to", ("shelf",), target="sink"),
        st("s3", "mm1", "navigate_to", ("s9",), target="sink"),
    )
    msgs = {p.code: p.message for p in report.problems}
    assert "depends on itself" in msgs["self_dependency"]
    assert any("'shelf' is a place name" in p.message for p in report.problems)
    assert any(
        "'s9'" in p.message and "ids: s1, s2, s3" in p.message
        for p in report.problems
        if p.code == "unknown_dependency"
    )


def test_cycle_is_named() -> None:
    report = check(
        st("a", "mm1", "navigate_to", ("c",), target="shelf"),
        st("b", "mm1", "navigate_to", ("a",), target="sink"),
        st("c", "mm1", "navigate_to", ("b",), target="sink"),
    )
    assert codes(report) == ["dependency_cycle"]
    assert "a → c → b → a" in report.problems[0].message


def test_find_cycles_handles_deep_graphs() -> None:
    n = 5000
    graph = {f"s{i}": [f"s{i + 1}"] for i in range(n)}
    graph[f"s{n}"] = ["s0"]
    cycles = find_cycles(graph)
    assert len(cycles) == 1 and len(cycles[0]) == n + 2


def test_structure_defects() -> None:
    cat = household_catalogue()
    state = symbolic_state(cat)
    report = check_plan_data(
        {
            "subtasks": [
                "go",
                {"robot": "mm1", "skill": "look", "args": {"target": "shelf"}},
                {"id": 7, "robot": "mm1", "skill": "look", "args": {"target": "sink"}},
            ]
        },
        cat,
        state,
    )
    assert codes(report) == ["invalid_structure", "missing_field", "invalid_structure"]
    dup = check(st("s1", "mm1", "look", target="shelf"), st("s1", "mm1", "look", target="sink"))
    assert codes(dup) == ["duplicate_id"]


def test_empty_plan_error_and_both() -> None:
    cat = household_catalogue()
    state = symbolic_state(cat)
    assert codes(check_plan_data({"subtasks": []}, cat, state)) == ["empty_plan"]
    infeasible = check_plan_data({"subtasks": [], "error": "there is no banana"}, cat, state)
    assert infeasible.infeasible == "there is no banana" and codes(infeasible) == ["infeasible"]
    both = check_plan_data(
        {"subtasks": [st("s1", "mm1", "look", target="shelf")], "error": "cannot"}, cat, state
    )
    assert codes(both) == ["plan_and_error"]
    placeholder = check_plan_data(
        {"subtasks": [st("s1", "mm1", "look", target="shelf")], "error": "<short reason>"},
        cat,
        state,
    )
    assert placeholder.ok and any("placeholder" in n for n in placeholder.notes)
    assert codes(check_plan_data([1, 2], cat, state)) == ["invalid_structure"]
    assert codes(check_plan_data({"steps": []}, cat, state)) == ["missing_subtasks"]


def test_missing_depends_on_reads_as_empty_but_is_still_checked() -> None:
    report = check({"id": "s1", "robot": "mm1", "skill": "look", "args": {"target": "shelf"}})
    assert report.ok and any("no 'depends_on'" in n for n in report.notes)


def test_plan_schema_is_valid_and_fits_a_good_plan() -> None:
    cat = household_catalogue()
    schema = cat.plan_schema()
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate({"subtasks": RELAY})
    assert schema["$defs"]["object"]["enum"] == ["apple", "book", "bowl", "cup", "mug", "sponge"]
    errors = list(
        Draft202012Validator(schema).iter_errors(
            {"subtasks": [st("s1", "carrier1", "pick", object="apple")]}
        )
    )
    assert errors, "carrier1 must not be allowed to pick"
    tool = cat.submit_plan_tool()
    assert tool["function"]["name"] == "submit_plan" and tool["function"]["parameters"] == schema


def test_args_schema_fills_live_names_and_forbids_extras() -> None:
    cat = household_catalogue()
    schema = cat.args_schema("place")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["target"]["enum"] == [*cat.places, *cat.robots]
    assert "x-robo-os-entity" not in schema["properties"]["target"]
