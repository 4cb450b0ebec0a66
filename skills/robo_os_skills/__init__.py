"""The robo-os standard skill library, registered through the `robo_os.skills` entry
point (`robo_os_skills:SKILLS`) exactly as a third-party plug-in would be.

| skill | capabilities | what it does |
|---|---|---|
| navigate_to(target) | navigate | drive to a place and dock there |
| navigate_to_pose(x, y, yaw?) | navigate | drive to a pose on the floor |
| pick(object) | manipulate | grasp an object within reach |
| pick_from_floor(object) | navigate, manipulate | drive next to an object on the floor and pick it up |
| place(object, target) | manipulate | put the held object on a place or a robot's tray |
| put_in(object, container) | manipulate | put the held object into a receptacle (bowl) |
| deliver(object, target) | carry | unload the tray onto the place the robot is at |
| look(target?) | camera | camera image + visible objects (concurrent) |
| open(target) / close(target) | manipulate | operate an articulated place (cabinet) |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .articulation import close_place, open_place
from .carrying import deliver
from .floor import pick_from_floor
from .manipulation import pick, place, put_in
from .navigation import navigate_to, navigate_to_pose
from .perception import look

__all__ = [
    "SKILLS",
    "close_place",
    "deliver",
    "look",
    "navigate_to",
    "navigate_to_pose",
    "open_place",
    "pick",
    "pick_from_floor",
    "place",
    "put_in",
]

SKILLS: list[Callable[..., Any]] = [
    navigate_to,
    navigate_to_pose,
    pick,
    pick_from_floor,
    place,
    put_in,
    deliver,
    look,
    open_place,
    close_place,
]
"""Every standard skill, in the order the catalogue lists them."""
