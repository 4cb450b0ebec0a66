"""A conformance checker for skills (like Gymnasium's env_checker): everything the brain,
the LLM and the agent rely on, checked up front with a message an author can act on.

    problems = check_skill(skill)              # [] when it conforms
    robo-os skills check                       # every installed skill, exit 1 on problems
"""

from __future__ import annotations

import inspect
import json
import math
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..contracts import SkillResult
from ..errors import SkillDefinitionError
from ..symbolic.conditions import Condition, parse_conditions
from ..symbolic.facts import Fact, vocabulary_with
from ..symbolic.vocabulary import PREDICATES, Vocabulary
from .invoke import as_skill
from .parts import PART_SLOTS
from .refs import ENTITY_KEY
from .registry import SkillRegistry
from .schema import RESERVED_PARAMS

__all__ = ["MAX_TIMEOUT_S", "PREDICATES", "CheckProblem", "check_registry", "check_skill"]

MAX_TIMEOUT_S = 3600.0
"""A skill that may run longer than an hour should be split or report progress and be
re-issued; the brain holds a robot for the whole timeout."""

ENTITY_KINDS = frozenset({"object", "place", "robot"})

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")  # what OpenAI-compatible tool names allow
_CAPABILITY = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class CheckProblem:
    skill: str
    code: str
    """name, description, capabilities, timeout, schema, conditions, facts, signature,
    duplicate, plugin"""
    message: str

    def __str__(self) -> str:
        return f"{self.skill}: [{self.code}] {self.message}"


def check_skill(skill: object, *, registry: SkillRegistry | None = None) -> list[CheckProblem]:
    """Every way `skill` (a Skill, a @skill function or a runner) fails the conventions;
    `registry` also checks that its name does not collide with another skill there."""
    try:
        s = as_skill(skill)
    except SkillDefinitionError as e:
        name = getattr(skill, "__name__", None) or repr(skill)
        return [CheckProblem(name, "definition", str(e))]
    found: list[CheckProblem] = []

    def problem(code: str, message: str) -> None:
        found.append(CheckProblem(s.name, code, message))

    spec = s.spec
    if not _NAME.match(spec.name):
        problem(
            "name",
            f"{spec.name!r} is not a valid tool name (letters, digits, _ and -,"
            " at most 64, not starting with a digit)",
        )
    if not spec.description.strip():
        problem(
            "description",
            "no description: add a docstring or description=...; the planner chooses skills by it",
        )
    if not spec.capabilities:
        problem(
            "capabilities",
            "declares no capabilities; name what a robot must offer"
            " (navigate, manipulate, camera, ...)",
        )
    for cap in spec.capabilities:
        if not _CAPABILITY.match(cap):
            problem("capabilities", f"capability {cap!r} is not a lower-case identifier")
    if not (math.isfinite(spec.timeout_s) and 0 < spec.timeout_s <= MAX_TIMEOUT_S):
        problem("timeout", f"timeout_s={spec.timeout_s} is outside (0, {MAX_TIMEOUT_S:.0f}]")
    params = _check_schema(spec.args_schema, problem)
    # a skill declares every fact of its own its conditions use: its spec is then whole
    # wherever it is published (the brain learns the fleet's facts from the specs)
    vocabulary, fact_problems = vocabulary_with(spec.facts)
    for message in fact_problems:
        problem("facts", message)
    _check_conditions(spec.preconditions, spec.effects, params, problem, vocabulary, _where(s.fn))
    if s.signature is not None:
        _check_return(s.signature.return_hint, problem)
        _check_part_names(s.signature.args, problem)
    if registry is not None and spec.name in registry:
        other = registry.get(spec.name)
        if other is not s and not (other.fn is not None and other.fn is s.fn):
            problem("duplicate", f"name taken by the skill from {other.spec.source or 'code'}")
    return found


def check_registry(registry: SkillRegistry) -> list[CheckProblem]:
    """The plug-in problems of the registry, then each registered skill's problems."""
    found = [CheckProblem(p.skill or p.source, "plugin", str(p)) for p in registry.problems]
    seen: dict[str, tuple[str, Fact]] = {}
    for s in registry:
        for f in s.spec.facts:
            have = seen.setdefault(f.name, (s.name, f))
            if have[1] != f:
                found.append(
                    CheckProblem(
                        s.name,
                        "facts",
                        f"fact {f.signature!r} differs from {have[1].signature!r} declared by"
                        f" skill {have[0]!r}: declare one fact once (share the Fact object)",
                    )
                )
    for s in registry:
        found += check_skill(s, registry=registry)
    return found


