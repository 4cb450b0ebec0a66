"""Navigation: choosing a docking slot and planning a base's route to it.

A route is: back out of the current slot (straight, heading kept), A* on the static
occupancy grid (inflated by the robot's radius, other robots added as discs) to the
goal slot's approach point, turn to face the place, and drive straight in to dock.
"""

from __future__ import annotations

import itertools
import math
from typing import Protocol

from ..skill.parts import MotionOutcome, MotionResult
from .geometry import Frame2
from .models import MotionRequest, Navigate
from .motions import Leg, NavigateController
from .planning import OccupancyGrid
from .rigs import RobotRig
from .scene import PlaceBody, Slot
from .view import Scene

__all__ = ["FloorPlan", "choose_slot", "start_navigate"]

ARM_REACH_OF_TRAY = 0.62
"""How close a tray's centre must be to a fixed arm's base for the arm to load it (m)."""
MARGIN = 0.05


class FloorPlan(Scene, Protocol):
    """What navigation needs: the scene, the floor's size and a cache for the static
    occupancy grids (one per inflation radius; places never move)."""

    @property
    def floor_size(self) -> tuple[float, float]: ...

    @property
    def grids(self) -> dict[float, OccupancyGrid]: ...


def _grid(world: FloorPlan, rig: RobotRig) -> OccupancyGrid:
    assert rig.base is not None
    radius = round(rig.base.radius + MARGIN, 3)
    if radius not in world.grids:
        obstacles = [pb.obstacle() for pb in world.places.values()]
        world.grids[radius] = OccupancyGrid(world.floor_size, obstacles, radius)
    others = [
        (f.x, f.y, other.base.radius)
        for other in world.robots.values()
        if other.id != rig.id and other.base is not None
        for f in [other.pose(world.client)]
    ]
    return world.grids[radius].with_discs(others)


def _near_arm(world: Scene, place: PlaceBody, dock: Frame2) -> bool:
    for other in world.robots.values():
        if other.base is None and other.arm is not None and place.name in other.reach:
            if math.hypot(dock.x - other.frame.x, dock.y - other.frame.y) <= ARM_REACH_OF_TRAY:
                return True
    return False


def _objects_in_reach(world: Scene, rig: RobotRig, place: PlaceBody, dock: Frame2) -> float:
    """How many of the objects on the place an arm docked here would reach: a mobile
    manipulator docks where it can work, whatever it came for."""
    if rig.arm is None:
        return 0.0
    mx, my, _, _ = rig.arm.mount
    ax, ay = dock.to_world(mx, my)
    reach = 0.85 * rig.arm.model.reach_m
    count = 0
    for name in world.objects:
        if world.support_of(name) == place.name:
            q = world.object_pose(name)
            count += math.hypot(q.x - ax, q.y - ay) <= reach
    return float(count)


def _dock_clear(world: FloorPlan, rig: RobotRig, place: PlaceBody, dock: Frame2) -> bool:
    """The docked footprint stays on the floor and off every other place."""
    assert rig.base is not None
    half = rig.base.radius
    sx, sy = world.floor_size
    if abs(dock.x) > sx / 2 - half or abs(dock.y) > sy / 2 - half:
        return False
    for other in world.places.values():
        if other.name == place.name:
            continue
        lx, ly = other.frame.to_local(dock.x, dock.y)
        ex = max(abs(lx) - other.depth / 2, 0.0)
        ey = max(abs(ly) - other.width / 2, 0.0)
        if math.hypot(ex, ey) < half:
            return False
    return True


def choose_slot(
    world: FloorPlan, rig: RobotRig, place: PlaceBody, grid: OccupancyGrid | None = None
) -> Slot | None:
    """The best free slot for this robot: a carrier prefers one a fixed arm can load; a
    manipulator prefers the one from which it reaches most of the objects there, and
    otherwise leaves the arm's slots to carriers. Then the place's front, its centre,
    and the shorter trip."""
    if rig.base is None:
        return None
    here = rig.pose(world.client)
    carries = rig.tray is not None
    ranked: list[tuple[tuple[float, ...], Slot]] = []
    for slot in place.slots:
        if slot.occupant not in (None, rig.id):
            continue
        dock = slot.dock_pose(rig.base.half_length)
        if not _dock_clear(world, rig, place, dock):
            continue
        if grid is not None and not grid.free(*slot.approach):
            continue
        near = _near_arm(world, place, dock)
        work = -_objects_in_reach(world, rig, place, dock)
        wanted = 0.0 if near == carries else 1.0
        key = (
            *((wanted, work) if carries else (work, wanted)),
            0.0 if slot.side == "front" else 1.0,
            round(math.hypot(dock.x - place.frame.x, dock.y - place.frame.y), 2),
            math.hypot(dock.x - here.x, dock.y - here.y),
        )
        ranked.append((key, slot))
    ranked.sort(key=lambda t: t[0])
    return ranked[0][1] if ranked else None


