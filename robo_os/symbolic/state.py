"""The symbolic state the planner reasons with, read off a catalogue (i.e. from memory).

at(R, P)       R's place; a robot that cannot navigate (a fixed arm) is also at every
               place in its `reach`
on(O, L)       O's `on` (a place, a receptacle or a robot's tray)
holding(R, O)  R's `holding` / O's `held_by`
hand_empty(R)  for robots with the `manipulate` capability that hold nothing
open(X)        a place or object whose attrs say `open: true`
"""

from __future__ import annotations

from ..brain.planning.catalogue import Catalogue
from .conditions import Atom, SymbolicState

__all__ = ["MANIPULATE", "NAVIGATE", "describe_location", "symbolic_state"]

MANIPULATE = "manipulate"
NAVIGATE = "navigate"


def symbolic_state(cat: Catalogue) -> SymbolicState:
    atoms: set[Atom] = set()
    holders: dict[str, str] = {}
    for obj in cat.objects.values():
        if obj.held_by:
            holders[obj.name] = obj.held_by
        elif obj.on:
            atoms.add(("on", obj.name, obj.on))
        if obj.attrs.get("open") is True:
            atoms.add(("open", obj.name))
    for robot in cat.robots.values():
        if robot.holding and robot.holding not in holders:
            holders[robot.holding] = robot.id
    for obj_name, robot_id in holders.items():
        atoms.add(("holding", robot_id, obj_name))
    busy_hands = set(holders.values())
    for robot in cat.robots.values():
        place = cat.place_of(robot.id)
        if place:
            atoms.add(("at", robot.id, place))
        for p in robot.reach:
            atoms.add(("at", robot.id, p))
        if MANIPULATE in robot.capabilities and robot.id not in busy_hands:
            atoms.add(("hand_empty", robot.id))
    for place_state in cat.places.values():
        if place_state.attrs.get("open") is True:
            atoms.add(("open", place_state.name))
    return SymbolicState(atoms)


def describe_location(state: SymbolicState, obj: str) -> str:
    """Where an object is in a state, in words ("on kitchen_counter", "held by arm1")."""
    on = state.value("on", obj)
    if on is not None:
        return f"on {on}"
    for _, robot, _o in state.match(("holding", None, obj)):
        return f"held by {robot}"
    return "nowhere known"
