"""The goal language: what "done" means for a task, as facts over the world plus constraints.

A goal is ordered groups of facts (a later group is reached after the earlier ones:
"A, then B") and constraints on how it may be reached:

    on(O, L)        object O rests on/in place, receptacle object or robot tray L
    holding(R, O)   robot R holds object O
    held(O)         some robot holds object O
    at(R, P)        robot R is at place P
    open(X)         articulated thing X is open
    closed(X)       articulated thing X is closed

    use             only these robots may act (empty: any)
    avoid           these robots must not act
    keep            these objects must not be moved (an "everything except X" goal)
    deadline_s      the task should be done within this many seconds of its start

`Goal.final` is what must hold in memory when the task ends; success is decided
against it (`unmet`: each final fact that does not hold in a state, in words). The JSON
form (`to_json`/`from_json`) is what a task stores and what the API and models exchange;
facts are written `["on", "cup", "table"]`, `{"predicate": "on", "args": [...]}` or
`"on(cup, table)"`. `contradictions` names what a goal asks that cannot all be true.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import Atom, Facts
from .vocabulary import describe_location

__all__ = ["GOAL_KEYS", "GOAL_PREDICATES", "Goal", "GoalFormatError", "fact_text", "parse_fact"]

GOAL_PREDICATES: dict[str, int] = {
    "on": 2,
    "holding": 2,
    "held": 1,
    "at": 2,
    "open": 1,
    "closed": 1,
}
"""Predicate → arity of the facts a goal may name."""


GOAL_KEYS = ("kind", "instruction", "facts", "groups", "use", "avoid", "keep", "deadline_s")
"""The keys of a goal's JSON form (`Goal.parse(strict=True)` refuses any other)."""


class GoalFormatError(ValueError):
    """A goal's JSON form is malformed; the message names the part."""


def fact_text(atom: Atom) -> str:
    """`on(cup, table)`."""
    return f"{atom[0]}({', '.join(atom[1:])})"


_FACT_TEXT = re.compile(r"^\s*([a-z_]+)\s*\(\s*([^()]*?)\s*\)\s*$")


def parse_fact(
    value: Any, where: str = "fact", predicates: Mapping[str, int] | None = GOAL_PREDICATES
) -> Atom:
    """`["on", "cup", "table"]`, `{"predicate": "on", "args": [...]}` or `"on(cup, table)"`
    → the atom; GoalFormatError naming `where` otherwise. Names are not resolved here."""
    if isinstance(value, str):
        m = _FACT_TEXT.match(value)
        if m is None:
            raise GoalFormatError(f"{where}: {value!r} is not a fact like 'on(cup, table)'")
        parts = [m.group(1)] + [a.strip() for a in m.group(2).split(",") if a.strip()]
    elif isinstance(value, dict):
        pred, args = value.get("predicate"), value.get("args")
        if not isinstance(pred, str) or not isinstance(args, list):
            raise GoalFormatError(f"{where}: an object fact needs 'predicate' and 'args'")
        parts = [pred, *args]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise GoalFormatError(f"{where}: a fact is a list, an object or a string, not {value!r}")
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise GoalFormatError(f"{where}: {value!r} must name a predicate and its arguments")
    pred = parts[0]
    # predicates=None: any predicate (a plug-in's declared facts are checked later,
    # against the fleet's vocabulary); the built-ins' arities still hold
    known = GOAL_PREDICATES if predicates is None else predicates
    if pred not in known and predicates is not None:
        raise GoalFormatError(
            f"{where}: unknown predicate {pred!r}; a goal names {', '.join(known)}"
        )
    if pred in known and len(parts) - 1 != known[pred]:
        raise GoalFormatError(
            f"{where}: {pred} takes {known[pred]} argument(s), got {len(parts) - 1}"
        )
    return tuple(str(p) for p in parts)


