"""Grounding one object at a time (`ground(per_object=True)`): the actions about each
object alone, drives once, no action about two objects — and the same plans for one
object as the full grounding."""

from __future__ import annotations

from robo_os.symbolic.search import ground, search
from robo_os.symbolic.state import symbolic_state

from ..brain.planning.planning_world import household_catalogue


def test_per_object_grounding_keeps_each_objects_actions_and_drops_pairs() -> None:
    cat = household_catalogue()
    state = symbolic_state(cat)
    objects = ["apple", "mug", "cup"]
    full = ground(cat, state, objects)
    each = ground(cat, state, objects, per_object=True)

    def about(act_args: tuple[tuple[str, str], ...]) -> set[str]:
        return {v for _, v in act_args if v in cat.objects}

    assert all(len(about(a.args)) <= 1 for a in each.actions)
    assert any(len(about(a.args)) == 2 for a in full.actions), "put_in(a, b) pairs exist"
    single = {(a.robot, a.skill, a.args) for a in full.actions if len(about(a.args)) <= 1}
    assert {(a.robot, a.skill, a.args) for a in each.actions} == single
    drives = [(a.robot, a.args) for a in each.actions if a.skill == "navigate_to"]
    assert len(drives) == len(set(drives)), "drives are not repeated per object"
    goal = frozenset({each.id(("on", "apple", "dining_table"))})
    found = search(each, each.state(state.atoms), goal)
    again = search(
        full, full.state(state.atoms), frozenset({full.id(("on", "apple", "dining_table"))})
    )
    assert found.actions is not None and again.actions is not None
    assert [a.describe() for a in found.actions] == [a.describe() for a in again.actions]
