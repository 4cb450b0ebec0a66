"""The planner's view of the fleet and the world: robots, skills, objects and places.

A `Catalogue` is built from live memory (`Catalogue.from_memory`) or from plain data
(`Catalogue.build`) and is immutable once built: one planning round uses one catalogue,
so the prompt, the schema the model fills and the checker all see the same names.

Skill argument schemas mark world names with `x-robo-os-entity` (robo_os.skill.refs);
the catalogue fills their `enum`s with the live names (through `$defs`, so 200 object
names appear once, not once per argument) and tells the checker which kind of name an
argument must be.

A catalogue is the symbolic model's world and domain: it satisfies
`robo_os.symbolic.domain.Domain` structurally (the symbolic package never imports it).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from jsonschema import Draft202012Validator
from robo_os_memory.models import ObjectState, PlaceState, RobotState, RobotStatusValue

from ...errors import SkillDefinitionError
from ...skill.refs import ENTITY_KEY
from ...skill.spec import SkillSpec
from ...symbolic.conditions import Condition, parse_conditions
from ...symbolic.facts import Fact, vocabulary_with
from ...symbolic.vocabulary import VOCABULARY, Vocabulary, place_of

__all__ = [
    "ENTITY_KINDS",
    "SUBMIT_PLAN",
    "UNAVAILABLE_STATUSES",
    "Catalogue",
    "CatalogueSource",
    "SkillModel",
]

log = logging.getLogger(__name__)

ENTITY_KINDS = ("place", "object", "robot")
SUBMIT_PLAN = "submit_plan"
UNAVAILABLE_STATUSES = frozenset({RobotStatusValue.offline, RobotStatusValue.stopped})
"""Robots in these states are known but never given new work."""


class CatalogueSource(Protocol):
    """What a catalogue is read from: `robo_os_memory.Memory` satisfies it (plain
    methods returning awaitables, so decorated async methods match too)."""

    def snapshot(
        self,
    ) -> Awaitable[tuple[Iterable[RobotState], Iterable[ObjectState], Iterable[PlaceState]]]: ...

    def robot_skills(self) -> Awaitable[dict[str, dict[str, dict[str, Any]]]]: ...


@dataclass(frozen=True)
class SkillModel:
    """A skill's spec with its symbolic conditions parsed (empty when it declares none
    or when they do not parse; `defect` then says why)."""

    spec: SkillSpec
    preconditions: tuple[Condition, ...] = ()
    effects: tuple[Condition, ...] = ()
    defect: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.spec.args_schema.get("properties", {}) or {})

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.spec.args_schema.get("required", []) or [])

    def choices(self, param: str) -> list[str] | None:
        """The static values an argument may take (its schema's `enum`), if any."""
        prop = (self.spec.args_schema.get("properties") or {}).get(param) or {}
        enum = prop.get("enum") if isinstance(prop, Mapping) else None
        return [str(v) for v in enum] if isinstance(enum, list) else None

    @property
    def has_model(self) -> bool:
        """True when the skill changes the symbolic world (the search can use it)."""
        return bool(self.effects)


def _model_of(spec: SkillSpec) -> SkillModel:
    try:
        return SkillModel(
            spec, parse_conditions(spec.preconditions), parse_conditions(spec.effects)
        )
    except SkillDefinitionError as e:
        log.warning("skill %s: symbolic conditions ignored: %s", spec.name, e)
        return SkillModel(spec, defect=str(e))


_MODELS: dict[tuple[str, int], tuple[object, SkillModel]] = {}
"""(skill name, id of the published spec) -> (that spec, its model). Memory answers the
same spec objects while they are unchanged (`Memory.robot_skills`), so a catalogue
rebuilt per request parses each spec once; the entry keeps the spec alive, so its id
cannot be reused by another."""
_MODELS_MAX = 20_000


def _model_for(name: str, raw: SkillSpec | Mapping[str, Any]) -> SkillModel:
    key = (name, id(raw))
    hit = _MODELS.get(key)
    if hit is not None and hit[0] is raw:
        return hit[1]
    model = _model_of(_as_spec(name, raw))
    if len(_MODELS) >= _MODELS_MAX:
        _MODELS.clear()
    _MODELS[key] = (raw, model)
    return model


def _as_spec(name: str, raw: SkillSpec | Mapping[str, Any]) -> SkillSpec:
    if isinstance(raw, SkillSpec):
        return raw
    data = dict(raw)
    data.setdefault("name", name)
    return SkillSpec.model_validate(data)


@dataclass(frozen=True)
class Catalogue:
    """Robots, the skills each offers, objects and places, as one planning round sees them."""

    robots: Mapping[str, RobotState]
    offered: Mapping[str, Mapping[str, SkillModel]]
    """robot id -> skill name -> the skill as that robot publishes it."""
    objects: Mapping[str, ObjectState]
    places: Mapping[str, PlaceState]
    warnings: tuple[str, ...] = ()
    vocabulary: Vocabulary = VOCABULARY
    """The built-in predicates plus the facts the fleet's skills declare."""
    _schema_cache: dict[str, dict[str, Any]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _validators: dict[str, Draft202012Validator] = field(
        default_factory=dict, repr=False, compare=False
    )

    # -- construction ------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        robots: Iterable[RobotState],
        skills: Mapping[str, Mapping[str, SkillSpec | Mapping[str, Any]]],
        objects: Iterable[ObjectState] = (),
        places: Iterable[PlaceState] = (),
    ) -> Catalogue:
        """From plain data. `skills` is {robot id: {skill name: SkillSpec or its JSON}},
        the shape `Memory.robot_skills()` returns. A robot whose skills were not
        published gets, for each name in `RobotState.skills`, another robot's spec of
        that name when one exists."""
        robot_map = {r.id: r for r in sorted(robots, key=lambda r: r.id)}
        warnings: list[str] = []
        by_name: dict[str, SkillModel] = {}
        offered: dict[str, dict[str, SkillModel]] = {}
        for rid in sorted(skills):
            models: dict[str, SkillModel] = {}
            for sname, raw in sorted(skills[rid].items()):
                try:
                    model = _model_for(sname, raw)
                except ValueError as e:
                    warnings.append(
                        f"robot {rid}: skill {sname!r} has an invalid spec and is ignored: {e}"
                    )
                    continue
                if model.defect:
                    warnings.append(f"skill {sname!r} of {rid}: {model.defect}")
                models[sname] = model
                by_name.setdefault(sname, model)
            offered[rid] = models
        for rid, robot in robot_map.items():
            mine = offered.setdefault(rid, {})
            for sname in robot.skills:
                if sname not in mine and sname in by_name:
                    mine[sname] = by_name[sname]
        for rid in list(offered):
            if rid not in robot_map:
                # skills published by an agent whose robot record is gone: not plannable
                del offered[rid]
        declared: list[Fact] = [
            f for rid in sorted(offered) for m in offered[rid].values() for f in m.spec.facts
        ]
        vocabulary, fact_problems = vocabulary_with(declared)
        warnings += fact_problems
        return cls(
            robots=robot_map,
            offered=offered,
            objects={o.name: o for o in sorted(objects, key=lambda o: o.name)},
            places={p.name: p for p in sorted(places, key=lambda p: p.name)},
            warnings=tuple(dict.fromkeys(warnings)),
            vocabulary=vocabulary,
        )

    @classmethod
    async def from_memory(cls, source: CatalogueSource) -> Catalogue:
        """The live catalogue: one memory snapshot plus the skills agents published."""
        robots, objects, places = await source.snapshot()
        skills = await source.robot_skills()
        return cls.build(robots, skills, objects, places)

    @cached_property
    def facts(self) -> dict[str, Fact]:
        """The facts the fleet's skills declare, by name (what `vocabulary` adds)."""
        out: dict[str, Fact] = {}
        for rid in sorted(self.offered):
            for model in self.offered[rid].values():
                for f in model.spec.facts:
                    if f.name in self.vocabulary and f.name not in VOCABULARY:
                        out.setdefault(f.name, f)
        return out

    # -- names -------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        if kind == "robot":
            return list(self.robots)
        if kind == "object":
            return list(self.objects)
        if kind == "place":
            return list(self.places)
        return []

    def kinds_of(self, name: str) -> set[str]:
        """Which kinds of thing a name denotes (normally one)."""
        kinds = set()
        if name in self.robots:
            kinds.add("robot")
        if name in self.objects:
            kinds.add("object")
        if name in self.places:
            kinds.add("place")
        return kinds

    @cached_property
    def all_names(self) -> list[str]:
        return [*self.places, *self.objects, *self.robots]

    # -- robots and skills -----------------------------------------------------------------
    def available(self, robot_id: str) -> bool:
        robot = self.robots.get(robot_id)
        return robot is not None and robot.status not in UNAVAILABLE_STATUSES

    @cached_property
    def available_robots(self) -> list[str]:
        return [r for r in self.robots if self.available(r)]

    @cached_property
    def skills(self) -> dict[str, SkillModel]:
        """Every skill some robot offers, by name (the first robot's spec, by robot id)."""
        out: dict[str, SkillModel] = {}
        for rid in self.robots:
            for name, model in self.offered.get(rid, {}).items():
                out.setdefault(name, model)
        return dict(sorted(out.items()))

    def skill_for(self, robot_id: str, skill: str) -> SkillModel | None:
        """The skill as this robot offers it, else as any robot offers it."""
        return self.offered.get(robot_id, {}).get(skill) or self.skills.get(skill)

    def offers(self, robot_id: str, skill: str) -> bool:
        return skill in self.offered.get(robot_id, {})

    def missing_capabilities(self, robot_id: str, skill: str) -> list[str]:
        model = self.skill_for(robot_id, skill)
        robot = self.robots.get(robot_id)
        if model is None or robot is None:
            return []
        return sorted(set(model.spec.capabilities) - set(robot.capabilities))

    def can_run(self, robot_id: str, skill: str) -> bool:
        return self.offers(robot_id, skill) and not self.missing_capabilities(robot_id, skill)

    def robots_for(self, skill: str, *, only_available: bool = True) -> list[str]:
        """Robots that offer the skill and have its capabilities."""
        pool = self.available_robots if only_available else list(self.robots)
        return [r for r in pool if self.can_run(r, skill)]

    # -- schemas -------------------------------------------------------------------------
    @staticmethod
    def entity_kinds(prop: Mapping[str, Any]) -> list[str]:
        """The kinds of world name a property of an args schema must be (empty: not a name)."""
        kinds = prop.get(ENTITY_KEY)
        if isinstance(kinds, str):
            return [kinds]
        if isinstance(kinds, list):
            return [k for k in kinds if k in ENTITY_KINDS]
        return []

    def entity_params(self, skill: str) -> dict[str, list[str]]:
        """{param: entity kinds} for the skill's arguments that name things in the world.

        A property without `x-robo-os-entity` whose static `enum` holds only known names
        of one or more kinds counts as naming those kinds (hand-written schemas)."""
        model = self.skills.get(skill)
        if model is None:
            return {}
        out: dict[str, list[str]] = {}
        for pname, prop in (model.spec.args_schema.get("properties") or {}).items():
            if not isinstance(prop, Mapping):
                continue
            kinds = self.entity_kinds(prop)
            if not kinds and isinstance(prop.get("enum"), list) and prop["enum"]:
                found: set[str] = set()
                for v in prop["enum"]:
                    k = self.kinds_of(v) if isinstance(v, str) else set()
                    if not k:
                        found = set()
                        break
                    found |= k
                kinds = [k for k in ENTITY_KINDS if k in found]
            if kinds:
                out[pname] = kinds
        return out

    def args_schema(self, skill: str, *, defs_ref: str | None = None) -> dict[str, Any]:
        """The skill's args schema as the model and the checker see it: world-name
        arguments restricted to live names, extra arguments forbidden unless the skill
        says otherwise. With `defs_ref` (e.g. `#/$defs/`), name lists are references to
        `entity_defs()` instead of inline enums."""
        key = f"{skill}|{defs_ref}"
        if key in self._schema_cache:
            return self._schema_cache[key]
        model = self.skills.get(skill)
        if model is None:
            raise KeyError(skill)
        schema = copy.deepcopy(model.spec.args_schema)
        schema.pop("title", None)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        schema.setdefault("additionalProperties", False)
        entity = self.entity_params(skill)
        for pname, prop in schema["properties"].items():
            if not isinstance(prop, dict):
                continue
            prop.pop("title", None)
            kinds = entity.get(pname)
            if not kinds:
                continue
            prop.pop(ENTITY_KEY, None)
            prop.pop("enum", None)
            if defs_ref is not None:
                refs = [{"$ref": f"{defs_ref}{k}"} for k in kinds]
                prop.pop("type", None)
                prop.update(refs[0] if len(refs) == 1 else {"anyOf": refs})
            else:
                prop["enum"] = [n for k in kinds for n in self.names(k)]
        self._schema_cache[key] = schema
        return schema

    def args_validator(self, skill: str) -> Draft202012Validator:
        """A (cached) JSON-schema validator of the skill's live args schema."""
        got = self._validators.get(skill)
        if got is None:
            got = self._validators[skill] = Draft202012Validator(self.args_schema(skill))
        return got

    def entity_defs(self) -> dict[str, Any]:
        """`$defs` of the live names, one entry per kind."""
        return {k: {"type": "string", "enum": self.names(k)} for k in ENTITY_KINDS if self.names(k)}

    def plan_schema(self) -> dict[str, Any]:
        """JSON schema of a plan for this fleet: each subtask is one of the skills, with
        the robots that can run it and that skill's arguments."""
        variants = []
        for name in self.skills:
            robots = self.robots_for(name)
            if not robots:
                continue
            variants.append(
                {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "robot": {"type": "string", "enum": robots},
                        "skill": {"type": "string", "const": name},
                        "args": self.args_schema(name, defs_ref="#/$defs/"),
                        "depends_on": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["id", "robot", "skill", "args", "depends_on"],
                    "additionalProperties": False,
                }
            )
        item: dict[str, Any]
        if not variants:
            # no robot can run anything: only {"subtasks": [], "error": ...} fits
            item = {"type": "object", "not": {}}
        else:
            item = variants[0] if len(variants) == 1 else {"anyOf": variants}
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "subtasks": {"type": "array", "items": item},
                "error": {
                    "type": "string",
                    "description": "Only when the instruction cannot be done: why.",
                },
            },
            "required": ["subtasks"],
            "additionalProperties": False,
        }
        defs = self.entity_defs()
        if defs:
            schema["$defs"] = defs
        return schema

    def submit_plan_tool(self) -> dict[str, Any]:
        """The forced `submit_plan` tool (OpenAI tools format) for this fleet."""
        return {
            "type": "function",
            "function": {
                "name": SUBMIT_PLAN,
                "description": "Submit the multi-robot plan for the instruction (or an error if it cannot be done).",
                "parameters": self.plan_schema(),
            },
        }

    # -- geometry ------------------------------------------------------------------------
    def place_of(self, robot_id: str) -> str | None:
        """Where a robot is (robo_os.symbolic.vocabulary.place_of: the rule `at` reads)."""
        return place_of(self, robot_id)
