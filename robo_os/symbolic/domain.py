"""What the symbolic model reads from the rest of robo-os, as narrow protocols.

The brain's `Catalogue` (robo_os.brain.planning.catalogue) satisfies both structurally;
the symbolic package never imports the brain or the skill SDK, so these are the whole
contract between them:

    WorldView   robots, objects and places as memory holds them (state derivation)
    Domain      a WorldView plus the skills each robot offers (simulation, search)
    SkillView   one skill as the symbolic model needs it: parameters and conditions
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from robo_os_memory.models import ObjectState, PlaceState, RobotState

from .conditions import Condition

__all__ = ["Domain", "SkillView", "WorldView"]


class WorldView(Protocol):
    """The world as one planning round sees it."""

    @property
    def robots(self) -> Mapping[str, RobotState]: ...

    @property
    def objects(self) -> Mapping[str, ObjectState]: ...

    @property
    def places(self) -> Mapping[str, PlaceState]: ...


class SkillView(Protocol):
    """A skill's parameters and parsed symbolic conditions."""

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> tuple[str, ...]:
        """Argument names, in the schema's order."""
        ...

    @property
    def required(self) -> tuple[str, ...]: ...

    @property
    def preconditions(self) -> tuple[Condition, ...]: ...

    @property
    def effects(self) -> tuple[Condition, ...]: ...

    def choices(self, param: str) -> list[str] | None:
        """The static values an argument may take (its schema's `enum`), if any."""
        ...


class Domain(WorldView, Protocol):
    """A WorldView plus who can run what."""

    @property
    def available_robots(self) -> Sequence[str]:
        """Robots that may be given work now."""
        ...

    @property
    def offered(self) -> Mapping[str, Mapping[str, SkillView]]:
        """robot id -> skill name -> the skill as that robot publishes it."""
        ...

    def skill_for(self, robot_id: str, skill: str) -> SkillView | None: ...

    def can_run(self, robot_id: str, skill: str) -> bool: ...

    def entity_params(self, skill: str) -> dict[str, list[str]]:
        """{param: kinds of world name ("place", "object", "robot")} of the skill's arguments."""
        ...
