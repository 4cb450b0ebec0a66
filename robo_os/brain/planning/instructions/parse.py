"""The parse: clauses, constraints and actions to a `Goal` (forms in the package
docstring)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ....contracts import PlanProblem
from ....symbolic.conditions import Atom
from ....symbolic.goal import Goal
from ....symbolic.vocabulary import CARRY, NAVIGATE
from ..catalogue import Catalogue
from .names import Resolver, Unknown
from .skills import FactVerb, fact_verbs, match_verb
from .words import (
    ADVERBS,
    ARTICLES,
    CLEAR,
    DEST_PREPS,
    EXCEPT,
    FILLER_NAMES,
    GO,
    HOLD,
    HOMING,
    KEEP,
    LEADING,
    NUMBERS,
    OPEN,
    STAY,
    STRUCTURE,
    SWAP,
    THEN,
    TIDY,
    TRAILERS,
    UNITS,
    VAGUE,
    VERBS,
    digits,
    join,
    split_list,
    starts,
    strip,
    tokens,
)

__all__ = ["ParsedInstruction", "parse_instruction"]

CORE_ENGLISH = {"the", "to", "and", "of", "on", "in", "it", "is", "my", "me", "please", "with",
                "from", "into", "onto", "this", "that", "them", "all", "then"}  # fmt: skip


@dataclass(frozen=True)
class ParsedInstruction:
    goal: Goal | None
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Parse:
    """What the clauses have found so far."""

    res: Resolver
    groups: list[tuple[Atom, ...]] = field(default_factory=list)
    soft: set[Atom] = field(default_factory=set)  # facts from quantifiers: dropped for keep
    use: list[str] = field(default_factory=list)
    prefer: list[str] = field(default_factory=list)  # "use R", "have R ...": a hint only
    avoid: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    deadline_s: float | None = None
    last: list[str] = field(default_factory=list)  # what "it"/"them" refer to
    mentions: list[list[str]] = field(default_factory=lambda: [[]])  # objects, by clause
    planned: dict[str, str] = field(default_factory=dict)  # where earlier facts put things
    unplaced: list[tuple[list[str], str]] = field(default_factory=list)  # still need a place
    last_thing: str | None = None  # what "close it" closes: the last place named
    soft_phrase: bool = False  # the last objects came from a quantifier or a plural
    verbs: list[FactVerb] = field(default_factory=list)  # of the fleet's declared facts

    def mention(self, objects: Sequence[str]) -> None:
        if objects:
            self.last = list(objects)
            self.mentions[-1] += [o for o in objects if o not in self.mentions[-1]]

    @property
    def recent(self) -> list[str]:
        """The objects of this clause and the one before ("..., then swap them")."""
        return list(dict.fromkeys(o for m in self.mentions[-2:] for o in m))

    def where_now(self, obj: str) -> str | None:
        return self.planned.get(obj) or self.res.location(obj)


def parse_instruction(text: str, cat: Catalogue) -> ParsedInstruction:
    """Parse an instruction into a Goal; problems (code `infeasible`) when it names
    things that do not exist or is not one of the understood forms (naming the words
    it did not understand)."""
    res = Resolver(cat)
    p = _Parse(res, verbs=fact_verbs(cat))
    clauses = [c for c in THEN.split(" " + text.strip().rstrip(".!?") + " ") if c.strip(" ,")]
    try:
        for clause in clauses:
            words = _constraints(tokens(clause), p)
            groups = _clause(words, p, text)
            p.groups += [g for g in groups if g]
            p.mentions.append([])
        placed = {Goal.subject(a) for g in p.groups for a in g}
        for objects, message in p.unplaced:
            if any(o not in placed for o in objects):
                raise Unknown(message)
        keep = list(dict.fromkeys(p.keep + res.excluded))
        # what a quantifier would move but the instruction keeps stays where it is
        groups = [
            tuple(a for a in g if not (a in p.soft and Goal.subject(a) in keep)) for g in p.groups
        ]
        groups = [g for g in groups if g]
        moved = {Goal.subject(a) for g in groups for a in g if a[0] in ("on", "held", "holding")}
        clash = [o for o in p.keep if o in moved]
        if clash:
            raise Unknown(f"the instruction both keeps and moves {', '.join(clash)}")
        both = sorted((set(p.use) | set(p.prefer)) & set(p.avoid))
        if both:
            raise Unknown(f"the instruction both uses and avoids {', '.join(both)}")
    except Unknown as e:
        return ParsedInstruction(
            None, [PlanProblem(code="infeasible", message=e.message)], res.notes
        )
    if not groups:
        return ParsedInstruction(None, [_not_understood(text, res)], res.notes)
    keep_set = frozenset(o for o in keep if o not in moved)
    hints = [r for r in p.prefer if r not in p.use and r not in p.avoid]
    if hints:
        res.notes.append(
            f"robot hint ({', '.join(hints)}) is not binding: the planner picks robots itself;"
            f" say 'only {hints[0]}' to allow no other robot"
        )
    goal = Goal(
        tuple(groups),
        text,
        use=frozenset(p.use),
        avoid=frozenset(p.avoid),
        keep=keep_set,
        deadline_s=p.deadline_s,
    )
    return ParsedInstruction(goal, [], res.notes)


def _not_understood(text: str, res: Resolver) -> PlanProblem:
    """The problem for an instruction the parser cannot read: which words, and a hint."""
    all_words = [w for w in tokens(text) if w != ","]
    unknown = [w for w in all_words if w not in STRUCTURE and w not in res.lexicon
               and w not in VERBS and not w.isdigit()]  # fmt: skip
    unknown = list(dict.fromkeys(unknown))
    has_verb = any(w in VERBS for w in all_words)
    # no English verb, and letters outside ASCII or most words unknown and none of
    # English's commonest little words: likely another language
    foreign = bool(re.search(r"[^\x00-\x7f]", text)) and any(c.isalpha() for c in text)
    mostly_unknown = len(all_words) >= 3 and 2 * len(unknown) >= len(all_words)
    if not has_verb and (foreign or (mostly_unknown and not set(all_words) & CORE_ENGLISH)):
        shown = ", ".join(repr(w) for w in unknown[:6]) or repr(text)
        return PlanProblem(
            code="infeasible",
            message=(
                "no model is configured; the embedded parser reads English only "
                f"(it does not understand {shown} in {text!r})"
            ),
        )
    if unknown:
        hint = ""
        close = difflib.get_close_matches(unknown[0], sorted(VERBS), n=1, cutoff=0.75)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        return PlanProblem(
            code="infeasible",
            message=(
                f"the embedded parser does not understand {', '.join(repr(w) for w in unknown)} "
                f"in {text!r}{hint}; it reads actions such as 'bring the cup to the table', "
                "'swap A and B', 'put everything except X on Y', 'open the cabinet'"
            ),
        )
    return PlanProblem(
        code="infeasible",
        message=(
            f"the embedded parser does not understand {text!r}: "
            + ("it names nothing to do" if has_verb else "it names no action")
            + "; say what to do, e.g. 'bring the cup to the table'"
        ),
    )


def _constraints(words: list[str], p: _Parse) -> list[str]:
    """Take robot constraints, keep phrases and a deadline out of a clause's words."""
    res = p.res
    out: list[str] = []
    i = 0
    n = len(words)

    def robots(j: int) -> tuple[list[str], int]:
        while j < n and words[j] in ("using", "use", "the", "help", "of", "letting",
                                     "involving", "any", "robot", "robots"):  # fmt: skip
            j += 1
        return res.robots_at(words, j)

    while i < n:
        w = words[i]
        at_start = not out or out[-1] in ("and", ",")
        # a deadline: "within 5 minutes", "in under 90 s", "in at most 2 min"
        j = i
        if w in ("within", "in", "under"):
            j = i + 1
            while j < n and words[j] in ("under", "less", "than", "at", "most", "no", "more"):
                j += 1
            num = words[j] if j < n else ""
            value = float(num) if num.isdigit() else NUMBERS.get(num)
            if value is not None and j + 1 < n and words[j + 1] in UNITS:
                if not value > 0:
                    raise Unknown(f"a deadline of {num} {words[j + 1]} cannot be met")
                p.deadline_s = float(value) * UNITS[words[j + 1]]
                i = j + 2
                continue
        # "without moving X", "don't move|touch X": keep X
        neg = w in ("without", "never") or w == "dont" or starts(words, i, ["do", "not"])
        if neg:
            j = i + (2 if w == "do" else 1)
            if j < n and words[j] in ("move", "moving", "touch", "touching", "disturb"):
                end = j + 1
                while end < n and words[end] not in ("and", ",") and words[end] not in VERBS:
                    end += 1
                phrase = words[j + 1 : end]
                phrase = _strip_stay(phrase)
                p.keep += [o for o in res.objects(phrase) if o not in p.keep]
                i = end
                continue
            found, k = robots(j)
            if found:
                p.avoid += found
                i = k
                continue
            if w == "without" or (j < n and words[j] in ("use", "using")):
                _unknown_robot(words, j, res)
        if w in ("not", "avoid", "avoiding", "no", "except", "but"):
            j = i + 1
            while j < n and words[j] in ("not", "with", "using", "by", "via"):
                j += 1
            found, k = robots(j)
            if found:
                p.avoid += found
                i = k
                continue
        if w in ("use", "using", "with", "via", "by", "only", "just", "solely"):
            j = i + 1
            while j < n and words[j] in ("only", "just", "solely", "with", "using", "use"):
                j += 1
            found, k = robots(j)
            if found:
                # "only R" binds (no other robot acts); "use R" / "with R" is a hint
                exclusive = bool({"only", "just", "solely"} & set(words[i:j])) or (
                    out[-1:] == ["only"]
                )
                if exclusive and out[-1:] == ["only"]:
                    out.pop()
                (p.use if exclusive else p.prefer).extend(found)
                i = k + (1 if k < n and words[k] == "to" else 0)
                continue
            if w in ("use", "using"):
                _unknown_robot(words, j, res)
        if w in ("have", "let", "ask", "tell", "make", "get", "send"):
            found, k = res.robots_at(words, i + 1)
            # "send mm1 to the sink" is an action about mm1, not a constraint
            if found and not (w == "send" and k < n and words[k] in ("to", "over", "back")):
                p.prefer += found
                i = k + (1 if k < n and words[k] == "to" else 0)
                continue
        if at_start or all(x in LEADING for x in out[-3:]):
            found, k = res.robots_at(words, i)
            if found and k < n and (words[k] in VERBS or words[k] in LEADING):
                p.prefer += found
                i = k
                continue
        out.append(w)
        i += 1
    for trailer in TRAILERS:
        while True:
            at = next((k for k in range(len(out)) if starts(out, k, trailer)), None)
            if at is None:
                break
            out = out[:at] + out[at + len(trailer) :]
    p.use = list(dict.fromkeys(p.use))
    p.prefer = list(dict.fromkeys(r for r in p.prefer if r not in p.use))
    p.avoid = list(dict.fromkeys(p.avoid))
    return out


