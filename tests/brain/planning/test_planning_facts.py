"""A plug-in's own facts in planning, on the demo household plus the example plug-in's
surface skills and a multi-word skill of this file: the catalogue learns them from the
published specs; the instruction parser reads a skill's name (or a fact's verb) as its
effect; the embedded planner plans it; the checker simulates it; goals are resolved
against it; the prompt lists it."""

from __future__ import annotations

from typing import Any

import pytest
from robo_os_example_plugin.surfaces import SKILLS as SURFACE_SKILLS

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.goal_resolution import resolve_goal
from robo_os.brain.planning.goals import goal_schema
from robo_os.brain.planning.instructions import parse_instruction
from robo_os.brain.planning.prompts import system_prompt
from robo_os.contracts import Plan, Subtask
from robo_os.skill import Fact, skill
from robo_os.skill.refs import ObjectName
from robo_os.skill.schema import build_spec
from robo_os.symbolic.state import SymbolicState, symbolic_state

from .planning_world import STANDARD_SKILLS, household_records, offered_skills

SCANNED = Fact("scanned(object)", meaning="its barcode has been read")


@skill(
    capabilities={"camera"},
    facts=[SCANNED],
    preconditions=["on(object, ?where)", "reaches(robot, ?where)"],
    effects=["scanned(object)"],
)
async def scan_barcode(object: ObjectName) -> None:
    """Read an object's barcode with the camera.

    Args:
        object: The object to scan.
    """


def catalogue(**places_attrs: dict[str, Any]) -> tuple[Catalogue, SymbolicState]:
    specs = dict(STANDARD_SKILLS)
    for fn in [*SURFACE_SKILLS, scan_barcode]:
        spec = build_spec(fn, source="robo-os-example-plugin")
        specs[spec.name] = spec
    robots, objects, places = household_records()
    places = [
        p.model_copy(update={"attrs": {**p.attrs, **places_attrs.get(p.name, {})}}) for p in places
    ]
    cat = Catalogue.build(robots, offered_skills(robots, specs), objects, places)
    return cat, symbolic_state(cat, cat.vocabulary)


