"""/v1/robots, /v1/skills and /v1/memory: the fleet and the world as the memory holds them;
/v1/world/diff: where memory and the robots' own observations disagree."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from robo_os_memory.models import EntityKind, ObjectState, PlaceState, RobotState

from ....cerebellum.reconcile import Disagreement, diff_all
from ....errors import NotFoundError, RobotUnavailableError, ServiceUnavailableError
from ....symbolic.state import symbolic_state
from ...planning.catalogue import Catalogue
from ..deps import BrainRuntime, get_runtime
from ..events import parse_cursor
from ..schemas import (
    ChangesPage,
    ErrorBody,
    FactList,
    FactView,
    FleetRobot,
    ObjectList,
    ObjectView,
    PlaceList,
    RobotList,
    SkillEntry,
    SkillList,
)

__all__ = ["router"]

Runtime = Annotated[BrainRuntime, Depends(get_runtime)]
router = APIRouter(
    prefix="/v1",
    responses={401: {"model": ErrorBody, "description": "Missing or wrong bearer token."}},
)
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "Not in memory."}}


def _fleet(rt: BrainRuntime, robot: RobotState) -> FleetRobot:
    state = rt.scheduler.estop.state
    own = state.robots.get(robot.id)
    return FleetRobot.model_validate(
        {**dict(robot), "estopped": state.engaged or own is not None, "estop": own}
    )


@router.get("/robots", response_model=RobotList, tags=["fleet"])
async def list_robots(rt: Runtime) -> RobotList:
    """Every registered robot: capabilities, skills, pose, place, status, what it does,
    whether the emergency stop keeps it still."""
    return RobotList(robots=[_fleet(rt, r) for r in await rt.memory.list_robots()])


@router.get("/robots/{robot_id}", response_model=FleetRobot, tags=["fleet"], responses=_404)
async def get_robot(robot_id: str, rt: Runtime) -> FleetRobot:
    robot = await rt.memory.get_robot(robot_id)
    if robot is None:
        raise NotFoundError(f"no robot {robot_id!r}")
    return _fleet(rt, robot)


@router.get(
    "/robots/{robot_id}/camera",
    tags=["fleet"],
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "What the robot's camera sees now."},
        404: {"model": ErrorBody, "description": "No such robot, or it has no camera."},
        503: {"model": ErrorBody, "description": "The robot's agent cannot be reached."},
    },
)
async def robot_camera(
    robot_id: str,
    rt: Runtime,
    target: Annotated[
        str | None,
        Query(max_length=200, description="A place or object to look at (default: ahead)."),
    ] = None,
) -> Response:
    """A PNG frame from the robot's camera, taken on request (the console's camera view)."""
    if await rt.memory.get_robot(robot_id) is None:
        raise NotFoundError(f"no robot {robot_id!r}")
    capture = getattr(rt.dispatcher, "camera", None)
    if capture is None:
        raise NotFoundError(f"this brain's dispatcher cannot reach cameras ({robot_id!r})")
    try:
        image = await capture(robot_id, target)
    except RobotUnavailableError as e:
        raise ServiceUnavailableError(str(e)) from e
    except (KeyError, ValueError) as e:  # an unknown look-at target
        raise NotFoundError(f"{robot_id!r} cannot look at {target!r}: {e}") from e
    if image is None:
        raise NotFoundError(f"robot {robot_id!r} has no camera")
    return Response(image, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/skills", response_model=SkillList, tags=["fleet"])
async def list_skills(rt: Runtime) -> SkillList:
    """The skill catalogue: each skill's spec (arguments schema, capabilities,
    preconditions, effects, timeout) and the robots that offer it."""
    by_robot = await rt.memory.robot_skills()
    specs: dict[str, dict[str, Any]] = {}
    robots: dict[str, list[str]] = {}
    for robot_id in sorted(by_robot):
        for name, spec in sorted(by_robot[robot_id].items()):
            specs.setdefault(name, {**spec, "name": name})
            robots.setdefault(name, []).append(robot_id)
    return SkillList(
        skills=[SkillEntry.model_validate({**specs[n], "robots": robots[n]}) for n in sorted(specs)]
    )


def _place_of(
    obj: ObjectState,
    robots: Mapping[str, RobotState],
    places: Mapping[str, PlaceState],
    objects: Mapping[str, ObjectState],
    depth: int = 0,
) -> str | None:
    """The place an object is at: where it rests, or where whatever holds or carries it is."""
    if depth > 8:
        return None
    holder = obj.held_by or (obj.on if obj.on in robots else None)
    if holder is not None:
        robot = robots.get(holder)
        return robot.place if robot is not None else None
    if obj.on is None:
        return None
    if obj.on in places:
        return obj.on
    inner = objects.get(obj.on)  # in or on a receptacle
    return _place_of(inner, robots, places, objects, depth + 1) if inner is not None else None


@router.get("/memory/objects", response_model=ObjectList, tags=["memory"])
async def list_objects(rt: Runtime) -> ObjectList:
    """Every object: where it is now (place, what it rests on, who holds it, pose)."""
    robots, objects, places = await rt.memory.snapshot()
    r = {x.id: x for x in robots}
    o = {x.name: x for x in objects}
    p = {x.name: x for x in places}
    return ObjectList(
        objects=[ObjectView(**obj.model_dump(), place=_place_of(obj, r, p, o)) for obj in objects]
    )


@router.get("/memory/objects/{name}", response_model=ObjectView, tags=["memory"], responses=_404)
async def get_object(name: str, rt: Runtime) -> ObjectView:
    """One object: its place, pose, what it rests on, who holds it, version and writer."""
    robots, objects, places = await rt.memory.snapshot()
    o = {x.name: x for x in objects}
    obj = o.get(name)
    if obj is None:
        raise NotFoundError(f"no object {name!r} in memory")
    return ObjectView(
        **obj.model_dump(),
        place=_place_of(obj, {x.id: x for x in robots}, {x.name: x for x in places}, o),
    )


@router.get("/memory/places", response_model=PlaceList, tags=["memory"])
async def list_places(rt: Runtime) -> PlaceList:
    return PlaceList(places=await rt.memory.list_places())


@router.get("/memory/facts", response_model=FactList, tags=["memory"])
async def list_facts(rt: Runtime) -> FactList:
    """The facts the fleet's skills declare, with where each holds now."""
    cat = await Catalogue.from_memory(rt.memory)
    atoms = symbolic_state(cat, cat.vocabulary).atoms
    by: dict[str, list[str]] = {}
    for models in cat.offered.values():
        for name, model in models.items():
            for f in model.spec.facts:
                if name not in by.setdefault(f.name, []):
                    by[f.name].append(name)
    return FactList(
        facts=[
            FactView(
                signature=f.signature,
                meaning=f.meaning,
                recorded=f.recorded,
                initial=f.initial,
                declared_by=sorted(by.get(name, [])),
                holds=sorted(list(a) for a in atoms if a[0] == name),
            )
            for name, f in sorted(cat.facts.items())
        ]
    )


