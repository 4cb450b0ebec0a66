"""The embedded planner's instruction parser: English "move things" instructions to a goal.

Understood forms (case, articles and punctuation do not matter):

    bring|put|move|take|carry|place|set|deliver|transfer|fetch|get|return X to|on|onto|into|in|at|inside Y
    ... X from Z to Y            (the source is checked against where X is)
    ... X and Y to Z, X, Y and W to Z
    ... X on Y and W on Z         (one verb, several destinations)
    hand X to <robot>             (onto the robot's tray)
    A, then B / A and then B / A; after that B     (ordered: B starts after A is done)
    pick up|grab|lift X [and put it on Y]           ("it"/"them" refer to the last objects)
    use|have|let <robot> ..., ... using <robots>    (robot hints are noted, not binding)

Names may be written with spaces or underscores ("dining table" = dining_table), by a
unique part ("counter" = kitchen_counter when only one place ends so), or by an
object's type ("the apple" when one object has type apple). An unknown name makes the
instruction infeasible with a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...contracts import PlanProblem
from ...symbolic.conditions import Atom
from ...symbolic.goal import Goal
from ...symbolic.vocabulary import CARRY
from .catalogue import Catalogue

__all__ = ["Goal", "ParsedInstruction", "parse_instruction"]

_MOVE_VERBS = {
    "bring",
    "put",
    "move",
    "take",
    "carry",
    "place",
    "set",
    "deliver",
    "transfer",
    "fetch",
    "get",
    "return",
    "drop",
    "relocate",
    "send",
}
_HOLD_VERBS = {"grab", "grasp", "lift", "hold", "pick"}
_DEST_PREPS = ("on top of", "over to", "onto", "into", "inside", "to", "on", "in", "at")
_FILLER = {
    "please",
    "first",
    "firstly",
    "also",
    "now",
    "and",
    "then",
    "can",
    "could",
    "would",
    "you",
    "kindly",
    "finally",
    "next",
    "i",
    "want",
    "need",
    "to",
}
_ARTICLES = {"the", "a", "an", "my", "some", "this", "that", "these", "those", "both", "all"}
_PRONOUNS = {"it", "them", "both", "they"}
_VAGUE = {"there", "here", "me", "over", "somewhere", "away"}
_THEN = re.compile(
    r"\s*(?:,?\s*\band then\b|,?\s*\bthen\b|;|\.\s|\bafter that\b|\bafterwards\b|\bfinally\b)\s*"
)


@dataclass(frozen=True)
class ParsedInstruction:
    goal: Goal | None
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Unknown(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9_]+", text.lower()) if t]


class _Resolver:
    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self.notes: list[str] = []

    def resolve(self, words: Sequence[str], kinds: Sequence[str], role: str) -> str:
        words = [w for w in words if w not in _ARTICLES]
        phrase = " ".join(words)
        if not words or set(words) <= _VAGUE:
            raise _Unknown(
                f"the instruction does not say which {role} ({phrase or 'nothing'!r}); name one: {self._names(kinds)}"
            )
        pool = {n: k for k in kinds for n in self.cat.names(k)}
        key = "_".join(words)
        for cand in (key, key.rstrip("s")):
            if cand in pool:
                return cand
            lowered = {n.lower(): n for n in pool}
            if cand in lowered:
                return lowered[cand]
        if "object" in kinds:
            typed = [
                o.name
                for o in self.cat.objects.values()
                if o.type.lower() in (key, key.rstrip("s"), phrase)
            ]
            coloured = [
                o.name
                for o in self.cat.objects.values()
                if len(words) >= 2
                and o.type.lower() == words[-1]
                and str(o.attrs.get("colour", o.attrs.get("color", ""))).lower()
                == " ".join(words[:-1])
            ]
            for found in (coloured, typed):
                if len(found) == 1:
                    return str(found[0])
                if len(found) > 1:
                    raise _Unknown(f"{phrase!r} is ambiguous: {', '.join(found)}; name one")
        partial = [n for n in pool if set(words) <= set(n.lower().split("_"))]
        if len(partial) == 1:
            self.notes.append(f"read {phrase!r} as {partial[0]}")
            return partial[0]
        if len(partial) > 1:
            raise _Unknown(
                f"{phrase!r} is ambiguous: did you mean {', '.join(repr(p) for p in partial)}?"
            )
        close = difflib.get_close_matches(key, list(pool), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise _Unknown(f"unknown {role} {phrase!r}{hint} ({self._names(kinds)})")

    def _names(self, kinds: Sequence[str]) -> str:
        return "; ".join(f"{k}s: {', '.join(self.cat.names(k)) or 'none'}" for k in kinds)


def _split_on_prep(words: list[str]) -> tuple[list[str], list[str] | None, list[str] | None]:
    """(object words, source words or None, destination words or None)."""
    text = " ".join(words)
    src = dest = None
    m = None
    for prep in _DEST_PREPS:
        for found in re.finditer(rf"(?:^| ){prep}(?: |$)", text):
            if m is None or found.start() < m.start():
                m = found
    head, tail = (text[: m.start()], text[m.end() :]) if m else (text, None)
    if " from " in f" {head} ":
        obj, _, source = f" {head} ".partition(" from ")
        head, src = obj, source.split()
    if tail is not None:
        if " from " in f" {tail} ":
            d, _, source = f" {tail} ".partition(" from ")
            tail, src = d, source.split()
        dest = tail.split()
    return head.split(), src, dest


_SUBJECT_VERBS = {"use", "have", "let", "make", "ask", "tell", "get"}
_MEANS = {"using", "with", "via", "by"}
_TRAILERS = [["at", "the", "same", "time"], ["at", "once"], ["right", "away"], ["please"], ["now"]]


def _strip_robots(words: list[str], cat: Catalogue, notes: list[str]) -> list[str]:
    """Drop robot hints ("use arm1 to", "have carrier1", "using the arm and the carrier")
    but keep robots named as destinations ("hand the cup to carrier1")."""
    out: list[str] = []
    named: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _MEANS:
            named.append(" ".join(words[i:]))
            break  # a means phrase runs to the end of the clause
        if w in _SUBJECT_VERBS and i + 1 < len(words) and words[i + 1] in cat.robots:
            named.append(words[i + 1])
            i += 2
            continue
        if w in cat.robots and not out:
            named.append(w)
            i += 1
            continue
        out.append(w)
        i += 1
    if named:
        notes.append(
            f"robot hints ({'; '.join(named)}) are not binding: the embedded planner picks robots itself"
        )
    for trailer in _TRAILERS:
        if out[-len(trailer) :] == trailer:
            out = out[: -len(trailer)]
    return out


def parse_instruction(text: str, cat: Catalogue) -> ParsedInstruction:
    """Parse an instruction into a Goal; problems (code `infeasible`) when it names
    things that do not exist or is not one of the understood forms."""
    res = _Resolver(cat)
    groups: list[tuple[Atom, ...]] = []
    last: list[str] = []
    clauses = [c for c in _THEN.split(" " + text.strip().rstrip(".!") + " ") if c and c.strip(" ,")]
    try:
        for clause in clauses:
            words = _strip_robots(_tokens(clause), cat, res.notes)
            clause_groups, last = _clause(words, res, last)
            groups += [g for g in clause_groups if g]
    except _Unknown as e:
        return ParsedInstruction(
            None, [PlanProblem(code="infeasible", message=e.message)], res.notes
        )
    if not groups:
        return ParsedInstruction(
            None,
            [
                PlanProblem(
                    code="infeasible",
                    message=f"the embedded planner does not understand {text!r}: say what to move where, e.g. 'bring the cup to the table'",
                )
            ],
            res.notes,
        )
    return ParsedInstruction(Goal(tuple(groups), text), [], res.notes)


def _clause(
    words: list[str], res: _Resolver, last: list[str]
) -> tuple[list[tuple[Atom, ...]], list[str]]:
    """The groups of one clause: actions joined by "and" share a group, unless a later
    action moves an object the group already placed (then it is a next step)."""
    segments: list[list[str]] = [[]]
    for w in words:
        if w == "and":
            segments.append([])
        else:
            segments[-1].append(w)
    groups: list[list[Atom]] = [[]]
    pending: list[str] = []
    held: list[str] = []
    verb_seen = False
    for seg in segments:
        while seg and seg[0] in _FILLER:
            seg = seg[1:]
        if not seg:
            continue
        hold = has_verb = False
        if seg[0] in _MOVE_VERBS or seg[0] in _HOLD_VERBS or seg[0] == "hand":
            verb_seen = has_verb = True
            hold = seg[0] in _HOLD_VERBS or (
                seg[0] in ("take", "get") and len(seg) > 1 and seg[1] == "up"
            )
            seg = seg[1:]
            while seg and seg[0] in ("up", "back", "over", "me", "us"):
                seg = seg[1:]
        elif not verb_seen:
            raise _Unknown(
                "the embedded planner understands 'bring/put/move X to Y' (and 'then'); it does not understand "
                + repr(" ".join(words))
            )
        obj_words, src_words, dest_words = _split_on_prep(seg)
        objects = pending + _objects(obj_words, res, last or held)
        pending = []
        if not objects and dest_words is not None and not has_verb:
            objects = list(last)  # "put the mug on the shelf and on the table": same object
        if src_words is not None:
            source = res.resolve(src_words, ("place", "robot"), "place")
            for o in objects:
                where = res.cat.objects[o].on or res.cat.objects[o].held_by
                if where != source:
                    res.notes.append(
                        f"{o} is on {where}, not on {source}; it is taken from where it is"
                    )
        if dest_words is None:
            (held if hold else pending).extend(objects)
            last = objects or last
            continue
        dest = res.resolve(dest_words, ("place", "robot"), "destination")
        robot = res.cat.robots.get(dest)
        placed = {Goal.subject(a): a for a in groups[-1]}
        for o in objects:
            # a robot with a tray carries it; any other robot is handed it (holds it)
            atom = (
                ("holding", dest, o)
                if robot is not None and CARRY not in robot.capabilities
                else ("on", o, dest)
            )
            if o in placed and placed[o] != atom:
                if not has_verb:
                    raise _Unknown(
                        f"{o} cannot be on {placed[o][-1]} and on {dest} at the same time"
                    )
                groups.append([])  # a second move of the same object: a later step
                placed = {}
            groups[-1].append(atom)
        held = [h for h in held if h not in objects]
        last = objects
    if pending:
        raise _Unknown(
            f"the instruction does not say where {', '.join(pending)} should go; name a place ({', '.join(res.cat.places)})"
        )
    groups[-1] += [("held", o) for o in held]
    return [tuple(g) for g in groups], last


def _objects(words: list[str], res: _Resolver, previous: list[str]) -> list[str]:
    words = [w for w in words if w not in _ARTICLES]
    if not words:
        return []
    if words[0] in _PRONOUNS:
        if not previous:
            raise _Unknown(
                f"{words[0]!r} refers to nothing named before; name the object ({', '.join(res.cat.objects)})"
            )
        if len(words) > 1:
            raise _Unknown(
                f"the instruction does not say where {' '.join(words[1:])!r} is; name a place ({', '.join(res.cat.places)})"
            )
        return list(previous)
    return [res.resolve(words, ("object",), "object")]