def _release_slot(rig: RobotRig) -> None:
    if rig.slot is not None and rig.slot.occupant == rig.id:
        rig.slot.occupant = None
    rig.slot = None
    rig.place = None


def start_navigate(
    world: FloorPlan, rig: RobotRig, request: MotionRequest
) -> NavigateController | MotionResult:
    assert isinstance(request, Navigate)
    if rig.base is None:
        return MotionResult(
            outcome=MotionOutcome.precondition_failed, message=f"{rig.id} has no mobile base"
        )
    if request.target is None and request.pose is None:
        return MotionResult(
            outcome=MotionOutcome.failed, message="navigate needs a target place or a pose"
        )
    here = rig.pose(world.client)
    grid = _grid(world, rig)
    if request.target is not None:
        place = world.places.get(request.target)
        if place is None:
            return MotionResult(
                outcome=MotionOutcome.not_found, message=f"no place named {request.target!r}"
            )
        if rig.place == place.name and rig.slot is not None:
            return MotionResult(
                outcome=MotionOutcome.done,
                message=f"already at {place.name}",
                pose=world.robot_pose(rig.id),
            )
        slot = choose_slot(world, rig, place, grid)
        if slot is None:
            busy = [s.occupant for s in place.slots if s.occupant]
            return MotionResult(
                outcome=MotionOutcome.unreachable,
                message=f"no free docking slot at {place.name}"
                + (f" (occupied by {', '.join(sorted(set(busy)))})" if busy else ""),
            )
        dock = slot.dock_pose(rig.base.half_length)
        goal_xy, final_yaw = slot.approach, dock.yaw
    else:
        assert request.pose is not None
        slot, dock = None, None
        goal_xy, final_yaw = (request.pose.x, request.pose.y), request.pose.yaw
        if not grid.free(*goal_xy):
            return MotionResult(
                outcome=MotionOutcome.unreachable,
                message=f"pose ({goal_xy[0]:.2f}, {goal_xy[1]:.2f}) is not free floor for {rig.id}",
            )
    legs: list[Leg] = []
    start = (here.x, here.y)
    if rig.slot is not None:  # back out the way it docked
        legs.append(Leg(start, rig.slot.approach, here.yaw))
        start = rig.slot.approach
    elif not grid.free(*start):
        free = grid.nearest_free(*start, max_m=0.8)
        if free is None:
            return MotionResult(outcome=MotionOutcome.unreachable, message=f"{rig.id} is boxed in")
        legs.append(Leg(start, free, here.yaw))
        start = free
    path = grid.plan(start, goal_xy)
    if path is None:
        return MotionResult(
            outcome=MotionOutcome.unreachable,
            message=f"no path for {rig.id} to {request.target or goal_xy}",
        )
    legs += [Leg(a, b) for a, b in itertools.pairwise(path) if math.dist(a, b) > 1e-6]
    if dock is not None:
        legs.append(Leg(goal_xy, goal_xy, final_yaw))  # turn on the spot to face the place
        legs.append(Leg(goal_xy, (dock.x, dock.y), final_yaw))
    else:
        legs.append(Leg(goal_xy, goal_xy, final_yaw))
    _release_slot(rig)
    if slot is not None:
        slot.occupant = rig.id
    controller = NavigateController(rig, legs, goal=request.target)

    def on_finish(result: MotionResult) -> MotionResult:
        if result.outcome == MotionOutcome.done and slot is not None:
            rig.slot, rig.place = slot, slot.place
        elif slot is not None and slot.occupant == rig.id:
            slot.occupant = None
        return result

    controller.on_finish = on_finish
    return controller
