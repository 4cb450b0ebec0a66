"""Reading a plan's JSON into subtask drafts, tolerantly, with every structural defect
named (the first stage of the checker), and the wording helpers of its messages."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...contracts import MAX_NAME_LENGTH, MAX_PLAN_SUBTASKS, PlanProblem
from .catalogue import Catalogue
from .parsing import is_placeholder

__all__ = [
    "FIELDS",
    "Draft",
    "Findings",
    "a_noun",
    "close_names",
    "listing",
    "read_drafts",
    "short",
]

FIELDS = ("id", "robot", "skill", "args", "depends_on")
OPTIONAL_FIELDS = ("pinned",)
"""Read when present: `pinned: true` keeps the subtask on its robot (allocation)."""


@dataclass
class Findings:
    """Problems and notes collected while checking one plan."""

    cat: Catalogue
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, code: str, message: str, subtask: str | None = None) -> None:
        self.problems.append(PlanProblem(code=code, message=message, subtask=subtask))


@dataclass
class Draft:
    index: int
    label: str
    id: str | None = None
    robot: str | None = None
    skill: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    pinned: bool = False
    broken: bool = False
    args_missing: bool = False


def close_names(name: str, known: Iterable[str]) -> str:
    known = list(known)
    lowered = {k.lower(): k for k in known}
    key = name.strip().lower().replace(" ", "_")
    if key in lowered and lowered[key] != name:
        return f"; did you mean {lowered[key]!r}?"
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def a_noun(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def listing(names: Iterable[str], limit: int = 12) -> str:
    names = list(names)
    head = ", ".join(names[:limit])
    return (
        head + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "none"
    )


def short(value: Any, n: int = 60) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def read_drafts(items: list[Any], f: Findings) -> list[Draft]:
    """One draft per item; a draft that cannot be simulated is marked `broken`."""
    drafts: list[Draft] = []
    if len(items) > MAX_PLAN_SUBTASKS:
        # checking is superlinear in the plan's size: refuse before reading any of it
        f.add(
            "plan_too_large",
            f"the plan has {len(items)} subtasks; at most {MAX_PLAN_SUBTASKS} are accepted",
        )
        return drafts
    for i, item in enumerate(items):
        d = Draft(index=i, label=f"#{i + 1}")
        drafts.append(d)
        if not isinstance(item, dict):
            f.add(
                "invalid_structure",
                f"subtask #{i + 1} must be an object with {', '.join(FIELDS)}, got {short(item)}",
            )
            d.broken = True
            continue
        sid = item.get("id")
        too_long = [
            k
            for k in ("id", "robot", "skill")
            if isinstance(item.get(k), str) and len(item[k]) > MAX_NAME_LENGTH
        ]
        if too_long:
            for k in too_long:
                f.add(
                    "name_too_long",
                    f"subtask #{i + 1}: '{k}' is {len(item[k])} characters long; at most"
                    f" {MAX_NAME_LENGTH} are accepted ({short(item[k], 40)})",
                )
            d.broken = True
            continue
        if isinstance(sid, str) and sid.strip() and not is_placeholder(sid):
            d.id = d.label = sid
        elif "id" not in item:
            f.add("missing_field", f"subtask #{i + 1} has no 'id'")
            d.broken = True
        else:
            f.add(
                "invalid_structure",
                f"subtask #{i + 1}: 'id' must be a non-empty string such as \"s{i + 1}\", got {short(sid)}",
            )
            d.broken = True
        for key in ("robot", "skill"):
            value = item.get(key)
            if isinstance(value, str) and value and not is_placeholder(value):
                setattr(d, key, value)
            elif key not in item:
                f.add("missing_field", f"subtask {d.label} has no '{key}'", d.id)
                d.broken = True
            else:
                f.add(
                    "invalid_structure",
                    f"subtask {d.label}: '{key}' must be a name, got {short(value)}",
                    d.id,
                )
                d.broken = True
        args = item.get("args", None)
        if args is None:
            model = f.cat.skills.get(d.skill or "")
            if "args" not in item and model is not None and model.required:
                f.add(
                    "missing_field",
                    f"subtask {d.label} has no 'args'; {d.skill} needs {', '.join(model.required)}",
                    d.id,
                )
                d.broken = d.args_missing = True
            elif "args" in item:
                f.add(
                    "invalid_structure",
                    f"subtask {d.label}: 'args' must be an object, got null",
                    d.id,
                )
                d.broken = True
        elif isinstance(args, dict):
            d.args = args
        else:
            f.add(
                "invalid_structure",
                f"subtask {d.label}: 'args' must be an object of argument values, got {short(args)}",
                d.id,
            )
            d.broken = True
        deps = item.get("depends_on", None)
        if deps is None:
            if "depends_on" not in item:
                f.notes.append(f"subtask {d.label} has no 'depends_on'; read as []")
        elif isinstance(deps, list) and all(
            isinstance(x, str) and len(x) <= MAX_NAME_LENGTH for x in deps
        ):
            d.depends_on = list(dict.fromkeys(deps))
        else:
            bad = (
                deps
                if not isinstance(deps, list)
                else next(x for x in deps if not isinstance(x, str) or len(x) > MAX_NAME_LENGTH)
            )
            f.add(
                "invalid_structure",
                f"subtask {d.label}: 'depends_on' must be a list of subtask ids (strings), found {short(bad)}",
                d.id,
            )
            d.broken = True
        d.pinned = item.get("pinned") is True
        extra = sorted(set(item) - set(FIELDS) - set(OPTIONAL_FIELDS))
        if extra:
            f.notes.append(f"subtask {d.label}: ignored unknown field(s) {', '.join(extra)}")
    seen: dict[str, int] = {}
    for d in drafts:
        if d.id is None:
            continue
        if d.id in seen:
            f.add(
                "duplicate_id",
                f"subtask id {d.id!r} is used by subtasks #{seen[d.id] + 1} and #{d.index + 1}; ids must be unique",
                d.id,
            )
            d.broken = True
        else:
            seen[d.id] = d.index
    return drafts
