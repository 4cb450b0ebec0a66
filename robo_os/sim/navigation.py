"""Navigation: choosing a docking slot and planning a base's route to it.

A route is: back out of the current slot (straight, heading kept), A* on the static
occupancy grid (inflated by the robot's radius; other robots, and the slots other robots
are driving to, added as discs) to the goal slot's approach point, turn to face the
place, and drive straight in to dock. The routes other robots are driving (what is left
of them) are reserved corridors: a new route keeps out of them where a way around
exists, and otherwise crosses them, waiting at the crossing (below).

Traffic (`TrafficNavigate`): on the open floor a base waits while another moving robot
is right ahead of it (where paths cross), and gives up as `collision` ("blocked by ...")
if that lasts; after a contact it backs off a little before it reports the collision,
so that a new path around the other robot can start from free floor. Two bases driving
into each other's lane (head-on) settle it by name: the lower name waits, the higher
gives up at once ("coming the other way") and its skill plans a new path around the
waiting one, which then drives on.

Unwedging: a base that starts a drive touching furniture or another robot, or closer to
them than the planner's clearance, first slides (heading kept) to free floor: away from
what it touches (the contact normals), to the nearest free cell of the occupancy grid
(other robots as discs). Contact is not a collision during that first leg (it starts in
contact). A mobile manipulator whose arm is not stowed (a blocked reach leaves it out,
beyond the footprint the planner keeps clear) stows it before the base moves. The back-off after a contact is away from what was hit too (not blindly
backwards: a base hit from behind or the side would push further into it), so the next
drive starts from where it can move.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Protocol

import pybullet as p
from robo_os_memory.models import Pose

from ..skill.parts import DockSlot, MotionOutcome, MotionResult
from .geometry import Frame2
from .models import MotionRequest, Navigate
from .motions import Controller, Leg, NavigateController
from .planning import OccupancyGrid
from .rigs import RobotRig
from .scene import PlaceBody, Slot
from .view import Scene

__all__ = [
    "FloorPlan",
    "TrafficNavigate",
    "choose_slot",
    "dock_slots",
    "rank_slots",
    "start_navigate",
]

log = logging.getLogger(__name__)

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

    def base_motion(self, robot_id: str) -> Controller | None:
        """The controller of the robot's running base motion, if any."""
        ...


CORRIDOR_STEP_M = 0.15
"""Spacing of the discs that block another moving robot's remaining route."""


def reserved_corridors(world: FloorPlan, rig: RobotRig) -> list[tuple[float, float, float]]:
    """The routes other robots are driving now, ahead of them, as discs (x, y, r): a base
    plans around them where it can, so that it does not cut across another's way."""
    discs: list[tuple[float, float, float]] = []
    for other in world.robots.values():
        if other.id == rig.id or other.base is None:
            continue
        motion = world.base_motion(other.id)
        if not isinstance(motion, NavigateController):
            continue
        for a, b in itertools.pairwise(motion.remaining_route()):
            n = max(1, math.ceil(math.dist(a, b) / CORRIDOR_STEP_M))
            discs += [
                (a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n, other.base.radius)
                for k in range(n + 1)
            ]
    return discs


def _grid(world: FloorPlan, rig: RobotRig) -> OccupancyGrid:
    assert rig.base is not None
    radius = round(rig.base.radius + MARGIN, 3)
    if radius not in world.grids:
        obstacles = [pb.obstacle() for pb in world.places.values()]
        obstacles += [r.footprint for r in world.robots.values() if r.footprint is not None]
        world.grids[radius] = OccupancyGrid(world.floor_size, obstacles, radius)
    others = [
        (f.x, f.y, other.base.radius)
        for other in world.robots.values()
        if other.id != rig.id and other.base is not None
        for f in [other.pose(world.client)]
    ]
    # where other robots are going: the slots they drive to (not yet docked there)
    for place in world.places.values():
        for slot in place.slots:
            other = world.robots.get(slot.occupant or "")
            if other is None or other.id == rig.id or other.base is None or other.slot is slot:
                continue
            dock = slot.dock_pose(other.base.half_length)
            others.append((dock.x, dock.y, other.base.radius))
    # what fell on the floor: driven around (a base that touches it stops, as at a wall)
    others += [
        (q.x, q.y, world.objects[o].shape.radius)
        for o in loose_objects(world)
        for q in [world.object_pose(o)]
    ]
    return world.grids[radius].with_discs(others)


