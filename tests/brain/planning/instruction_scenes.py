"""Two scenes of our own for the instruction parser's tests: a café (numbered tables,
a coffee table, a fridge that opens, cups of three colours, fruit, homes) and a
workshop (shelves by letter, a packing area, tools by category, bins as receptacles,
robots with names other than the demo's)."""

from __future__ import annotations

from robo_os_memory.models import AttrValue, ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.testing.world import EMBODIMENT_CAPABILITIES

from .planning_world import offered_skills


def _place(name: str, x: float, y: float, kind: str = "table", **attrs: AttrValue) -> PlaceState:
    return PlaceState(name=name, kind=kind, pose=Pose(x=x, y=y), size=(0.8, 0.8, 0.75), attrs=attrs)


def _robot(rid: str, embodiment: str, at: PlaceState) -> RobotState:
    return RobotState(
        id=rid,
        embodiment=embodiment,
        capabilities=EMBODIMENT_CAPABILITIES[embodiment],
        place=at.name,
        pose=at.pose,
        reach=(at.name,) if embodiment == "fixed_arm" else (),
    )


def _obj(name: str, type_: str, on: str, **attrs: AttrValue) -> ObjectState:
    return ObjectState(name=name, type=type_, on=on, attrs=attrs)


def cafe_records() -> tuple[list[RobotState], list[ObjectState], list[PlaceState]]:
    places = [
        _place("coffee_table", 0.0, 0.0),
        _place("table_1", 3.0, 0.0),
        _place("table_2", 3.0, 2.5),
        _place("table_3", 3.0, 5.0),
        _place("kitchen_counter", -3.0, 0.0, kind="counter"),
        _place("bar", -3.0, 3.0, kind="bar"),
        _place("fridge", -3.0, -3.0, kind="fridge", open=False),
        _place("charging_station", 0.0, -3.0, kind="dock"),
    ]
    at = {p.name: p for p in places}
    robots = [
        _robot("waiter", "mobile_manipulator", at["bar"]),
        _robot("runner", "mobile_manipulator", at["table_1"]),
        _robot("tray1", "carrier", at["charging_station"]),
        _robot("barista", "fixed_arm", at["kitchen_counter"]),
    ]
    objects = [
        _obj("cup_1", "cup", "kitchen_counter", colour="blue", home="bar"),
        _obj("cup_2", "cup", "kitchen_counter", colour="red", home="bar"),
        _obj("cup_3", "cup", "table_2", colour="white", home="bar"),
        _obj("apple", "apple", "bar", colour="red"),
        _obj("banana", "banana", "bar", colour="yellow"),
        _obj("orange", "orange", "coffee_table", colour="orange"),
        _obj("pen", "pen", "coffee_table", colour="black"),
        _obj("red_cube", "cube", "table_3", colour="red"),
        _obj("blue_cube", "cube", "table_3", colour="blue"),
        _obj("fruit_bowl", "bowl", "coffee_table", colour="white"),
        _obj("menu", "menu", "table_1", home="bar"),
        _obj("coffee", "coffee", "bar", category="drink"),
    ]
    return robots, objects, places


def workshop_records() -> tuple[list[RobotState], list[ObjectState], list[PlaceState]]:
    places = [
        _place("shelf_a", 0.0, 0.0, kind="shelf"),
        _place("shelf_b", 0.0, 2.5, kind="shelf"),
        _place("work_bench", 3.0, 0.0, kind="bench"),
        _place("packing_area", 3.0, 3.0, kind="packing"),
        _place("loading_dock", 6.0, 0.0, kind="dock"),
        _place("tool_cabinet", -3.0, 0.0, kind="cabinet", open=True),
    ]
    at = {p.name: p for p in places}
    robots = [
        _robot("picker", "mobile_manipulator", at["shelf_a"]),
        _robot("cart", "carrier", at["loading_dock"]),
        _robot("bench_arm", "fixed_arm", at["work_bench"]),
    ]
    objects = [
        _obj("hammer", "hammer", "shelf_a", category="tool", colour="black", home="tool_cabinet"),
        _obj("wrench", "wrench", "shelf_a", category="tool", colour="silver", home="tool_cabinet"),
        _obj("screwdriver", "screwdriver", "work_bench", tags="tool, small", colour="yellow"),
        _obj("bolt_box", "box", "shelf_b", colour="grey"),
        _obj("parts_bin", "bin", "work_bench", colour="green"),
        _obj("widget_1", "widget", "shelf_b", colour="red"),
        _obj("widget_2", "widget", "shelf_b", colour="red"),
        _obj("widget_3", "widget", "work_bench", colour="blue"),
        _obj("manual", "manual", "packing_area", receptacle=False),
        _obj("crate", "crate", "loading_dock", receptacle=True),
        _obj("gadget", "gadget", "cart"),
    ]
    return robots, objects, places


def catalogue_of(
    records: tuple[list[RobotState], list[ObjectState], list[PlaceState]],
) -> Catalogue:
    robots, objects, places = records
    return Catalogue.build(robots, offered_skills(robots), objects, places)