def _names(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GoalFormatError(f"{where} must be a list of names")
    return frozenset(value)


@dataclass(frozen=True)
class Goal:
    """What a task asks for: groups of facts to make true, in order, and constraints."""

    groups: tuple[tuple[Atom, ...], ...]
    instruction: str = ""
    use: frozenset[str] = frozenset()
    avoid: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()
    deadline_s: float | None = None

    @staticmethod
    def subject(atom: Atom) -> str:
        """What a goal fact is about: the object of on/held/holding, the robot of at,
        the thing of open/closed."""
        return atom[2] if atom[0] == "holding" else atom[1]

    @property
    def objects(self) -> set[str]:
        """The objects the goal places or has held."""
        return {
            self.subject(a) for g in self.groups for a in g if a[0] in ("on", "held", "holding")
        }

    @property
    def final(self) -> list[Atom]:
        """Facts true at the end: a later group's fact about the same subject (and
        predicate family) overrides an earlier one."""
        last: dict[tuple[str, str], Atom] = {}
        for group in self.groups:
            for atom in group:
                last[(_family(atom[0]), self.subject(atom))] = atom
        return list(last.values())

    @property
    def held(self) -> list[str]:
        """Objects the goal wants to end up in a gripper."""
        return [self.subject(a) for a in self.final if a[0] in ("held", "holding")]

    @property
    def robots(self) -> frozenset[str]:
        """Robots the goal's facts or constraints name."""
        named = {a[1] for g in self.groups for a in g if a[0] in ("holding", "at")}
        return frozenset(named) | self.use | self.avoid

    def allows(self, robot: str) -> bool:
        """Whether the constraints let `robot` act."""
        return robot not in self.avoid and (not self.use or robot in self.use)

    def contradictions(self) -> list[str]:
        """What the goal asks that cannot all be true, each in words (empty: none): two
        facts of one group that exclude each other (cup on the table and on the shelf;
        open and closed), an object on itself or two objects on each other, a robot the
        constraints both use and avoid, a fact that needs a robot they rule out, an
        object to keep that a fact places."""
        out: list[str] = []
        for i, group in enumerate(self.groups):
            where = f" (group {i + 1})" if len(self.groups) > 1 else ""
            seen: dict[tuple[str, str], Atom] = {}
            for atom in group:
                key = (_family(atom[0]), self.subject(atom))
                other = seen.get(key)
                if other is not None and other != atom and not _compatible(other, atom):
                    out.append(f"{fact_text(other)} and {fact_text(atom)} cannot both hold{where}")
                seen.setdefault(key, atom)
                if atom[0] == "on" and atom[1] == atom[2]:
                    out.append(f"{fact_text(atom)}: an object cannot rest on itself")
            on = {(a[1], a[2]) for a in group if a[0] == "on"}
            for o, loc in sorted(on):
                if o < loc and (loc, o) in on:
                    out.append(f"on({o}, {loc}) and on({loc}, {o}) cannot both hold{where}")
        for robot in sorted(self.use & self.avoid):
            out.append(f"{robot} is both in use and in avoid")
        for group in self.groups:
            for atom in group:
                if atom[0] in ("holding", "at") and not self.allows(atom[1]):
                    why = "avoid" if atom[1] in self.avoid else "use"
                    out.append(
                        f"{fact_text(atom)} needs {atom[1]}, which the goal's {why} rules out"
                    )
                if atom[0] in ("on", "held", "holding") and self.subject(atom) in self.keep:
                    out.append(
                        f"{fact_text(atom)} moves {self.subject(atom)}, which the goal keeps"
                        " where it is"
                    )
        return list(dict.fromkeys(out))

    def unmet(self, facts: Facts) -> list[str]:
        """Each final fact that does not hold in `facts` (a symbolic state), in words:
        `on(cup, table) does not hold (cup is on counter)`. held(O): some robot holds O;
        closed(X): X is not open."""
        out: list[str] = []
        for atom in self.final:
            why = _unmet(atom, facts)
            if why is not None:
                out.append(f"{fact_text(atom)} does not hold ({why})")
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "goal",
            "instruction": self.instruction,
            "groups": [[list(a) for a in g] for g in self.groups],
        }
        if self.use:
            out["use"] = sorted(self.use)
        if self.avoid:
            out["avoid"] = sorted(self.avoid)
        if self.keep:
            out["keep"] = sorted(self.keep)
        if self.deadline_s is not None:
            out["deadline_s"] = self.deadline_s
        return out

    @classmethod
    def parse(
        cls,
        data: Any,
        *,
        strict: bool = False,
        predicates: Mapping[str, int] | None = GOAL_PREDICATES,
    ) -> Goal:
        """The goal from its JSON form; GoalFormatError naming the malformed part.

        Accepts `groups` (ordered lists of facts) or `facts` (one group), and the optional
        constraints `use`, `avoid`, `keep`, `deadline_s`; `kind` may be omitted.
        `strict`: a key not in GOAL_KEYS is an error too (what an app sends).
        `predicates`: the facts a goal may name with their arities (the fleet's
        vocabulary adds a plug-in's declared facts); None accepts any predicate."""
        if not isinstance(data, dict):
            raise GoalFormatError("a goal is an object with 'facts' or 'groups'")
        if strict:
            _known_keys(data)
        if data.get("kind", "goal") != "goal":
            raise GoalFormatError(f"kind must be 'goal', not {data.get('kind')!r}")
        if "groups" in data and "facts" in data:
            raise GoalFormatError("give 'facts' (one group) or 'groups' (ordered), not both")
        raw = data.get("groups")
        if raw is None:
            facts = data.get("facts")
            if facts is None:
                raise GoalFormatError("a goal needs 'facts' or 'groups'")
            raw = [facts]
            key = "facts"
        else:
            key = "groups"
        if not isinstance(raw, list) or not all(isinstance(g, list) for g in raw):
            raise GoalFormatError(
                f"{key} must be a list" + (" of lists" if key == "groups" else "")
            )
        groups = tuple(
            tuple(
                parse_fact(f, f"{key}[{i}][{j}]" if key == "groups" else f"facts[{j}]", predicates)
                for j, f in enumerate(g)
            )
            for i, g in enumerate(raw)
        )
        groups = tuple(g for g in groups if g)
        if not groups:
            raise GoalFormatError(f"{key} is empty: a goal names at least one fact")
        deadline = data.get("deadline_s")
        if deadline is not None and (
            isinstance(deadline, bool)
            or not isinstance(deadline, (int, float))
            or not deadline > 0
            or deadline != deadline
        ):
            raise GoalFormatError("deadline_s must be a positive number of seconds")
        instruction = data.get("instruction", "")
        if not isinstance(instruction, str):
            raise GoalFormatError("instruction must be a string")
        return cls(
            groups,
            instruction,
            use=_names(data.get("use"), "use"),
            avoid=_names(data.get("avoid"), "avoid"),
            keep=_names(data.get("keep"), "keep"),
            deadline_s=float(deadline) if deadline is not None else None,
        )

    @classmethod
    def from_json(cls, data: Any) -> Goal | None:
        """The goal a task stored, or None when `data` is not one (tolerant reader)."""
        if not isinstance(data, dict) or data.get("kind") != "goal":
            return None
        try:
            # any predicate: what was stored was checked against its fleet's vocabulary
            return cls.parse(data, predicates=None)
        except GoalFormatError:
            return None


