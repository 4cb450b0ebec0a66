"""The predicates of the symbolic model: one table that every part reads.

    at(R, P)        robot R is at place P
    on(O, L)        object O rests on/in place, receptacle or robot (tray) L
    holding(R, O)   robot R holds object O
    hand_empty(R)   robot R's gripper is free
    open(X)         articulated thing X is open (closed = not open)
    loose(O)        object O lies on the floor (on nothing, held by nobody, pose known)
    reaches(R, T)   derived: R is at place T, or R and robot T are at the same place

Each `Predicate` says what its arguments name (kinds, below), what it means, and how
it is known: a *stored* predicate is read off the world as memory holds it (`read`),
a *derived* one is defined by rules over stored predicates (`rules`) and never stored.
From this table the skill checker takes arities, `symbolic_state` the atoms, the
simulation its derived atoms, their support and its failure messages, the search its
variable domains and how it compiles a derived precondition, and the planning prompt
its list of terms.

Adding a predicate is one `Predicate(...)` here (or `VOCABULARY.extend(...)` for a
vocabulary of your own, passed to `symbolic_state`): nothing else changes.

Kinds of argument: `place`, `object`, `robot`, `carrier` (a robot with the `carry`
capability: it has a tray), `receptacle` (an object others rest in; the search binds
it only through a skill's argument, never enumerates it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..errors import DeveloperError
from .conditions import Atom, Condition, Facts, Pattern, ground, parse_condition, solutions
from .domain import WorldView

__all__ = [
    "CARRY",
    "DERIVED",
    "HELD",
    "KINDS",
    "MANIPULATE",
    "NAVIGATE",
    "PREDICATES",
    "VOCABULARY",
    "Explain",
    "Predicate",
    "Read",
    "Rule",
    "Vocabulary",
    "describe_location",
    "fits",
    "in_kind",
    "place_of",
    "rule",
]

MANIPULATE = "manipulate"
NAVIGATE = "navigate"
CARRY = "carry"
HELD = "held"
"""Goal atom held(O): some robot holds O. Instructions ask for it; no skill states it."""

KINDS = ("place", "object", "robot", "carrier", "receptacle")

Read = Callable[[WorldView], Iterable[Atom]]
"""How a stored predicate's atoms are read off the world."""

Explain = Callable[[Sequence[str], Facts, WorldView], str]
"""Why an atom does not hold, in words: (its arguments, "" where unbound; the state; the world)."""


# -- the world, as the predicates read it ----------------------------------------------------
def place_of(world: WorldView, robot_id: str) -> str | None:
    """Where a robot is: the place memory records it docked (or mounted) at, nothing else.
    A robot stopped near a place is not at it: the skills reach only from a docked
    robot's slot, so guessing from its pose would plan away the drive it needs."""
    robot = world.robots.get(robot_id)
    if robot is None or not robot.place:
        return None
    return str(robot.place)


def in_kind(kind: str, name: str, world: WorldView) -> bool:
    """Whether a name is a thing of that kind in the world."""
    if kind == "place":
        return name in world.places
    if kind in ("object", "receptacle"):
        return name in world.objects
    if kind == "robot":
        return name in world.robots
    if kind == "carrier":
        robot = world.robots.get(name)
        return robot is not None and CARRY in robot.capabilities
    return False


def fits(kinds: Iterable[str], name: str, world: WorldView) -> bool:
    return any(in_kind(k, name, world) for k in kinds)


def _holders(world: WorldView) -> dict[str, str]:
    """object -> the robot holding it (the object's `held_by` wins over a robot's `holding`)."""
    holders = {o.name: o.held_by for o in world.objects.values() if o.held_by}
    for robot in world.robots.values():
        if robot.holding and robot.holding not in holders:
            holders[robot.holding] = robot.id
    return holders


def _read_at(world: WorldView) -> Iterator[Atom]:
    # the one rule for where a robot counts as being: its place, plus every place in
    # its `reach` (a fixed arm's workspace)
    for robot in world.robots.values():
        place = place_of(world, robot.id)
        if place:
            yield ("at", robot.id, place)
        for p in robot.reach:
            yield ("at", robot.id, p)


def _read_on(world: WorldView) -> Iterator[Atom]:
    for obj in world.objects.values():
        if not obj.held_by and obj.on:
            yield ("on", obj.name, obj.on)