@router.get(
    "/memory/changes",
    response_model=ChangesPage,
    tags=["memory"],
    responses={400: {"model": ErrorBody, "description": "The cursor is not a change id."}},
)
async def memory_changes(
    rt: Runtime,
    cursor: Annotated[
        str | None,
        Query(
            description="Read what changed after this cursor (the `cursor` of the"
            " previous page); empty: from the oldest kept; `latest`: from now on."
        ),
    ] = None,
    kind: Annotated[
        list[EntityKind] | None, Query(description="Only these kinds (repeatable).")
    ] = None,
    name: Annotated[
        list[str] | None, Query(description="Only these entities (repeatable).")
    ] = None,
    count: Annotated[int, Query(ge=1, le=5000)] = 500,
    wait_s: Annotated[
        float,
        Query(
            ge=0,
            le=60,
            description="Long poll: when nothing changed after the cursor yet, wait up to"
            " this long for the first change (a blocking read, not a loop).",
        ),
    ] = 0.0,
) -> ChangesPage:
    """The memory's change feed, oldest first, resumable with the returned cursor."""
    if cursor is not None and cursor.strip() == "latest":
        after = await rt.memory.latest_cursor()
    else:
        after = parse_cursor(cursor)
    changes, next_cursor = await rt.memory.changes_since(
        "0" if after == "0-0" else after, kinds=kind, names=name, count=count
    )
    if not changes and wait_s > 0:
        if await _first_change(rt, next_cursor, kind, name, wait_s):
            changes, next_cursor = await rt.memory.changes_since(
                next_cursor, kinds=kind, names=name, count=count
            )
    return ChangesPage(changes=changes, cursor=next_cursor)


async def _first_change(
    rt: BrainRuntime,
    cursor: str,
    kinds: list[EntityKind] | None,
    names: list[str] | None,
    wait_s: float,
) -> bool:
    """Block on the memory's change stream after `cursor` until a matching change or
    `wait_s`; True when one came."""
    sub = rt.memory.subscribe(kinds=kinds, names=names, cursor=cursor)
    try:
        async with asyncio.timeout(wait_s):
            async for _ in sub:
                return True
    except TimeoutError:
        return False
    finally:
        await sub.aclose()
    return False


class WorldDiff(BaseModel):
    """Where memory (what the skills believed) and the robots' observations differ."""

    disagreements: list[Disagreement]
    observers: list[str]
    """The robots whose observations were compared (empty: none can observe)."""
    at: float


@router.get("/world/diff", response_model=WorldDiff, tags=["memory"])
async def world_diff(request: Request, rt: Runtime) -> WorldDiff:
    """Every field where memory and what the robots observe disagree now (for the
    simulator: memory against ground truth). Nothing is written; reconciliation does
    that after failures. Empty with no observers when no robot can observe."""
    source = getattr(request.app.state, "world_observers", None)
    if source is None:
        return WorldDiff(disagreements=[], observers=[], at=time.time())
    found = await diff_all(rt.memory, source.observers, ask_all=source.ask_all)
    return WorldDiff(disagreements=found, observers=sorted(source.observers), at=time.time())