def _check_schema(schema: dict[str, Any], problem: Any) -> set[str]:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        problem("schema", f"args_schema is not a valid JSON schema: {e.message}")
        return set()
    if schema.get("type") != "object":
        problem("schema", f"args_schema must have type 'object', not {schema.get('type')!r}")
    props = schema.get("properties")
    if not isinstance(props, dict):
        problem("schema", "args_schema has no 'properties' object")
        return set()
    for name in schema.get("required", []):
        if name not in props:
            problem("schema", f"required argument {name!r} is not in properties")
    for name, prop in props.items():
        if not _PARAM.match(name):
            problem("schema", f"argument name {name!r} is not an identifier")
        if name in RESERVED_PARAMS:
            problem(
                "schema",
                f"argument {name!r} is reserved: conditions use it for the robot running the skill",
            )
        if isinstance(prop, dict):
            kinds = prop.get(ENTITY_KEY)
            if kinds is not None and not (
                isinstance(kinds, list) and kinds and set(kinds) <= ENTITY_KINDS
            ):
                problem(
                    "schema",
                    f"argument {name!r}: {ENTITY_KEY} must list some of"
                    f" {sorted(ENTITY_KINDS)}, not {kinds!r}",
                )
    for where, value in _defaults(schema, "args"):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as e:
            problem("schema", f"default of {where} is not JSON ({e})")
    return set(props)


def _defaults(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "default":
                yield where, v
            else:
                yield from _defaults(
                    v, f"{where}.{k}" if k not in ("properties", "$defs") else where
                )
    elif isinstance(node, list):
        for v in node:
            yield from _defaults(v, where)


def _where(fn: object) -> str:
    """` (at file:line)` of a skill's function, or nothing."""
    code = getattr(inspect.unwrap(fn), "__code__", None) if callable(fn) else None
    return f" (at {code.co_filename}:{code.co_firstlineno})" if code is not None else ""


def _check_conditions(
    pre: tuple[str, ...],
    eff: tuple[str, ...],
    params: set[str],
    problem: Any,
    vocabulary: Vocabulary,
    where: str = "",
) -> None:
    try:
        pres, effs = parse_conditions(pre), parse_conditions(eff)
    except SkillDefinitionError as e:
        problem("conditions", str(e))
        return
    allowed = params | {"robot"}
    bound: set[str] = set()
    for c in pres:
        _check_atom(c, "precondition", allowed, problem, vocabulary, where)
        if not c.negated:
            bound |= c.variables()
    for c in effs:
        _check_atom(c, "effect", allowed, problem, vocabulary, where)
        if vocabulary.is_derived(c.predicate):
            problem(
                "conditions",
                f"effect {c.text!r}: {c.predicate} is derived from other facts and cannot be set",
            )
        if not c.negated:
            if "*" in c.terms:
                problem("conditions", f"effect {c.text!r}: an added fact cannot contain '*'")
            unbound = sorted(c.variables() - bound)
            if unbound:
                problem(
                    "conditions",
                    f"effect {c.text!r}: {', '.join(unbound)} is not bound"
                    " by a positive precondition",
                )


def _check_atom(
    c: Condition, label: str, allowed: set[str], problem: Any, vocabulary: Vocabulary, where: str
) -> None:
    unknown = sorted(c.names() - allowed)
    if unknown:
        problem(
            "conditions", f"{label} {c.text!r} names {', '.join(unknown)}, which is not an argument"
        )
    arity = vocabulary.arities.get(c.predicate)
    if arity is None:
        problem(
            "conditions",
            f"{label} {c.text!r}: unknown predicate {c.predicate!r}"
            f" (known: {', '.join(vocabulary.arities)}; declare your own with"
            f" @skill(facts=[Fact('{c.predicate}(place)')])){where}",
        )
    elif arity != len(c.terms):
        problem(
            "conditions",
            f"{label} {c.text!r}: {c.predicate} takes {arity} terms, not {len(c.terms)}",
        )


_RESULT_TYPES = (SkillResult, dict, type(None))
_PART_NAMES = {slot.attribute: kind for kind, slot in PART_SLOTS.items()}


def _check_part_names(args: tuple[str, ...], problem: Any) -> None:
    # `arm: str` (or a driver's own arm class) is almost always a part declared wrong:
    # it would be an argument the model has to fill, and the skill would get no arm
    for name in args:
        kind = _PART_NAMES.get(name)
        if kind is not None:
            problem(
                "signature",
                f"argument {name!r} is named like a part but is not annotated as one;"
                f" annotate it `{kind.__name__}` to have the robot's {name} injected"
                " (or rename it)",
            )


def _check_return(hint: Any, problem: Any) -> None:
    if hint is inspect.Signature.empty:
        return
    members = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    for m in members:
        t = get_origin(m) or m
        if not (t is None or (isinstance(t, type) and issubclass(t, _RESULT_TYPES))):
            problem(
                "signature",
                f"returns {hint!r}; a skill returns SkillResult, a dict of JSON data, or None",
            )
            return