def loose_objects(world: Scene) -> list[str]:
    """The objects lying on the floor (fallen; nobody holds them)."""
    return [o for o in world.objects if world.support_of(o) is None and world.holder_of(o) is None]


def _static(world: FloorPlan, rig: RobotRig) -> OccupancyGrid:
    """The grid of furniture only (built by `_grid`, which always runs first)."""
    assert rig.base is not None
    return world.grids[round(rig.base.radius + MARGIN, 3)]


TUCK_TOLERANCE = 0.05
"""How far (rad) any arm joint may be from its stowed angle for the arm to count as
tucked in before a drive."""
ESCAPE_M = 0.15
"""How far a base that starts in contact slides away from it at least (m)."""


def contact_away(world: Scene, rig: RobotRig) -> tuple[float, float] | None:
    """The unit direction on the floor away from the furniture, robots and fallen objects
    this robot touches now (the sum of the contact normals), or None when it touches
    none of them."""
    others = {pb.body for pb in world.places.values()}
    others |= {b for r in world.robots.values() if r.id != rig.id for b in r.bodies}
    others |= {world.object_body(o) for o in loose_objects(world)}
    sx = sy = 0.0
    for body in rig.bodies:
        for cp in p.getContactPoints(bodyA=body, physicsClientId=world.client):
            if cp[2] in others:
                # normal on B points from B towards A: away from what the robot touches
                sx, sy = sx + cp[7][0], sy + cp[7][1]
    n = math.hypot(sx, sy)
    return (sx / n, sy / n) if n > 1e-6 else None


def escape_point(
    grid: OccupancyGrid, here: Frame2, away: tuple[float, float] | None
) -> tuple[float, float] | None:
    """Where a base that touches something (`away`: the direction away from it), or
    stands off the grid's free floor, slides to before it plans (see the module doc);
    None when there is no free floor within 0.8 m."""
    if away is not None:  # away from the contact first, then to free floor from there
        for d in (ESCAPE_M, 2 * ESCAPE_M, 3 * ESCAPE_M):
            q = (here.x + away[0] * d, here.y + away[1] * d)
            if grid.free(*q):
                return q
        free = grid.nearest_free(here.x + away[0] * ESCAPE_M, here.y + away[1] * ESCAPE_M, 0.8)
        if free is not None:
            return free
    return grid.nearest_free(here.x, here.y, max_m=0.8)


def _nearest_robot(world: FloorPlan, rig: RobotRig, xy: tuple[float, float]) -> str | None:
    best: tuple[float, str] | None = None
    for other in world.robots.values():
        if other.id != rig.id and other.base is not None:
            f = other.pose(world.client)
            d = math.hypot(f.x - xy[0], f.y - xy[1])
            if best is None or d < best[0]:
                best = (d, other.id)
    return best[1] if best else None


