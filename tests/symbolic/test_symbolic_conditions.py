"""The condition language: one term resolution, one matcher, conjunctions over facts."""

from __future__ import annotations

import pytest

from robo_os.errors import SkillDefinitionError
from robo_os.symbolic.conditions import (
    Unsatisfied,
    check_preconditions,
    ground,
    matches,
    parse_condition,
    parse_conditions,
    resolve,
    solutions,
)
from robo_os.symbolic.state import SymbolicState, apply_effects, change_of


def test_resolve_terms() -> None:
    env = {"object": "cup", "?from": "table"}
    assert resolve("object", env) == "cup"
    assert resolve("?from", env) == "table"
    assert resolve("?to", env) is None
    assert resolve("*", env) is None
    assert resolve("'kitchen'", env) == "kitchen"
    assert resolve("target", env) is None  # lenient: the search grounds what it can
    with pytest.raises(SkillDefinitionError, match="neither a parameter"):
        resolve("target", env, strict=True)


def test_ground_and_match() -> None:
    c = parse_condition("not at(robot, *)")
    assert c.negated and ground(c, {"robot": "mm1"}) == ("at", "mm1", None)
    assert matches(("at", "mm1", None), ("at", "mm1", "shelf"))
    assert not matches(("at", "mm1", None), ("at", "arm1", "shelf"))
    assert not matches(("at", "mm1"), ("at", "mm1", "shelf"))


def test_solutions_and_preconditions_over_a_state() -> None:
    state = SymbolicState({("on", "cup", "table"), ("at", "mm1", "table"), ("hand_empty", "mm1")})
    pre = parse_conditions(["hand_empty(robot)", "on(object, ?from)", "reaches(robot, ?from)"])
    env = {"robot": "mm1", "object": "cup"}
    assert list(solutions(state, pre, env)) == [{**env, "?from": "table"}]
    assert check_preconditions(state, pre, env) == {**env, "?from": "table"}
    got = check_preconditions(state, pre, {"robot": "mm1", "object": "mug"})
    assert isinstance(got, Unsatisfied) and got.grounded == "on(mug, ?from)"
    assert got.values == ("mug", "?from")


def test_effects_apply_deletions_then_additions() -> None:
    state = SymbolicState({("at", "mm1", "shelf")})
    eff = parse_conditions(["not at(robot, *)", "at(robot, target)"])
    new = apply_effects(state, eff, {"robot": "mm1", "target": "table"})
    assert new.atoms == {("at", "mm1", "table")} and state.atoms == {("at", "mm1", "shelf")}
    with pytest.raises(SkillDefinitionError, match="not fully bound"):
        apply_effects(state, parse_conditions(["at(robot, ?x)"]), {"robot": "mm1"})
    lenient = change_of(
        parse_conditions(["at(robot, ?x)", "not at(robot, *)"]), {"robot": "mm1"}, strict=False
    )
    assert lenient.adds == () and lenient.deletes == (("at", "mm1", None),)