def _unknown_robot(words: Sequence[str], j: int, res: Resolver) -> None:
    while j < len(words) and words[j] in ("the", "robot", "robots", "only"):
        j += 1
    if j < len(words) and words[j] not in STRUCTURE and words[j] not in VERBS:
        close = difflib.get_close_matches(words[j], list(res.cat.robots), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise Unknown(
            f"unknown robot {words[j]!r}{hint} (robots: {', '.join(res.cat.robots) or 'none'})"
        )


def _strip_stay(words: list[str]) -> list[str]:
    for stay in STAY:
        if words[-len(stay) :] == stay:
            return words[: -len(stay)]
    return words


def _actions(words: list[str], extra: Collection[str] = ()) -> list[list[str]]:
    """Split a clause at each verb that follows "and" or "," (or starts it); `extra`:
    the first words of the fleet's own verbs."""
    out: list[list[str]] = [[]]
    for i, w in enumerate(words):
        before = [x for x in words[:i] if x not in ("please", "also", "then", "now")]
        if (w in VERBS or w in extra) and out[-1] and before and before[-1] in ("and", ","):
            while out[-1] and out[-1][-1] in ("and", ",", "please", "also", "then", "now"):
                out[-1].pop()
            out.append([])
        out[-1].append(w)
    return [a for a in out if a]


def _clause(words: list[str], p: _Parse, text: str) -> list[tuple[Atom, ...]]:
    """The groups of one clause: actions joined by "and" share a group, unless a later
    action moves an object the group already placed (then it is a next step)."""
    groups: list[list[Atom]] = [[]]
    held: list[str] = []
    for action in _actions(words, {v.words[0] for v in p.verbs}):
        while action and action[0] in LEADING:
            action = action[1:]
        if not action:
            continue
        if action[0] not in VERBS and match_verb(action, p.verbs) is None:
            raise Unknown(_not_understood(text, p.res).message)
        for atom, new_step, soft in _action(action, p, held):
            placed = {(_family(a), Goal.subject(a)): a for a in groups[-1]}
            key = (_family(atom), Goal.subject(atom))
            if key in placed and placed[key] != atom:
                if not new_step:
                    raise Unknown(
                        f"{key[1]} cannot be on {placed[key][-1]} and on {atom[-1]} at the same time"
                    )
                groups.append([])
            if atom not in groups[-1]:
                groups[-1].append(atom)
            if soft:
                p.soft.add(atom)
            if atom[0] == "on":
                p.planned[atom[1]] = atom[2]
            elif atom[0] == "holding":
                p.planned[atom[2]] = atom[1]
            held[:] = [h for h in held if h != Goal.subject(atom)]
    groups[-1] += [("held", o) for o in held]
    return [tuple(g) for g in groups]


def _family(atom: Atom) -> str:
    """Facts about one subject that exclude each other (where it is; open or closed); a
    declared fact is its own family."""
    where = "place" if atom[0] in ("on", "held", "holding") else atom[0]
    return {"open": "open", "closed": "open", "at": "at"}.get(atom[0], where)


def _action(words: list[str], p: _Parse, held: list[str]) -> list[tuple[Atom, bool, bool]]:
    """The facts of one action: (fact, starts a new step if it moves something again,
    soft: came from a quantifier)."""
    verb, rest = words[0], words[1:]
    res = p.res
    own = match_verb(words, p.verbs) if verb not in VERBS else None
    if own is not None:
        return _declared(own[0], own[1], p)
    if verb in HOLD or (verb in ("take", "get") and rest[:1] == ["up"]):
        if rest[:1] == ["up"]:
            rest = rest[1:]
        obj, dest, _src = _split(rest, res)
        objects: list[str] | None = None
        if dest is None:
            objects = _phrases(split_list(rest), p, None, None)
        else:
            # "pick up the cup on the bar": where it is, not where it goes
            said = len(res.notes)
            try:
                there = _phrases(split_list(obj), p, None, dest)
            except Unknown:
                there = []
            del res.notes[said:]
            if there and all(res.location(o) == dest for o in there):
                objects = there
        if objects is not None:
            held.extend(o for o in objects if o not in held)
            p.mention(objects)
            return []
        verb = "put"  # "lift X onto Y": a move
    if verb in SWAP:
        return _swap(rest, p)
    if verb in OPEN:
        things = [
            p.last_thing if w in (["it"], ["them"]) and p.last_thing else _thing(w, res)
            for w in split_list(strip(rest, {"up"}))
        ]
        for t in things:
            if not _articulated(t, res):
                raise Unknown(
                    f"{t} cannot be opened or closed: memory records no open/closed state "
                    "for it (attr 'open')"
                )
        p.last_thing = things[-1] if things else p.last_thing
        return [((OPEN[verb], t), True, False) for t in things]
    if verb in KEEP:
        phrase = _strip_stay([w for w in rest if w != ","])
        p.keep += [o for o in res.objects(phrase) if o not in p.keep]
        return []
    if verb in GO or (verb in ("move", "send") and res.robots_at(strip(rest, {"the"}), 0)[0]):
        return _go(rest, p)
    if verb in CLEAR:
        return _clear(rest, p)
    if verb in TIDY:
        return _tidy(rest, p)
    return _move(verb, rest, p)


def _declared(verb: FactVerb, rest: list[str], p: _Parse) -> list[tuple[Atom, bool, bool]]:
    """The facts a skill's name (or a declared fact's verb) asks for, one per thing the
    phrase names ("wipe the table and the counter")."""
    out: list[tuple[Atom, bool, bool]] = []
    phrases = split_list(strip(rest, {"down", "up"}))
    if not phrases:
        raise Unknown(f"{join(list(verb.words))!r} ({verb.source}) needs a thing to act on")
    places_only = all(set(k) <= {"place"} for k in verb.kinds)
    for words in phrases:
        thing = _place(words, p.res) if places_only else _thing(words, p.res)
        for template, kinds in zip(verb.templates, verb.kinds, strict=True):
            if not p.res.cat.kinds_of(thing) & set(kinds):
                raise Unknown(
                    f"{join(list(verb.words))!r} ({verb.source}) acts on"
                    f" {'an' if kinds[0][0] in 'aeiou' else 'a'} {' or '.join(kinds)},"
                    f" and {thing} is not one"
                )
            out.append((tuple(thing if t is None else t for t in template), False, False))
        p.last_thing = thing
    return out


def _place(words: list[str], res: Resolver) -> str:
    words = strip(words, ARTICLES)
    for variant in (words, strip(words, FILLER_NAMES)):
        got = res.place_named(digits(variant))
        if got is not None:
            return got
    if _names_object(words, res):
        raise Unknown(f"{join(words)!r} is an object, not a place ({res.listing('place')})")
    raise Unknown(f"unknown place {join(words)!r} ({res.listing('place')})")


def _names_object(words: list[str], res: Resolver) -> bool:
    try:
        return bool(res.objects(words, single=True))
    except Unknown:
        return False


def _thing(words: list[str], res: Resolver) -> str:
    words = strip(words, ARTICLES)
    for variant in (words, strip(words, FILLER_NAMES)):
        got = res.place_named(digits(variant))
        if got is not None:
            return got
    objs = res.objects(words, single=True)
    if objs:
        return objs[0]
    raise Unknown(f"unknown place or object {join(words)!r} ({res.listing('place')})")


def _articulated(name: str, res: Resolver) -> bool:
    thing = res.cat.places.get(name) or res.cat.objects.get(name)
    return thing is not None and "open" in thing.attrs


def _split(words: list[str], res: Resolver) -> tuple[list[str], str | None, str | None]:
    """(object words, destination or None, source or None) of "X [from Z] prep Y".

    The destination is the first prepositional tail that names where things can go, so
    "everything on the counter to the shelf" reads "on the counter" as part of X."""
    src: str | None = None
    error: Unknown | None = None
    for i in range(len(words)):
        for prep in (*DEST_PREPS, ("where",)):
            if not starts(words, i, prep) or (i == 0 and prep[0] in ADVERBS):
                continue
            tail = words[i + len(prep) :] if prep != ("where",) else words[i:]
            head = words[:i]
            cut = _find_except(tail)
            if cut and not {w for pr in DEST_PREPS for w in pr} & set(tail[cut:]):
                # "bring the fruit to table 2 except the orange"
                head, tail = [*head, *tail[cut:]], tail[:cut]
            if "from" in tail:
                at = tail.index("from")
                try:
                    src = res.where(tail[at + 1 :], "place")
                except Unknown as e:
                    error = e
                    continue
                tail = tail[:at]
            try:
                dest = res.where(tail)
            except Unknown as e:
                error = e
                continue
            return head, dest, src
    if error is not None:
        if not any(w in ("from",) for w in words) or "to" in words or "onto" in words:
            raise error
    return words, None, src


def _find_except(words: Sequence[str]) -> int:
    """Where an exclusion ("except", "but", "other than", ...) starts; 0 if none."""
    for i in range(1, len(words)):
        if any(starts(words, i, seq) for seq in EXCEPT):
            return i
    return 0


def _phrases(phrases: list[list[str]], p: _Parse, dest: str | None, src: str | None) -> list[str]:
    """The objects of several object phrases (sets `p.soft_phrase`)."""
    out: list[str] = []
    p.soft_phrase = False
    for ph in phrases:
        ph = [w for w in ph if w not in ADVERBS or w == "up"]
        ph = [w for w in ph if w not in VAGUE]
        for o in p.res.objects(ph, previous=p.last, group=p.recent, source=src, dest=dest):
            if o not in out:
                out.append(o)
        p.soft_phrase = p.soft_phrase or p.res.quantified
    return out


def _fact(obj: str, dest: str, res: Resolver) -> Atom:
    robot = res.cat.robots.get(dest)
    if robot is not None and CARRY not in robot.capabilities:
        return ("holding", dest, obj)  # a robot without a tray is handed it
    if dest in res.cat.objects and not res.is_receptacle(dest):
        o = res.cat.objects[dest]
        raise Unknown(
            f"{dest} is not a receptacle ({o.type}): things go on places, robot trays "
            "and receptacles (attr receptacle: true, or a bowl, box, cup, ...)"
        )
    return ("on", obj, dest)


def _move(verb: str, rest: list[str], p: _Parse) -> list[tuple[Atom, bool, bool]]:
    res = p.res
    out: list[tuple[Atom, bool, bool]] = []
    to_me = bool(rest[:1]) and rest[0] in ("me", "us")
    if to_me:
        rest = rest[1:]
    elif verb in ("bring", "hand", "give", "pass", "serve", "get", "fetch"):
        robots, k = res.robots_at(rest, 0)
        if len(robots) == 1 and k < len(rest) and rest[k] not in ("to", "at", "on", "over"):
            rest = [*rest[k:], "to", robots[0]]  # "hand mm1 the cup"
    back = any(w in ("back", "away") for w in rest)
    parts = split_list(rest)
    pending: list[list[str]] = []
    carry: list[str] = []
    new_step = True
    for part in parts:
        part = carry + part
        carry = []
        obj, dest, src = _split(part, res)
        if dest is None and any(any(starts(obj, i, s) for i in range(len(obj))) for s in EXCEPT):
            carry = [*obj, "and"]  # "everything except A and B to Y": B is excluded too
            continue
        if obj:
            pending.append(obj)
        if dest is None:
            continue
        if not pending:
            objects = list(p.last)  # "on the shelf and on the table": the same objects
            if not objects:
                raise Unknown(f"the instruction does not say what should go to {dest}")
            step = False
        else:
            objects = _phrases(pending, p, dest, src)
            step = new_step
        soft = p.soft_phrase
        p.last_thing = dest
        for o in objects:
            out.append((_fact(o, dest, res), step, soft))
        pending = []
        p.mention(objects)
    if carry:
        pending.append(carry[:-1])
    if pending:
        objects = _phrases(pending, p, None, None)
        p.mention(objects)
        if verb in HOMING or back:
            return out + _homes(objects, p, verb, quantified=p.soft_phrase)
        # "fetch X and put it on Y": a later action may say where
        where = (
            ": the embedded planner does not know where you are; name a place"
            if to_me
            else "; name a place"
        )
        p.unplaced.append(
            (
                objects,
                f"the instruction does not say where {', '.join(objects)} should go{where} "
                f"({', '.join(res.cat.places)})",
            )
        )
    return out


def _homes(
    objects: list[str], p: _Parse, verb: str, *, quantified: bool
) -> list[tuple[Atom, bool, bool]]:
    """Facts putting objects back where memory says they live (attr `home`)."""
    res = p.res
    out: list[tuple[Atom, bool, bool]] = []
    homeless: list[str] = []
    for o in objects:
        # "..., then put it back": where it was before this instruction moved it
        home = res.location(o) if o in p.planned else res.home(o)
        if home is None:
            homeless.append(o)
        else:
            out.append((("on", o, home), True, quantified))
    if homeless and (not quantified or not out):
        said = "'return'" if verb == "return" else "'back'/'away'"
        raise Unknown(
            f"{said} needs a destination: memory records no home for {', '.join(homeless)} "
            f"(object attr 'home'); say where, e.g. 'return the {homeless[0]} to the "
            f"{next(iter(res.cat.places), 'table')}'"
        )
    if homeless:
        res.notes.append(f"no home in memory for {', '.join(homeless)}: left where they are")
    return out


def _swap(rest: list[str], p: _Parse) -> list[tuple[Atom, bool, bool]]:
    res = p.res
    words = list(rest)
    for lead in (["the", "places", "of"], ["the", "positions", "of"], ["places", "of"],
                 ["positions", "of"], ["the", "spots", "of"], ["places"]):  # fmt: skip
        if starts(words, 0, lead):
            words = words[len(lead) :]
    if "with" in words:
        at = words.index("with")
        sides = [words[:at], words[at + 1 :]]
    else:
        sides = split_list(words)
    if len(sides) == 1:
        both = res.objects(sides[0], previous=p.last, group=p.recent)
        if len(both) != 2:
            raise Unknown(f"a swap needs two objects; {join(words)!r} names {len(both)}")
        a, b = both
    elif len(sides) == 2:
        a_list = res.objects(sides[0], previous=p.last, group=p.recent, single=True)
        b_list = res.objects(sides[1], previous=p.last, group=p.recent, single=True)
        if not a_list or not b_list:
            raise Unknown(f"a swap needs two objects: {join(words)!r}")
        a, b = a_list[0], b_list[0]
    else:
        raise Unknown(f"a swap needs exactly two objects; {join(words)!r} names {len(sides)}")
    where_a, where_b = p.where_now(a), p.where_now(b)
    for o, w in ((a, where_a), (b, where_b)):
        robot = res.cat.robots.get(w or "")
        if w is None or (robot is not None and CARRY not in robot.capabilities):
            raise Unknown(f"{o} is not resting anywhere (it is held or lost): nothing to swap")
    assert where_a is not None and where_b is not None
    if where_a == where_b:
        raise Unknown(f"{a} and {b} are both on {where_a}: swapping them changes nothing")
    p.mention([a, b])
    return [(_fact(a, where_b, res), True, False), (_fact(b, where_a, res), True, False)]


def _go(rest: list[str], p: _Parse) -> list[tuple[Atom, bool, bool]]:
    res = p.res
    words = strip(rest, {"the"})
    robots, k = res.robots_at(words, 0)
    words = words[k:]
    while words and words[0] in ("over", "back", "to", "towards", "toward", "at", "into"):
        words = words[1:]
    place = _thing(words, res) if words else None
    if place is None or place not in res.cat.places:
        raise Unknown(
            f"the instruction does not say which place to go to ({join(rest)!r}); "
            f"{res.listing('place')}"
        )
    if not robots:
        robots = list(p.use) or list(p.prefer)
    if not robots:
        mobile = [r for r, s in res.cat.robots.items() if NAVIGATE in s.capabilities]
        if len(mobile) != 1:
            raise Unknown(
                f"the instruction does not say which robot should go to {place}; name one "
                f"({', '.join(mobile) or 'no robot can move'})"
            )
        robots = mobile
    return [(("at", r, place), True, False) for r in robots]


def _clear(rest: list[str], p: _Parse) -> list[tuple[Atom, bool, bool]]:
    res = p.res
    words = [w for w in rest if w not in ("off", "out")]
    if words[:1] in (["everything"], ["all"]):
        words = words[1:]
        while words and words[0] in ("off", "from", "on", "of", "out", "in"):
            words = words[1:]
    obj, dest, _src = _split(words, res)
    head = obj
    excluded: list[str] = []
    for seq in EXCEPT:
        at = next((i for i in range(len(head)) if starts(head, i, seq)), None)
        if at is not None and at > 0:
            excluded = head[at:]
            head = head[:at]
            break
    source = res.where(head, "place")
    phrase = ["everything", "on", *head, *excluded]
    if not [o for o in res.cat.objects.values() if (o.held_by or o.on) == source]:
        raise Unknown(f"there is nothing on {source} to clear")
    if dest is None:
        raise Unknown(
            f"the instruction does not say where the things on {source} should go; "
            f"say 'clear the {source} onto <place>' ({', '.join(res.cat.places)})"
        )
    objects = res.objects(phrase, dest=dest)
    p.mention(objects)
    return [(_fact(o, dest, res), True, True) for o in objects]


def _tidy(rest: list[str], p: _Parse) -> list[tuple[Atom, bool, bool]]:
    res = p.res
    words = strip(rest, {"up", "away"} | ARTICLES)
    scope: str | None = None
    if words:
        scope = res.where(words, "place")
    objects = [
        o.name for o in res.cat.objects.values() if (scope is None or (o.held_by or o.on) == scope)
    ]
    homed = [o for o in objects if res.home(o) is not None]
    if not homed:
        raise Unknown(
            "there is nothing to tidy: memory records no home (object attr 'home') for "
            + (f"the objects on {scope}" if scope else "any object")
            + "; say where things go"
        )
    p.mention(homed)
    return _homes(homed, p, "tidy", quantified=True)