def _segment_distance(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    ax, ay = b[0] - a[0], b[1] - a[1]
    n = ax * ax + ay * ay
    t = 0.0 if n < 1e-12 else max(0.0, min(1.0, ((p[0] - a[0]) * ax + (p[1] - a[1]) * ay) / n))
    return math.hypot(p[0] - a[0] - t * ax, p[1] - a[1] - t * ay)


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
    for fixed in world.robots.values():  # a pedestal on the floor
        if fixed.footprint is not None:
            lx, ly = fixed.footprint.frame.to_local(dock.x, dock.y)
            ex = max(abs(lx) - fixed.footprint.hx, 0.0)
            ey = max(abs(ly) - fixed.footprint.hy, 0.0)
            if math.hypot(ex, ey) < half:
                return False
    return True


def choose_slot(
    world: FloorPlan, rig: RobotRig, place: PlaceBody, grid: OccupancyGrid | None = None
) -> Slot | None:
    """The best free slot for this robot (see `rank_slots`)."""
    ranked = rank_slots(world, rig, place, grid)
    return ranked[0] if ranked else None


def rank_slots(
    world: FloorPlan,
    rig: RobotRig,
    place: PlaceBody,
    grid: OccupancyGrid | None = None,
    *,
    occupied: bool = True,
) -> list[Slot]:
    """The slots this robot can dock at, best first: a carrier prefers one a fixed arm
    can load; a manipulator prefers the one from which it reaches most of the objects
    there, and otherwise leaves the arm's slots to carriers. Then the place's front, its
    centre, and the shorter trip. With `occupied`, slots another robot holds are left
    out; with `grid`, slots whose approach it blocks."""
    if rig.base is None:
        return []
    here = rig.pose(world.client)
    carries = rig.tray is not None
    ranked: list[tuple[tuple[float, ...], Slot]] = []
    for slot in place.slots:
        if occupied and slot.occupant not in (None, rig.id):
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
    return [slot for _, slot in ranked]


def dock_slots(world: FloorPlan, rig: RobotRig, place: PlaceBody) -> list[DockSlot]:
    """The slots this robot can dock at, best first, each with the slots it leaves no
    room at (docked centres closer than this robot and the widest other base need)."""
    if rig.base is None:
        return []
    widest = max(
        (r.base.radius for r in world.robots.values() if r.base is not None and r.id != rig.id),
        default=rig.base.radius,
    )
    room = rig.base.radius + widest + 2 * MARGIN
    out: list[DockSlot] = []
    for slot in rank_slots(world, rig, place, occupied=False):
        mine = slot.dock_pose(rig.base.half_length)
        blocks = tuple(
            other.index
            for other in place.slots
            if other is not slot
            and math.hypot((d := other.dock_pose(rig.base.half_length)).x - mine.x, d.y - mine.y)
            < room
        )
        out.append(
            DockSlot(index=slot.index, blocks=blocks, pose=Pose(x=mine.x, y=mine.y, yaw=mine.yaw))
        )
    return out


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
        if (
            rig.place == place.name
            and rig.slot is not None
            and request.slot in (None, rig.slot.index)
        ):
            return MotionResult(
                outcome=MotionOutcome.done,
                message=f"already at {place.name}",
                pose=world.robot_pose(rig.id),
                data={"slot": rig.slot.index},
            )
        if request.slot is not None:
            chosen = _requested_slot(world, rig, place, request.slot)
            if isinstance(chosen, MotionResult):
                return chosen
            slot: Slot | None = chosen
        else:
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
    first_path = 0
    away = contact_away(world, rig)  # touching furniture or another robot: wedged
    touching = world.unexpected_contact(rig) if away is not None else None
    if rig.slot is not None and away is None:  # back out the way it docked
        legs.append(Leg(start, rig.slot.approach, here.yaw))
        start = rig.slot.approach
    elif away is not None or not grid.free(*start):
        free = escape_point(grid, here, away)
        if free is None:
            return MotionResult(
                outcome=MotionOutcome.unreachable,
                message=f"{rig.id} is boxed in"
                + (f" (touching {touching})" if touching else "")
                + ": no free floor within 0.8 m",
            )
        legs.append(Leg(start, free, here.yaw))
        start = free
        if free != (here.x, here.y):
            log.info(
                "%s unwedges from %s to (%.2f, %.2f)", rig.id, touching or "a tight spot", *free
            )
    first_path = len(legs)
    # around the routes others are driving where there is a way; else across them (the
    # traffic rule below waits where the paths cross)
    corridors = reserved_corridors(world, rig)
    path = grid.with_discs(corridors).plan(start, goal_xy) if corridors else None
    if path is None:
        path = grid.plan(start, goal_xy)
    if path is None and _static(world, rig).plan(start, goal_xy) is not None:
        # only robots are in the way: a traffic jam, not a wall; the caller may wait
        other = _nearest_robot(world, rig, goal_xy)
        return MotionResult(
            outcome=MotionOutcome.held_by_other,
            message=f"the way of {rig.id} to {request.target or goal_xy} is blocked by {other}",
            data={"robot": other} if other else {},
        )
    if path is None:
        return MotionResult(
            outcome=MotionOutcome.unreachable,
            message=f"no path for {rig.id} to {request.target or goal_xy}",
        )
    legs += [Leg(a, b) for a, b in itertools.pairwise(path) if math.dist(a, b) > 1e-6]
    open_floor = range(first_path, len(legs))
    if dock is not None:
        legs.append(Leg(goal_xy, goal_xy, final_yaw))  # turn on the spot to face the place
        legs.append(Leg(goal_xy, (dock.x, dock.y), final_yaw))
    else:
        legs.append(Leg(goal_xy, goal_xy, final_yaw))
    _release_slot(rig)
    if slot is not None:
        slot.occupant = rig.id
    controller = TrafficNavigate(
        world,
        rig,
        legs,
        goal=request.target,
        open_floor=open_floor,
        contact_ok=range(first_path) if away is not None else range(0),
    )

    def on_finish(result: MotionResult) -> MotionResult:
        if result.outcome == MotionOutcome.done and slot is not None:
            rig.slot, rig.place = slot, slot.place
            return result.model_copy(update={"data": {**result.data, "slot": slot.index}})
        if slot is not None and slot.occupant == rig.id:
            slot.occupant = None
        return result

    controller.on_finish = on_finish
    return controller


def _requested_slot(
    world: FloorPlan, rig: RobotRig, place: PlaceBody, index: int
) -> Slot | MotionResult:
    """The slot a caller reserved, if this robot can dock there now."""
    usable = {s.index: s for s in rank_slots(world, rig, place, occupied=False)}
    slot = usable.get(index)
    blocks = next((d.blocks for d in dock_slots(world, rig, place) if d.index == index), ())
    if slot is None:
        return MotionResult(
            outcome=MotionOutcome.unreachable,
            message=f"{rig.id} cannot dock at slot {index} of {place.name}"
            f" (usable: {', '.join(str(i) for i in sorted(usable)) or 'none'})",
        )
    for s in (slot, *(place.slots[i] for i in blocks)):
        if s.occupant not in (None, rig.id):
            return MotionResult(
                outcome=MotionOutcome.held_by_other,
                message=f"slot {s.index} of {place.name} is occupied by {s.occupant}",
                data={"robot": s.occupant},
            )
    return slot


class TrafficNavigate(NavigateController):
    """A navigation that keeps out of other robots' way (see the module doc)."""

    yield_limit_s = 4.0
    """How long a base waits for a moving robot in its way before it gives up as blocked."""
    lookahead_m = 0.8
    """How much of the leg ahead must be clear of other robots."""
    backoff_m, backoff_speed = 0.2, 0.3

    def __init__(
        self,
        world: FloorPlan,
        rig: RobotRig,
        legs: list[Leg],
        *,
        goal: str | None = None,
        open_floor: range = range(0),
        contact_ok: range = range(0),
    ) -> None:
        super().__init__(rig, legs, goal=goal, contact_ok=contact_ok)
        self._plan = world
        self._open_floor = open_floor
        self.waiting_for: str | None = None
        self._waited = 0.0
        self._backing: tuple[tuple[float, float], MotionResult] | None = None
        self._backed = 0.0
        arm = rig.arm
        # an arm left out (a reach that was blocked, a cancelled motion) sweeps past the
        # footprint the planner keeps clear: tuck it in before the base moves
        self._tuck = arm is not None and any(
            abs(a - b) > TUCK_TOLERANCE for a, b in zip(arm.commanded, arm.stow, strict=True)
        )
        self._tucked = 0.0
        # where the others stood when the path was planned around them (as discs)
        self._planned_around = {
            r.id: (f.x, f.y)
            for r in world.robots.values()
            if r.id != rig.id and r.base is not None
            for f in [r.pose(world.client)]
        }

    def _lane(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The stretch of floor this base drives next (the next `lookahead_m` of its leg),
        or None off the open floor or while it turns on the spot."""
        if self._leg not in self._open_floor:
            return None
        leg = self.legs[self._leg]
        length = math.dist(leg.start, leg.end)
        if length < 1e-6:
            return None
        cmd = self.base.commanded
        ux, uy = (leg.end[0] - leg.start[0]) / length, (leg.end[1] - leg.start[1]) / length
        reach = min(self.lookahead_m, length - self._s)
        return (cmd.x, cmd.y), (cmd.x + ux * reach, cmd.y + uy * reach)

    def _ahead(self, world: FloorPlan) -> tuple[str, str] | None:
        """The robot in the way of the rest of this leg on the open floor, and how:
        "moving" (on the move, not waiting for this one: wait for it), "still" (came
        there after the path was planned), or "head-on" (both in each other's way; the
        robot with the lower name waits, this one, the higher, gives way by replanning)."""
        lane = self._lane()
        if lane is None:
            return None
        assert self.rig.base is not None
        a, b = lane
        for other in world.robots.values():
            if other.id == self.rig.id or other.base is None:
                continue
            f = other.pose(world.client)
            gap = _segment_distance((f.x, f.y), a, b)
            motion = world.base_motion(other.id)
            moving = motion is not None and getattr(motion, "waiting_for", None) != self.rig.id
            room = self.rig.base.radius + other.base.radius
            if moving:  # a wide berth: it may step into the leg any moment
                if gap < room + 0.1:
                    return other.id, "head-on" if self._head_on(world, other.id, room) else "moving"
                continue
            # a still one is in the way if it came there after the path was planned
            was = self._planned_around.get(other.id)
            moved = was is None or math.hypot(f.x - was[0], f.y - was[1]) > 0.15
            if moved and gap < room:
                return other.id, "still"
        return None

    def _head_on(self, world: FloorPlan, other: str, room: float) -> bool:
        """Whether `other`, driving, has this robot in its lane as this one has it, and
        this one is the one to give way (the higher name: a fixed rule both apply)."""
        motion = world.base_motion(other)
        if not isinstance(motion, TrafficNavigate) or self.rig.id < other:
            return False
        lane = motion._lane()
        if lane is None:
            return False
        cmd = self.base.commanded
        return _segment_distance((cmd.x, cmd.y), *lane) < room + 0.1

    def step(self, world: Scene, dt: float) -> MotionResult | None:
        if self.cancelled or (self._backing is None and self._leg >= len(self.legs)):
            return super().step(world, dt)
        if self._tuck:
            self._tuck_arm(world, dt)
            return None
        if self._backing is not None:
            return self._back_off(world, dt)
        ahead = self._ahead(self._plan) if not self._turning else None
        if ahead is not None:
            other, how = ahead
            if how == "still" and self.waiting_for == other:
                how = "moving"  # it stopped while this one waited for it: give it time
            self.base.command(world.client, self.base.commanded)  # hold still, keep the leg
            self._v = 0.0
            self.waiting_for = other
            self._waited += dt
            if how == "moving" and self._waited < self.yield_limit_s:
                return None
            why = {
                "moving": f" for {self._waited:.1f} s",
                "still": " standing in the way",
                "head-on": " coming the other way (it has right of way)",
            }[how]
            return MotionResult(
                outcome=MotionOutcome.collision,
                message=f"blocked by {other}{why}",
                pose=world.robot_pose(self.rig.id),
                data={"robot": other, "contact": False},
            )
        self.waiting_for, self._waited = None, 0.0
        result = super().step(world, dt)
        if result is not None and result.outcome == MotionOutcome.collision:
            hit = result.message.removeprefix("stopped by contact with ")
            data = {"robot": hit} if hit in world.robots else {}
            cmd = self.base.commanded
            # away from what it hit; with no normal to go by, back along the leg it drove
            away = contact_away(world, self.rig) or self._behind()
            back = (cmd.x + self.backoff_m * away[0], cmd.y + self.backoff_m * away[1])
            self._backing = (back, result.model_copy(update={"data": {**result.data, **data}}))
            return None
        return result

    def _tuck_arm(self, world: Scene, dt: float) -> None:
        """Move the arm to its stowed joints at its joint speed (the base holds still)."""
        arm = self.rig.arm
        assert arm is not None
        self.base.command(world.client, self.base.commanded)
        self._tucked += dt
        step = arm.model.joint_speed * dt
        arm.commanded = [
            a + max(-step, min(step, b - a)) for a, b in zip(arm.commanded, arm.stow, strict=True)
        ]
        joints = p.getJointStates(
            arm.body, list(arm.model.arm_joints), physicsClientId=world.client
        )
        there = all(abs(j[0] - b) < TUCK_TOLERANCE for j, b in zip(joints, arm.stow, strict=True))
        if there or self._tucked > 3.0:  # (an arm that cannot get there: drive as it is)
            self._tuck = False

    def _behind(self) -> tuple[float, float]:
        """The unit direction back along the leg being driven (else the heading's back)."""
        leg = self.legs[min(self._leg, len(self.legs) - 1)]
        dx, dy = leg.start[0] - leg.end[0], leg.start[1] - leg.end[1]
        n = math.hypot(dx, dy)
        if n > 1e-6:
            return dx / n, dy / n
        yaw = self.base.commanded.yaw
        return -math.cos(yaw), -math.sin(yaw)

    def _back_off(self, world: Scene, dt: float) -> MotionResult | None:
        """Move a little away from what it hit, then report the contact that caused it."""
        assert self._backing is not None
        (bx, by), result = self._backing
        cmd = self.base.commanded
        d = math.hypot(bx - cmd.x, by - cmd.y)
        self._backed += dt
        if d < 1e-3 or self._backed > 2.0:
            return result.model_copy(update={"pose": world.robot_pose(self.rig.id)})
        step = min(d, self.backoff_speed * dt)
        self.base.command(
            world.client,
            Frame2(cmd.x + (bx - cmd.x) / d * step, cmd.y + (by - cmd.y) / d * step, cmd.yaw),
        )
        return None