def plan(instruction: str, **attrs: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    cat, state = catalogue(**attrs)
    parsed = parse_instruction(instruction, cat)
    assert parsed.goal is not None, parsed.problems
    res = EmbeddedPlanner().plan(cat, state, parsed.goal)
    assert res.plan is not None, res.problems
    if not res.plan.subtasks:
        assert all(state.holds(a) for a in parsed.goal.final)
        return []
    report = check_plan(res.plan, cat, state, goal=parsed.goal.final)
    assert report.ok, report.problems
    return [(s.robot, s.skill, dict(s.args)) for s in res.plan.subtasks]


def test_the_catalogue_learns_the_fleets_declared_facts() -> None:
    cat, state = catalogue(dining_table={"clean": True})
    assert sorted(cat.facts) == ["clean", "inspected", "scanned"]
    assert cat.vocabulary.kinds("clean", 0) == ("place",) and cat.warnings == ()
    assert state.holds(("clean", "dining_table")) and not state.holds(("clean", "shelf"))


def test_wipe_the_dining_table_is_navigate_then_wipe() -> None:
    assert plan("wipe the dining table") == [
        ("mm1", "navigate_to", {"target": "dining_table"}),
        ("mm1", "wipe", {"place": "dining_table"}),
    ]


def test_a_fixed_arm_wipes_what_it_reaches_without_driving() -> None:
    assert plan("please wipe the kitchen counter") == [
        ("arm1", "wipe", {"place": "kitchen_counter"})
    ]


def test_a_fact_about_an_object_plans_with_that_object() -> None:
    # arm1 at the kitchen counter reaches the apple there: no drive
    assert plan("scan barcode the apple") == [("arm1", "scan_barcode", {"object": "apple"})]


def test_declared_and_built_in_facts_plan_together() -> None:
    got = plan("scan_barcode the apple, then wipe the shelf and put the apple on the shelf")
    assert ("arm1", "scan_barcode", {"object": "apple"}) in got
    assert ("mm1", "wipe", {"place": "shelf"}) in got  # mm1 is at the shelf already
    assert got[-1][2] == {"object": "apple", "target": "shelf"}
    assert got.index(("arm1", "scan_barcode", {"object": "apple"})) < got.index(
        ("arm1", "pick", {"object": "apple"})
    )


def test_a_fact_that_holds_already_needs_nothing() -> None:
    assert plan("clean the dining table", dining_table={"clean": True}) == []


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("wipe the dining table", [[("clean", "dining_table")]]),
        ("clean the shelf and the dining table", [[("clean", "shelf"), ("clean", "dining_table")]]),
        ("scan barcode the apple", [[("scanned", "apple")]]),
        (
            "scan_barcode the apple, then wipe the shelf",
            [[("scanned", "apple")], [("clean", "shelf")]],
        ),
        (
            "wipe the shelf and put the apple on the shelf",
            [[("clean", "shelf"), ("on", "apple", "shelf")]],
        ),
    ],
)
def test_the_parser_reads_a_skill_name_or_a_facts_verb_as_its_effect(
    text: str, groups: list[list[tuple[str, ...]]]
) -> None:
    cat, _ = catalogue()
    parsed = parse_instruction(text, cat)
    assert parsed.goal is not None, parsed.problems
    assert [list(g) for g in parsed.goal.groups] == groups


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("wipe the apple", "'apple' is an object, not a place"),
        ("wipe the garage", "unknown place 'garage'"),
        ("inspect the kitchen counter", "acts on an object, and kitchen_counter is not one"),
        ("wipe", "needs a thing to act on"),
        ("polish the dining table", "does not understand 'polish'"),
    ],
)
def test_the_parser_refuses_what_a_skill_verb_cannot_mean(text: str, says: str) -> None:
    cat, _ = catalogue()
    parsed = parse_instruction(text, cat)
    assert parsed.goal is None
    assert says in parsed.problems[0].message, parsed.problems


def test_without_the_plug_in_the_verb_and_the_fact_are_unknown() -> None:
    robots, objects, places = household_records()
    cat = Catalogue.build(robots, offered_skills(robots), objects, places)
    assert parse_instruction("wipe the dining table", cat).goal is None
    goal, problems = resolve_goal({"facts": [["clean", "dining_table"]]}, cat)
    assert goal is None and "unknown predicate 'clean'" in problems[0].message


def test_the_checker_simulates_declared_facts() -> None:
    cat, state = catalogue()
    wipe_only = Plan(
        subtasks=[Subtask(id="s1", robot="mm1", skill="wipe", args={"place": "dining_table"})]
    )
    report = check_plan(wipe_only, cat, state, goal=[("clean", "dining_table")])
    assert not report.ok and "mm1 is at shelf, not at dining_table" in report.problems[0].message
    wipe_then_spill = Plan(
        subtasks=[
            Subtask(id="s1", robot="arm1", skill="wipe", args={"place": "kitchen_counter"}),
            Subtask(
                id="s2",
                robot="arm1",
                skill="spill",
                args={"place": "kitchen_counter"},
                depends_on=["s1"],
            ),
        ]
    )
    report = check_plan(wipe_then_spill, cat, state, goal=[("clean", "kitchen_counter")])
    assert not report.ok
    assert any("clean(kitchen_counter)" in p.message for p in report.problems), report.problems


def test_the_prompt_lists_the_declared_facts() -> None:
    cat, _ = catalogue()
    prompt = system_prompt(cat, tool_calling=True)
    assert "the place's surface has been wiped" in prompt
    # goal mode: the schema a model fills offers the declared facts over live names
    variants = goal_schema(cat)["properties"]["facts"]["items"]["anyOf"]
    clean = [v for v in variants if v["prefixItems"][0]["const"] == "clean"]
    assert clean and "dining_table" in clean[0]["prefixItems"][1]["enum"]
    assert "apple" not in clean[0]["prefixItems"][1]["enum"]
    assert not [v for v in variants if v["prefixItems"][0]["const"] == "inspected"]