def _read_loose(world: WorldView) -> Iterator[Atom]:
    # dropped where no place is: memory has its pose (reconciliation wrote it), not a
    # place; an object marked unknown is lost, not loose
    for obj in world.objects.values():
        if not obj.held_by and not obj.on and obj.pose is not None and obj.unknown_since is None:
            yield ("loose", obj.name)


def _read_holding(world: WorldView) -> Iterator[Atom]:
    for obj, robot in _holders(world).items():
        yield ("holding", robot, obj)


def _read_hand_empty(world: WorldView) -> Iterator[Atom]:
    busy = set(_holders(world).values())
    for robot in world.robots.values():
        if MANIPULATE in robot.capabilities and robot.id not in busy:
            yield ("hand_empty", robot.id)


def _read_open(world: WorldView) -> Iterator[Atom]:
    for obj in world.objects.values():
        if obj.attrs.get("open") is True:
            yield ("open", obj.name)
    for place in world.places.values():
        if place.attrs.get("open") is True:
            yield ("open", place.name)


# -- words for failures ------------------------------------------------------------------
def describe_location(state: Facts, obj: str) -> str:
    """Where an object is in a state, in words ("on kitchen_counter", "held by arm1")."""
    for a in state.match(("on", obj, None)):
        return f"on {a[2]}"
    for _, robot, _o in state.match(("holding", None, obj)):
        return f"held by {robot}"
    if state.holds(("loose", obj)):
        return "on the floor"
    return "nowhere known"


def _where_robot(state: Facts, r: str) -> str:
    places = sorted(a[2] for a in state.match(("at", r, None)))
    return ", ".join(places) if places else "no known place"


def _holds_what(state: Facts, r: str) -> str:
    held = sorted(a[2] for a in state.match(("holding", r, None)))
    return ", ".join(held) if held else "nothing"


def _explain_at(args: Sequence[str], state: Facts, world: WorldView) -> str:
    r, p = args
    robot = world.robots.get(r)
    fix = (
        f"; navigate {r} to {p} before this subtask"
        if robot and NAVIGATE in robot.capabilities
        else (f"; {r} cannot move" if robot else "")
    )
    return f"{r} is at {_where_robot(state, r)}, not at {p}{fix}"


def _explain_on(args: Sequence[str], state: Facts, world: WorldView) -> str:
    o, loc = args
    here = describe_location(state, o)
    return (
        f"{o} is {here}, not on {loc}" if loc else f"{o} is not on any place or tray (it is {here})"
    )


def _explain_loose(args: Sequence[str], state: Facts, world: WorldView) -> str:
    (o,) = args
    return f"{o} is not on the floor ({describe_location(state, o)})"


def _explain_holding(args: Sequence[str], state: Facts, world: WorldView) -> str:
    r, o = args
    extra = f"; {o} is {describe_location(state, o)}" if o else ""
    what = _holds_what(state, r)
    return f"{r} holds {what}{extra}" + ("; it must pick it first" if what == "nothing" else "")


def _explain_hand_empty(args: Sequence[str], state: Facts, world: WorldView) -> str:
    r = args[0]
    robot = world.robots.get(r)
    if robot is not None and MANIPULATE not in robot.capabilities:
        return f"{r} has no gripper (no '{MANIPULATE}' capability)"
    return f"{r}'s hand is already full: it holds {_holds_what(state, r)}"


def _explain_open(args: Sequence[str], state: Facts, world: WorldView) -> str:
    return f"{args[0]} is closed; open it first"


def _explain_reaches(args: Sequence[str], state: Facts, world: WorldView) -> str:
    r, t = args
    robot = world.robots.get(r)
    if t in world.robots:
        return f"{r} is at {_where_robot(state, r)} and {t} is at {_where_robot(state, t)}: they are not at the same place"
    if robot is not None and NAVIGATE not in robot.capabilities:
        return f"{r} cannot move and reaches only {_where_robot(state, r)}, not {t}"
    return f"{r} is at {_where_robot(state, r)}, not at {t}; navigate {r} to {t} first"


def _stored(pattern: Pattern) -> Atom:
    return tuple(v for v in pattern if v is not None)


