"""Generated fleets and scenes for planning tests and the fleet benchmark (no physics).

    robots, objects, places, goals = generated_scene(seed=3, robots=5, places=8, objects=20)
    cat = Catalogue.build(robots, offered_skills(robots, specs), objects, places)

Places lie at random on a floor that grows with their number; robots are mobile
manipulators, carriers and fixed arms (the first is always a mobile manipulator, so
every goal is feasible), each at a random place (fixed arms at distinct ones); each
object rests on a random place and its goal is another one. Same seed, same scene.
"""

from __future__ import annotations

import math
import random

from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from .world import EMBODIMENT_CAPABILITIES

__all__ = ["generated_scene"]

_MIX = ("mobile_manipulator", "carrier", "fixed_arm", "mobile_manipulator")


def generated_scene(
    seed: int, *, robots: int, places: int, objects: int, spacing_m: float = 2.5
) -> tuple[list[RobotState], list[ObjectState], list[PlaceState], list[tuple[str, str]]]:
    """(robots, objects, places, goals as (object, place)) for one seed."""
    rng = random.Random(seed)
    side = spacing_m * math.ceil(math.sqrt(places))
    cells = [
        (i, j)
        for i in range(math.ceil(math.sqrt(places)))
        for j in range(math.ceil(math.sqrt(places)))
    ]
    rng.shuffle(cells)
    place_list = [
        PlaceState(
            name=f"p{k}",
            kind="table",
            pose=Pose(
                x=round(i * spacing_m - side / 2 + rng.uniform(0.3, spacing_m - 0.3), 2),
                y=round(j * spacing_m - side / 2 + rng.uniform(0.3, spacing_m - 0.3), 2),
            ),
            size=(0.8, 0.8, 0.75),
        )
        for k, (i, j) in enumerate(cells[:places])
    ]
    names = [p.name for p in place_list]
    arm_places = list(names)
    rng.shuffle(arm_places)
    robot_list = []
    for k in range(robots):
        embodiment = _MIX[k % len(_MIX)] if k else "mobile_manipulator"
        if embodiment == "fixed_arm" and not arm_places:
            embodiment = "mobile_manipulator"
        at = arm_places.pop() if embodiment == "fixed_arm" else rng.choice(names)
        robot_list.append(
            RobotState(
                id=f"{embodiment.split('_')[0][:3]}{k}",
                embodiment=embodiment,
                capabilities=EMBODIMENT_CAPABILITIES[embodiment],
                place=at,
                pose=next(p.pose for p in place_list if p.name == at),
                reach=(at,) if embodiment == "fixed_arm" else (),
            )
        )
    object_list = []
    goals = []
    for k in range(objects):
        start = rng.choice(names)
        goal = rng.choice([n for n in names if n != start])
        object_list.append(ObjectState(name=f"o{k}", type="box", on=start))
        goals.append((f"o{k}", goal))
    return robot_list, object_list, place_list, goals
