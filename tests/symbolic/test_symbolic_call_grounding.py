"""Grounding calls on demand (`CallGrounding`, what the rebalancing of a plan uses) gives
the actions the full grounding (`ground`) has for the same call, in the same order,
with the same deletes on every atom the full grounding can reach."""

from __future__ import annotations

import pytest

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.symbolic.conditions import Atom
from robo_os.symbolic.search import CallGrounding, GroundAction, Grounding, ground
from robo_os.symbolic.state import symbolic_state
from robo_os.testing.scenes import generated_scene

from ..brain.planning.planning_world import household_catalogue, offered_skills


def _atoms(g: Grounding, ids: frozenset[int]) -> frozenset[Atom]:
    return frozenset(g.atoms[i] for i in ids)


def _shape(g: Grounding, a: GroundAction) -> tuple[object, ...]:
    return (a.robot, a.skill, a.args, _atoms(g, a.pre), _atoms(g, a.neg), _atoms(g, a.add), a.dels)


def catalogues() -> list[Catalogue]:
    out = [household_catalogue()]
    for seed in (0, 3):
        robots, objects, places, _ = generated_scene(seed, robots=4, places=5, objects=3)
        out.append(Catalogue.build(robots, offered_skills(robots), objects, places))
    return out


@pytest.mark.parametrize("cat", catalogues(), ids=["household", "scene0", "scene3"])
def test_calls_on_demand_are_the_full_groundings_calls(cat: Catalogue) -> None:
    state = symbolic_state(cat)
    objects = sorted(cat.objects)[:3]
    places = sorted(cat.places)
    full = ground(cat, state, objects, places)
    lazy = CallGrounding(cat, state, objects, places)
    reached = {full.atoms[i] for a in full.actions for i in a.pre | a.add} | set(state.atoms)
    assert full.actions
    by_call: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[GroundAction]] = {}
    for a in full.actions:
        by_call.setdefault((a.robot, a.skill, a.args), []).append(a)
    for (robot, skill, args), expected in by_call.items():
        got = [x for x in lazy.calls(robot, skill, dict(args)) if x.args == args]
        # the full grounding drops what is unreachable; the rest comes in the same order
        shapes = [_shape(lazy.g, x) for x in got]
        wanted = [_shape(full, x) for x in expected]
        assert [s for s in shapes if s in wanted] == wanted, (robot, skill, args)
    for (robot, skill, args), expected in by_call.items():
        shaped = {
            _shape(lazy.g, x): x for x in lazy.calls(robot, skill, dict(args)) if x.args == args
        }
        for a in expected:
            mine = shaped[_shape(full, a)]
            assert _atoms(lazy.g, lazy.deletes(mine)) & reached == _atoms(full, a.dele)
            assert lazy.final(mine).dele == lazy.deletes(mine)


def test_a_call_the_world_does_not_offer_grounds_nothing() -> None:
    cat = household_catalogue()
    state = symbolic_state(cat)
    lazy = CallGrounding(cat, state, ["apple"], sorted(cat.places))
    assert lazy.calls("mm1", "fly") == []
    assert lazy.calls("mm1", "pick", {"object": "no-such-thing"}) == []
    assert lazy.calls("nobody", "pick") == []
    picks = lazy.calls("mm1", "pick", {"object": "apple"})
    assert picks and all(dict(a.args)["object"] == "apple" for a in picks)
    # a second ask is the same list (nothing grounded twice)
    assert lazy.calls("mm1", "pick", {"object": "apple"}) is picks