# -- the table -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One way a derived atom holds: `head` names the predicate's arguments (logic
    variables), `body` are conditions over stored predicates, `distinct` pairs of
    variables that must differ."""

    head: tuple[str, ...]
    body: tuple[Condition, ...]
    distinct: tuple[tuple[str, str], ...] = ()

    def admits(self, env: Mapping[str, str]) -> bool:
        return all(env.get(a) is None or env.get(a) != env.get(b) for a, b in self.distinct)


def rule(head: str, *body: str, distinct: tuple[str, str] | None = None) -> Rule:
    """A rule written in the condition language: `rule("reaches(?r, ?t)", "at(?r, ?t)")`."""
    return Rule(
        parse_condition(head).terms,
        tuple(parse_condition(b) for b in body),
        (distinct,) if distinct else (),
    )


@dataclass(frozen=True)
class Predicate:
    """One predicate: `signature` ("at(R, P)"), what each argument names (`kinds`, one
    tuple of KINDS per argument), a one-line `meaning`, and either `read` (stored) or
    `rules` (derived). `explain` words a failure; `prompt` is how the planning prompt
    lists it ("" = signature and meaning, None = not listed)."""

    signature: str
    kinds: tuple[tuple[str, ...], ...]
    meaning: str
    read: Read | None = None
    rules: tuple[Rule, ...] = ()
    explain: Explain | None = None
    prompt: str | None = ""

    def __post_init__(self) -> None:
        sig = parse_condition(self.signature)
        if len(sig.terms) != len(self.kinds):
            raise DeveloperError(
                f"predicate {self.signature}: {len(self.kinds)} kinds for {len(sig.terms)} arguments"
            )
        if (self.read is None) == (not self.rules):
            raise DeveloperError(
                f"predicate {self.signature}: give either `read` (stored) or `rules` (derived)"
            )
        for kinds in self.kinds:
            unknown = set(kinds) - set(KINDS)
            if unknown or not kinds:
                raise DeveloperError(
                    f"predicate {self.signature}: unknown kinds {sorted(unknown)} (kinds: {', '.join(KINDS)})"
                )

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0].strip()

    @property
    def arity(self) -> int:
        return len(self.kinds)

    @property
    def derived(self) -> bool:
        return bool(self.rules)

    @property
    def prompt_text(self) -> str | None:
        return f"{self.signature}: {self.meaning}" if self.prompt == "" else self.prompt


@dataclass(frozen=True)
class Vocabulary:
    """An ordered, validated set of predicates."""

    predicates: tuple[Predicate, ...]
    _by_name: dict[str, Predicate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Predicate] = {}
        for p in self.predicates:
            if p.name in by_name:
                raise DeveloperError(f"predicate {p.name!r} is defined twice")
            by_name[p.name] = p
        object.__setattr__(self, "_by_name", by_name)
        for p in self.predicates:
            for r in p.rules:
                self._check_rule(p, r)

    def _check_rule(self, p: Predicate, r: Rule) -> None:
        if (
            len(r.head) != p.arity
            or len(set(r.head)) != p.arity
            or not all(t.startswith("?") for t in r.head)
        ):
            raise DeveloperError(
                f"predicate {p.name}: a rule's head must be {p.arity} distinct variables, got {r.head}"
            )
        bound: set[str] = set()
        for c in r.body:
            q = self._by_name.get(c.predicate)
            # derived over stored only: the search compiles a rule into stored atoms in one step
            if q is None or q.derived or q.arity != len(c.terms):
                raise DeveloperError(
                    f"predicate {p.name}: rule condition {c.text!r} is not a stored predicate of this vocabulary"
                )
            if not c.negated:
                bound |= c.variables()
        if set(r.head) - bound:
            raise DeveloperError(
                f"predicate {p.name}: a rule leaves {sorted(set(r.head) - bound)} unbound"
            )

    # -- lookup ---------------------------------------------------------------------------
    def get(self, name: str) -> Predicate | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Predicate]:
        return iter(self.predicates)

    @cached_property
    def arities(self) -> dict[str, int]:
        """{predicate: number of arguments}, in table order."""
        return {p.name: p.arity for p in self.predicates}

    @cached_property
    def derived(self) -> frozenset[str]:
        return frozenset(p.name for p in self.predicates if p.derived)

    def is_derived(self, name: str) -> bool:
        return name in self.derived

    def kinds(self, name: str, pos: int) -> tuple[str, ...] | None:
        """What argument `pos` of a predicate names (None: unknown predicate or position)."""
        p = self._by_name.get(name)
        return p.kinds[pos] if p is not None and pos < p.arity else None

    def extend(self, *predicates: Predicate) -> Vocabulary:
        """This vocabulary plus `predicates` (one with an existing name replaces it)."""
        new = {p.name: p for p in predicates}
        kept = tuple(new.pop(p.name, p) for p in self.predicates)
        return Vocabulary((*kept, *new.values()))

    # -- semantics --------------------------------------------------------------------------
    def read(self, world: WorldView) -> set[Atom]:
        """Every stored atom of the world."""
        atoms: set[Atom] = set()
        for p in self.predicates:
            if p.read is not None:
                atoms.update(p.read(world))
        return atoms

    def derive(self, name: str, facts: Facts, args: Sequence[str | None]) -> Iterator[Atom]:
        """The atoms of a derived predicate that hold over `facts` (None in `args`: any)."""
        p = self._by_name[name]
        if len(args) != p.arity:
            return
        for r in p.rules:
            env = {h: a for h, a in zip(r.head, args, strict=True) if a is not None}
            for sol in solutions(facts, r.body, env):
                if r.admits(sol):
                    yield (name, *(sol[h] for h in r.head))

    def support(self, facts: Facts, atom: Atom) -> set[Atom]:
        """The stored atoms a derived atom rests on (the first rule instance that holds)."""
        p = self._by_name[atom[0]]
        for r in p.rules:
            env = dict(zip(r.head, atom[1:], strict=True))
            for sol in solutions(facts, r.body, env):
                if r.admits(sol):
                    return {_stored(ground(c, sol)) for c in r.body if not c.negated}
        return set()

    def explain(
        self, negated: bool, name: str, args: Sequence[str], facts: Facts, world: WorldView
    ) -> str:
        """Why `name(args)` (or its negation) fails, in words a model or a person can act on;
        `args` holds "" where a term is unbound."""
        if negated:
            found: Pattern | None = next(facts.match((name, *(a or None for a in args))), None)
            return (
                f"{name}({', '.join(str(a) for a in found[1:])}) holds at that point"
                if found
                else "it holds at that point"
            )
        p = self._by_name.get(name)
        if p is None or p.explain is None or len(args) != p.arity or not args or not args[0]:
            return "it does not hold at that point"
        return p.explain(args, facts, world)

    def prompt_terms(self) -> str:
        """The predicates as the planning prompt lists them."""
        return "; ".join(t for p in self.predicates if (t := p.prompt_text) is not None)


VOCABULARY = Vocabulary(
    (
        Predicate(
            "at(R, P)",
            (("robot",), ("place",)),
            "robot R is at place P (a robot is also at every place in its `reach`, a fixed arm's workspace)",
            read=_read_at,
            explain=_explain_at,
            prompt="at(R, P) robot R is at place P",
        ),
        Predicate(
            "on(O, L)",
            (("object",), ("place", "receptacle", "carrier")),
            "object O rests on/in place, receptacle or robot (tray) L",
            read=_read_on,
            explain=_explain_on,
            prompt="on(O, L) object O is on place or robot tray L",
        ),
        Predicate(
            "loose(O)",
            (("object",),),
            "object O lies loose on the floor, at a known pose (fell, or was put down there)",
            read=_read_loose,
            explain=_explain_loose,
            prompt="loose(O) object O lies on the floor",
        ),
        Predicate(
            "holding(R, O)",
            (("robot",), ("object",)),
            "robot R holds object O",
            read=_read_holding,
            explain=_explain_holding,
            prompt="holding(R, O)",
        ),
        Predicate(
            "hand_empty(R)",
            (("robot",),),
            "robot R's gripper is free (robots with the `manipulate` capability that hold nothing)",
            read=_read_hand_empty,
            explain=_explain_hand_empty,
            prompt="hand_empty(R)",
        ),
        Predicate(
            "open(X)",
            (("place", "object"),),
            "articulated thing X is open (its attrs say `open: true`; closed = not open)",
            read=_read_open,
            explain=_explain_open,
            prompt=None,  # the skills that use it say so in their own conditions
        ),
        Predicate(
            "reaches(R, T)",
            (("robot",), ("place", "robot")),
            "R is at place T, or R and robot T are at the same place",
            rules=(
                rule("reaches(?r, ?t)", "at(?r, ?t)"),
                # a robot reaches another robot (its tray) when both are at one place
                rule("reaches(?r, ?t)", "at(?r, ?p)", "at(?t, ?p)", distinct=("?r", "?t")),
            ),
            explain=_explain_reaches,
        ),
    )
)
"""The built-in vocabulary (docs/planning.md, "The symbolic model")."""

PREDICATES: dict[str, int] = VOCABULARY.arities
"""The built-in predicates with their arities (what the skill checker accepts)."""

DERIVED: frozenset[str] = VOCABULARY.derived
"""Built-in predicates computed from others rather than stored (an effect cannot set them)."""
