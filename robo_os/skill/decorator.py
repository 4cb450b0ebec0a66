"""The `@skill` decorator: it only attaches metadata; the function stays a plain function."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ..errors import SkillDefinitionError
from ..symbolic.conditions import Condition, parse_conditions
from ..symbolic.facts import Fact

__all__ = ["SKILL_ATTR", "SkillMeta", "get_skill_meta", "skill"]

SKILL_ATTR = "__robo_os_skill__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SkillMeta:
    """What `@skill` attaches to a function."""

    name: str
    description: str | None
    capabilities: frozenset[str]
    timeout_s: float
    preconditions: tuple[Condition, ...]
    effects: tuple[Condition, ...]
    concurrent: bool
    tags: frozenset[str]
    duration_s: float | None = None
    replaces: str | None = None
    """A distribution (e.g. `robo-os-skills`) whose skill of the same name this one
    replaces on purpose; without it a plug-in never shadows another's skill."""
    requires_approval: bool = False
    """The brain asks a person before it dispatches a subtask of this skill."""
    facts: tuple[Fact, ...] = ()
    """Predicates of its own its conditions use (robo_os.symbolic.facts)."""


@overload
def skill(fn: F, /) -> F: ...


@overload
def skill(
    *,
    name: str | None = None,
    description: str | None = None,
    capabilities: Iterable[str] = (),
    timeout_s: float = 60.0,
    preconditions: Iterable[str] = (),
    effects: Iterable[str] = (),
    concurrent: bool = False,
    tags: Iterable[str] = (),
    duration_s: float | None = None,
    replaces: str | None = None,
    requires_approval: bool = False,
    facts: Iterable[Fact] = (),
) -> Callable[[F], F]: ...


def skill(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    capabilities: Iterable[str] = (),
    timeout_s: float = 60.0,
    preconditions: Iterable[str] = (),
    effects: Iterable[str] = (),
    concurrent: bool = False,
    tags: Iterable[str] = (),
    duration_s: float | None = None,
    replaces: str | None = None,
    requires_approval: bool = False,
    facts: Iterable[Fact] = (),
) -> F | Callable[[F], F]:
    """Mark a typed function (sync or async) as a robo-os skill.

    name: defaults to the function's name. description: defaults to the docstring's
    first paragraph. capabilities: what the robot must offer (`navigate`,
    `manipulate`, `carry`, `camera`, ...). timeout_s: default deadline of one call.
    preconditions/effects: symbolic conditions (see `robo_os.symbolic.conditions`) the
    brain uses to check and search plans. concurrent: the agent may run this skill
    while another one runs (e.g. `look`). duration_s: the expected duration of one call,
    when known (the planner's timing; otherwise it estimates one). replaces: the
    distribution whose same-named skill this plug-in's replaces on purpose (otherwise two
    plug-ins offering one name are both refused, and a plug-in never shadows a standard
    skill). requires_approval: the brain parks each subtask of it in
    `awaiting_approval` until a person approves or rejects it (docs/operations.md).
    facts: `Fact`s of the skill's own that its conditions use (docs/writing-skills.md,
    "Your own facts").
    """

    def attach(f: F) -> F:
        if timeout_s <= 0:
            raise SkillDefinitionError(f"skill {name or f.__name__!r}: timeout_s must be > 0")
        if duration_s is not None and duration_s < 0:
            raise SkillDefinitionError(f"skill {name or f.__name__!r}: duration_s must be >= 0")
        meta = SkillMeta(
            name=name or f.__name__,
            description=description,
            capabilities=frozenset(capabilities),
            timeout_s=float(timeout_s),
            preconditions=parse_conditions(preconditions),
            effects=parse_conditions(effects),
            concurrent=concurrent,
            tags=frozenset(tags),
            duration_s=None if duration_s is None else float(duration_s),
            replaces=replaces,
            requires_approval=requires_approval,
            facts=tuple(facts),
        )
        setattr(f, SKILL_ATTR, meta)
        return f

    if fn is not None:
        return attach(fn)
    return attach


def get_skill_meta(obj: object) -> SkillMeta | None:
    return getattr(obj, SKILL_ATTR, None)
