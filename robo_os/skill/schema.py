"""From a typed function to a SkillSpec: argument schema from type hints and docstring.

    @skill(capabilities={"manipulate"})
    async def pick(ctx: SkillContext, object: ObjectName, force: float = 0.5) -> SkillResult:
        '''Grasp an object the robot can reach.

        Args:
            object: The object to grasp.
            force: Grip force in [0, 1].
        '''

`build_spec(pick)` gives a spec whose `args_schema` has `object` (required) and `force`
(default 0.5) with their descriptions; `ctx` is injected by type and not in the schema.
So is a parameter annotated with a part (`arm: Arm`, `tray: Tray | None`): the robot
running the call supplies it, and a required part adds its capability to the spec.
"""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model
from robo_os_memory import Memory

from ..contracts import ErrorCode, SkillCall
from ..errors import SkillDefinitionError
from ..symbolic.conditions import Condition
from .context import CancelToken, SkillAborted, SkillContext
from .decorator import SkillMeta, get_skill_meta
from .docstrings import parse_docstring
from .parts import PART_SLOTS, PartSlot
from .robot import Robot
from .spec import SkillSpec

__all__ = [
    "INJECTABLE",
    "PartParam",
    "SkillSignature",
    "build_spec",
    "parse_docstring",
    "signature_of",
]

INJECTABLE: dict[type, Callable[[SkillContext], Any]] = {
    SkillContext: lambda ctx: ctx,
    Robot: lambda ctx: ctx.robot,
    Memory: lambda ctx: ctx.memory,
    logging.Logger: lambda ctx: ctx.logger,
    logging.LoggerAdapter: lambda ctx: ctx.logger,
    CancelToken: lambda ctx: ctx.cancel,
    SkillCall: lambda ctx: ctx.call,
}
"""Parameter types the agent fills from the skill's context instead of the arguments."""

# Names a skill module may import only under TYPE_CHECKING; hints that use them still resolve.
_HINT_NAMES: dict[str, Any] = {
    "SkillContext": SkillContext,
    "Robot": Robot,
    "Memory": Memory,
    "CancelToken": CancelToken,
    "SkillCall": SkillCall,
    "Logger": logging.Logger,
    **{kind.__name__: kind for kind in PART_SLOTS},
}

RESERVED_PARAMS = frozenset({"robot"})
"""Argument names the symbolic language reserves (`robot` is the robot running the skill)."""


# -- signatures ------------------------------------------------------------------------
@dataclass(frozen=True)
class PartParam:
    """A parameter the running robot's part fills (`arm: Arm`); `optional` for one the
    skill can do without (`tray: Tray | None`), which gets None on a robot without it."""

    name: str
    kind: type[Any]
    slot: PartSlot
    optional: bool


@dataclass(frozen=True)
class SkillSignature:
    """How to call a skill function: which parameters come from the arguments (validated
    by `args_model`), which are injected from the context and which from the robot's parts
    (all by type)."""

    is_async: bool
    args: tuple[str, ...]
    """Parameter names taken from the call's arguments, in signature order."""
    injected: tuple[tuple[str, Callable[[SkillContext], Any]], ...]
    args_model: type[BaseModel]
    """Validates the arguments; fields are aliased to the parameter names."""
    descriptions: Mapping[str, str]
    description: str
    return_hint: Any
    parts: tuple[PartParam, ...] = ()

    @property
    def capabilities(self) -> frozenset[str]:
        """What the parts the skill cannot do without require of a robot."""
        return frozenset(p.slot.capability for p in self.parts if not p.optional)

    def inject(self, ctx: SkillContext) -> dict[str, Any]:
        """The injected keyword arguments of one call. A robot without a part the skill
        needs is the call's failure (`precondition_failed`, naming every missing part),
        not an AttributeError half-way through."""
        kwargs = {name: get(ctx) for name, get in self.injected}
        missing: list[str] = []
        for p in self.parts:
            part = getattr(ctx.robot, p.slot.attribute, None)
            if part is None and not p.optional and p.slot.attribute not in missing:
                missing.append(p.slot.attribute)
            kwargs[p.name] = part
        if missing:
            raise SkillAborted(
                ErrorCode.precondition_failed,
                f"{ctx.robot_id} has no {', '.join(missing)}, which {ctx.call.skill} needs",
            )
        return kwargs


