"""Argument types that name things in the world.

Annotate a skill parameter with one of these instead of plain `str` and the brain knows
what the value must name: the catalogue fills the schema's `enum` with the live names
the model may use, and the plan checker reports `unknown_object` / `unknown_place` /
`unknown_robot` instead of a bare schema error.

    async def pick(ctx: SkillContext, object: ObjectName) -> SkillResult: ...
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["ENTITY_KEY", "ObjectName", "PlaceName", "PlaceOrRobotName", "RobotName", "TargetName"]

ENTITY_KEY = "x-robo-os-entity"
"""JSON-schema extension key listing the entity kinds a string argument may name."""

ObjectName = Annotated[str, Field(json_schema_extra={ENTITY_KEY: ["object"]})]
PlaceName = Annotated[str, Field(json_schema_extra={ENTITY_KEY: ["place"]})]
RobotName = Annotated[str, Field(json_schema_extra={ENTITY_KEY: ["robot"]})]
PlaceOrRobotName = Annotated[str, Field(json_schema_extra={ENTITY_KEY: ["place", "robot"]})]
"""Somewhere an object can be put: a place, or a robot's tray."""
TargetName = Annotated[str, Field(json_schema_extra={ENTITY_KEY: ["place", "object", "robot"]})]
"""Anything that can be looked at or approached."""