def _known_keys(data: dict[Any, Any]) -> None:
    for key in data:
        if key not in GOAL_KEYS:
            close = difflib.get_close_matches(str(key), GOAL_KEYS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GoalFormatError(f"unknown key {key!r}{hint} (a goal has {', '.join(GOAL_KEYS)})")


def _compatible(a: Atom, b: Atom) -> bool:
    """Two facts of one family about one subject that may hold together: held(O) and
    holding(R, O) (R is the robot that holds it)."""
    return {a[0], b[0]} == {"held", "holding"}


def _holders(facts: Facts, obj: str) -> list[str]:
    return sorted(a[1] for a in facts.match(("holding", None, obj)))


def _unmet(atom: Atom, facts: Facts) -> str | None:
    """Why a goal fact does not hold, or None when it does."""
    pred = atom[0]
    if pred == "held":
        return (
            None
            if _holders(facts, atom[1])
            else f"{atom[1]} is {describe_location(facts, atom[1])}"
        )
    if pred == "closed":
        return f"{atom[1]} is open" if facts.holds(("open", atom[1])) else None
    if facts.holds(atom):
        return None
    if pred == "on":
        return f"{atom[1]} is {describe_location(facts, atom[1])}"
    if pred == "holding":
        return f"{atom[2]} is {describe_location(facts, atom[2])}"
    if pred == "at":
        places = sorted(a[2] for a in facts.match(("at", atom[1], None)))
        return (
            f"{atom[1]} is at {', '.join(places)}" if places else f"{atom[1]} is at no known place"
        )
    if pred == "open":
        return f"{atom[1]} is closed"
    if pred not in GOAL_PREDICATES:  # a plug-in's declared fact
        return "memory does not record it as true"
    return "it does not hold"


def _family(pred: str) -> str:
    """Facts that exclude each other about one subject share a family."""
    return {"held": "place", "holding": "place", "on": "place", "closed": "open"}.get(pred, pred)