def _injector(hint: Any) -> Callable[[SkillContext], Any] | None:
    """The context accessor for an injectable hint (`X` or `X | None`), else None."""
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if get_origin(hint) in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) != 1:
            return None
        hint = members[0]
    origin = get_origin(hint) or hint
    if not isinstance(origin, type):
        return None
    for kind, get in INJECTABLE.items():
        if origin is kind or (kind is not Robot and issubclass(origin, kind)):
            return get
    return None


def _is_part(hint: Any) -> bool:
    # hints may be unhashable (Annotated metadata): only classes are looked up
    return isinstance(hint, type) and hint in PART_SLOTS


def _names_a_part(hint: Any) -> bool:
    return any(_is_part(a) or _names_a_part(a) for a in get_args(hint))


def _part_param(skill: str, pname: str, hint: Any, default: Any) -> PartParam | None:
    """The part a parameter asks for (`Arm`, or `Arm | None`), else None; a part hint of
    another shape is a definition error (parts are matched by identity: a structural
    match would inject a part into an argument whose type merely has the same methods)."""
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if not any(_is_part(m) for m in members):
            return None
        if len(members) != 1:
            raise SkillDefinitionError(
                f"skill {skill!r}: parameter {pname!r} mixes a part with other types;"
                " annotate one part, e.g. `Arm`, or `Arm | None` for one it can do without"
            )
        hint, optional = members[0], True
    if not _is_part(hint):
        if _names_a_part(hint):
            raise SkillDefinitionError(
                f"skill {skill!r}: parameter {pname!r} ({hint!r}) wraps a part;"
                " each part is injected into a parameter of its own"
            )
        return None
    if default is not inspect.Parameter.empty and not (optional and default is None):
        raise SkillDefinitionError(
            f"skill {skill!r}: part parameter {pname!r} has a default; the robot supplies it"
            f" (use `{hint.__name__} | None = None` for a part the skill can do without)"
        )
    return PartParam(pname, hint, PART_SLOTS[hint], optional)


def _hints(fn: Callable[..., Any], name: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, localns=dict(_HINT_NAMES), include_extras=True)
    except Exception as e:  # NameError for an unresolvable string hint, TypeError for a bad one
        raise SkillDefinitionError(f"skill {name!r}: cannot resolve its type hints: {e}") from e


