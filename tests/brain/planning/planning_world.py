"""Worlds for the planning tests: skill specs mirroring the standard skills, the demo
household scene, and the scene of the small-model corpus (`prompt.json`).

The standard skills (skills/robo_os_skills) are written in parallel; these specs mirror
their agreed signatures and symbolic conditions so the planner is tested on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState
from robo_os_skills import SKILLS

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.skill.refs import ENTITY_KEY
from robo_os.skill.schema import build_spec
from robo_os.skill.spec import SkillSpec
from robo_os.testing import world

CORPUS_DIR = Path("/work/shared/llm-outputs")


def _arg(kinds: list[str]) -> dict[str, Any]:
    return {"type": "string", ENTITY_KEY: kinds}


def _args(**props: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: _arg(v) for k, v in props.items()},
        "required": list(props),
    }


STANDARD_SKILLS: dict[str, SkillSpec] = {
    spec.name: spec for spec in (build_spec(fn, source="robo-os-skills") for fn in SKILLS)
}
"""The real standard library's specs (skills/robo_os_skills), so the planner is tested
against the symbolic model the robots actually run."""

def offered_skills(
    robots: Iterable[RobotState], specs: Mapping[str, SkillSpec] = STANDARD_SKILLS
) -> dict[str, dict[str, Any]]:
    """What each robot's agent would publish: every skill whose capabilities it has (as JSON)."""
    return world.offered_skills(robots, specs)


def household_records(
    **kw: Any,
) -> tuple[list[RobotState], list[ObjectState], list[PlaceState]]:
    """The demo scene (robo_os/data/household.yaml) as memory records (`without`,
    `offline`, `moves` as in `robo_os.testing.world.fleet_records`)."""
    return world.fleet_records(STANDARD_SKILLS, **kw)


def household_catalogue(**kw: Any) -> Catalogue:
    robots, objects, places = household_records(**kw)
    return Catalogue.build(robots, offered_skills(robots), objects, places)


# -- the corpus scene ---------------------------------------------------------------------

CORPUS_CONDITIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # skill: (capabilities, preconditions, effects) as the corpus prompt describes them
    "navigate_to": (("navigate",), (), ("not at(robot, *)", "at(robot, target)")),
    "pick": (
        ("manipulate",),
        ("hand_empty(robot)", "on(object, location)", "reaches(robot, location)"),
        ("not on(object, location)", "not hand_empty(robot)", "holding(robot, object)"),
    ),
    # place may target carrier1's tray when carrier1 is at the same place (reaches)
    "place": (
        ("manipulate",),
        ("holding(robot, object)", "reaches(robot, target)"),
        ("not holding(robot, object)", "hand_empty(robot)", "on(object, target)"),
    ),
    # receive: carrier1 acknowledges an object an arm has put on its tray
    "receive": (("carry",), ("on(object, robot)",), ()),
    # deliver: carrier1 unloads from its tray at the place where it is
    "deliver": (
        ("carry",),
        ("on(object, robot)", "at(robot, target)"),
        ("not on(object, robot)", "on(object, target)"),
    ),
    "look": (("camera",), (), ()),
}
CORPUS_CAPS = {
    "arm1": ("manipulate",),
    "carrier1": ("navigate", "carry"),
    "mm1": ("navigate", "manipulate", "camera"),
}


def corpus_prompt() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS_DIR / "prompt.json").read_text())
    return data


def corpus_records() -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in (CORPUS_DIR / "corpus_a.jsonl").read_text().splitlines()
        if line.strip()
    ]


def corpus_catalogue() -> Catalogue:
    """The corpus fleet and scene, with the prompt's own args schemas (static enums, no
    entity markers: the catalogue infers the kinds from the enum values)."""
    prompt = corpus_prompt()
    scene = prompt["scene"]
    specs = {
        name: SkillSpec(
            name=name,
            capabilities=CORPUS_CONDITIONS[name][0],
            args_schema=schema,
            preconditions=CORPUS_CONDITIONS[name][1],
            effects=CORPUS_CONDITIONS[name][2],
        )
        for name, schema in prompt["skill_args_schemas"].items()
    }
    robots = [
        RobotState(
            id=rid,
            embodiment=info["kind"],
            capabilities=CORPUS_CAPS[rid],
            skills=tuple(info["skills"]),
            place=scene["robot_start"][rid],
            reach=tuple(info.get("reach", ())),
        )
        for rid, info in scene["robots"].items()
    ]
    skills = {rid: {s: specs[s] for s in info["skills"]} for rid, info in scene["robots"].items()}
    objects = [ObjectState(name=o, type=o, on=p) for o, p in scene["object_start"].items()]
    places = [
        PlaceState(name=p, pose=Pose(x=float(i), y=0.0)) for i, p in enumerate(scene["places"])
    ]
    return Catalogue.build(robots, skills, objects, places)


class StaticWorld(world.StaticWorld):
    """The public plain-data planner world, with the household scene offering the real
    standard skills by default."""

    @classmethod
    def household(cls, **kw: Any) -> StaticWorld:
        robots, objects, places = household_records(**kw)
        return cls(robots, objects, places, offered_skills(robots))