def signature_of(fn: Callable[..., Any], name: str | None = None) -> SkillSignature:
    """Inspect a skill function; raises SkillDefinitionError for what a skill cannot be."""
    name = name or str(getattr(fn, "__name__", repr(fn)))
    if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
        raise SkillDefinitionError(
            f"skill {name!r}: a generator cannot be a skill; return a result"
        )
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        raise SkillDefinitionError(f"skill {name!r}: no inspectable signature: {e}") from e
    hints = _hints(fn, name)
    description, param_docs = parse_docstring(inspect.getdoc(fn))
    args: list[str] = []
    injected: list[tuple[str, Callable[[SkillContext], Any]]] = []
    parts: list[PartParam] = []
    fields: dict[str, Any] = {}
    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SkillDefinitionError(
                f"skill {name!r}: *args/**kwargs ({pname}) have no schema; name each argument"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise SkillDefinitionError(
                f"skill {name!r}: parameter {pname!r} is positional-only;"
                " arguments are passed by name"
            )
        if pname not in hints:
            raise SkillDefinitionError(f"skill {name!r}: parameter {pname!r} has no type hint")
        hint = hints[pname]
        part = _part_param(name, pname, hint, param.default)
        if part is not None:
            parts.append(part)
            continue
        get = _injector(hint)
        if get is not None:
            injected.append((pname, get))
            continue
        if pname in RESERVED_PARAMS:
            raise SkillDefinitionError(
                f"skill {name!r}: an argument may not be called {pname!r}:"
                " conditions use it for the robot running the skill"
            )
        default = ... if param.default is param.empty else param.default
        doc = param_docs.get(pname)
        # fields get safe internal names (a parameter called `json` or `model_x` would
        # clash with BaseModel) and the parameter's name as alias
        fields[f"p_{len(args)}"] = (
            hint,
            Field(default, alias=pname, description=doc) if doc else Field(default, alias=pname),
        )
        args.append(pname)
    try:
        model = create_model(
            f"{name}_args",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
    except (PydanticUserError, TypeError, ValueError) as e:
        raise SkillDefinitionError(
            f"skill {name!r}: its argument types have no JSON schema: {e}"
        ) from e
    return SkillSignature(
        is_async=inspect.iscoroutinefunction(fn),
        args=tuple(args),
        injected=tuple(injected),
        args_model=model,
        descriptions=param_docs,
        description=description,
        return_hint=hints.get("return", inspect.Signature.empty),
        parts=tuple(parts),
    )


# -- JSON schema -----------------------------------------------------------------------
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains")


def _strip_titles(node: Any) -> Any:
    """Drop pydantic's generated `title`s (noise in the prompt); keeps a property *named*
    title, since only schema positions are walked."""
    if not isinstance(node, dict):
        return node
    out = {k: v for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _strip_titles(v) for k, v in out["properties"].items()}
    if isinstance(out.get("$defs"), dict):
        out["$defs"] = {k: _strip_titles(v) for k, v in out["$defs"].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_strip_titles(v) for v in out[key]]
    for key in _SCHEMA_ONE:
        if isinstance(out.get(key), dict):
            out[key] = _strip_titles(out[key])
    return out


def args_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    try:
        schema = model.model_json_schema(by_alias=True, mode="validation")
    except (PydanticUserError, TypeError, ValueError) as e:
        raise SkillDefinitionError(
            f"skill {name!r}: its argument types have no JSON schema: {e}"
        ) from e
    stripped: dict[str, Any] = _strip_titles(schema)
    stripped.setdefault("properties", {})
    return stripped


def check_condition_names(name: str, args: tuple[str, ...], meta: SkillMeta) -> None:
    """Every name a condition uses must be a parameter or `robot` (variables, literals and
    `*` are free)."""
    allowed = set(args) | {"robot"}
    for label, conds in (("precondition", meta.preconditions), ("effect", meta.effects)):
        for c in conds:
            unknown = sorted(c.names() - allowed)
            if unknown:
                raise SkillDefinitionError(
                    f"skill {name!r}: {label} {c.text!r} names {', '.join(unknown)},"
                    " which is not a parameter"
                    f" (parameters: {', '.join(args) or 'none'};"
                    " use `robot`, `?var`, `*` or a 'literal')"
                )


def _texts(conds: tuple[Condition, ...]) -> tuple[str, ...]:
    return tuple(c.text for c in conds)


def build_spec(fn: Callable[..., Any], *, source: str = "") -> SkillSpec:
    """The SkillSpec of a `@skill` function (name, description, capabilities, timeout,
    conditions from the decorator; the argument schema from its hints and docstring).
    Raises SkillDefinitionError when `fn` is not a valid skill."""
    return spec_and_signature(fn, source=source)[0]


def spec_and_signature(
    fn: Callable[..., Any], *, source: str = ""
) -> tuple[SkillSpec, SkillSignature]:
    meta = get_skill_meta(fn)
    if meta is None:
        raise SkillDefinitionError(
            f"{getattr(fn, '__qualname__', fn)!r} is not decorated with @skill"
        )
    sig = signature_of(fn, meta.name)
    check_condition_names(meta.name, sig.args, meta)
    description = (meta.description or sig.description.split("\n\n")[0]).strip()
    try:
        spec = SkillSpec(
            name=meta.name,
            description=description,
            # a part the skill needs is a capability the robot must offer
            capabilities=tuple(sorted(meta.capabilities | sig.capabilities)),
            args_schema=args_schema(sig.args_model, meta.name),
            timeout_s=meta.timeout_s,
            duration_s=meta.duration_s,
            preconditions=_texts(meta.preconditions),
            effects=_texts(meta.effects),
            facts=meta.facts,
            concurrent=meta.concurrent,
            requires_approval=meta.requires_approval,
            source=source,
        )
    except ValidationError as e:
        raise SkillDefinitionError(f"skill {meta.name!r}: invalid spec: {e}") from e
    return spec, sig
