"""How tasks share the fleet: runs of subtasks that keep a robot, the objects a task
claims, and the fleet's queue of tasks waiting for claimed objects.

**Runs.** A robot's consecutive subtasks in one task form a run (another task must not
put its own subtask in between) when the robot carries state from one to the next,
read from the skills' declared effects and the vocabulary's argument kinds:

- a *hold*: an effect that relates the robot to an object (`holding(robot, object)`,
  `on(object, robot)` for a tray) keeps the robot until a later subtask of the robot
  deletes it (`not holding(robot, object)`); a deletion of a hold the plan never made
  (the robot held it before) keeps every earlier subtask of the robot in the run too;
- a *position*: an effect that puts the robot somewhere (`at(robot, target)`) links the
  subtask to the robot's next one (it drove there to do that).

A skill whose spec the runtime does not know (not published) links to the robot's next
subtask when both name the same object.

**Object claims.** A task claims the objects its open subtasks name (argument values
that are objects in memory). `ObjectClaims` grants a request all at once or not at all
(no task holds some objects while it waits for others at admission), in the order of
priority (higher first), then arrival; a request waits while an object it needs is
claimed by another task or wanted by a request ahead of it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...contracts import SubtaskState, SubtaskStatus, Task
from ...errors import ExecutionError, SkillDefinitionError
from ...symbolic.conditions import Condition, Pattern, ground, parse_conditions
from ...symbolic.vocabulary import VOCABULARY, Vocabulary

__all__ = [
    "ClaimWaitExpired",
    "ObjectClaims",
    "claimed_robots",
    "links",
    "named_objects",
    "open_subtasks",
]

HOLDER_KINDS = frozenset({"robot", "carrier"})
OBJECT_KINDS = frozenset({"object"})
OPEN = frozenset(
    {
        SubtaskStatus.pending,
        SubtaskStatus.awaiting_approval,
        SubtaskStatus.running,
        SubtaskStatus.failed,
    }
)

Specs = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""robot -> skill -> published spec (JSON), as `Memory.robot_skills()` answers."""


class ClaimWaitExpired(ExecutionError):
    """A task waited longer than `scheduler.claim_wait_s` for objects another task holds."""

    def __init__(self, message: str, holders: dict[str, str]) -> None:
        super().__init__(message)
        self.holders = holders


# -- runs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Effects:
    holds: tuple[Pattern, ...] = ()
    releases: tuple[Pattern, ...] = ()
    positions: bool = False


def _kind_of(c: Condition, vocabulary: Vocabulary) -> str | None:
    """The kind of a condition over the running robot: "hold", "position" or None."""
    pred = vocabulary.get(c.predicate)
    if pred is None or pred.arity != len(c.terms):
        return None
    mine = [i for i, t in enumerate(c.terms) if t == "robot" and HOLDER_KINDS & set(pred.kinds[i])]
    if not mine:
        return None
    others = [i for i in range(len(c.terms)) if i not in mine]
    if any(OBJECT_KINDS & set(pred.kinds[i]) for i in others):
        return "hold"
    return "position" if others else None


def _effects(
    sub: SubtaskState, spec: Mapping[str, Any] | None, vocabulary: Vocabulary
) -> _Effects | None:
    if spec is None:
        return None
    try:
        conditions = parse_conditions(spec.get("effects") or ())
    except SkillDefinitionError:
        return None
    env = {"robot": sub.robot, **{k: v for k, v in sub.args.items() if isinstance(v, str)}}
    holds: list[Pattern] = []
    releases: list[Pattern] = []
    positions = False
    for c in conditions:
        kind = _kind_of(c, vocabulary)
        if kind == "hold":
            (releases if c.negated else holds).append(ground(c, env))
        elif kind == "position" and not c.negated:
            positions = True
    return _Effects(tuple(holds), tuple(releases), positions)


def _overlap(a: Pattern, b: Pattern) -> bool:
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def _strings(args: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for v in args.values():
        if isinstance(v, str):
            out.add(v)
        elif isinstance(v, list):
            out.update(x for x in v if isinstance(x, str))
    return out


def open_subtasks(task: Task, resolved: Iterable[str] = ()) -> list[SubtaskState]:
    """The subtasks that count for runs: all but those dropped (skipped, cancelled) and
    failures a replan already replaced; in plan order."""
    done = set(resolved)
    return [
        s
        for s in task.subtasks
        if s.status not in (SubtaskStatus.skipped, SubtaskStatus.cancelled)
        and not (s.status == SubtaskStatus.failed and s.id in done)
    ]


def links(
    subtasks: Sequence[SubtaskState],
    specs: Specs,
    objects: set[str],
    *,
    vocabulary: Vocabulary = VOCABULARY,
) -> set[str]:
    """Ids of the subtasks that must be followed, on their robot, by the robot's next
    subtask of the same task with nothing of another task in between."""
    by_robot: dict[str, list[SubtaskState]] = {}
    for s in subtasks:
        by_robot.setdefault(s.robot, []).append(s)
    out: set[str] = set()
    for robot, seq in by_robot.items():
        held: list[Pattern] = []
        for i, s in enumerate(seq):
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            eff = _effects(s, specs.get(robot, {}).get(s.skill), vocabulary)
            if eff is None:
                if nxt is not None and _strings(s.args) & _strings(nxt.args) & objects:
                    out.add(s.id)
                continue
            freed = [h for h in held if any(_overlap(r, h) for r in eff.releases)]
            if any(not any(_overlap(r, h) for h in held) for r in eff.releases):
                # it frees a hand the plan never filled: the robot held it all along
                out.update(x.id for x in seq[:i])
            held = [h for h in held if h not in freed] + list(eff.holds)
            if nxt is not None and (held or eff.positions):
                out.add(s.id)
    return out


def claimed_robots(subtasks: Sequence[SubtaskState], linked: set[str]) -> set[str]:
    """Robots a task keeps now: inside a run whose first part started (running or
    succeeded) and whose next part is still open."""
    by_robot: dict[str, list[SubtaskState]] = {}
    for s in subtasks:
        by_robot.setdefault(s.robot, []).append(s)
    out = set()
    for robot, seq in by_robot.items():
        for a, b in itertools.pairwise(seq):
            if (
                a.id in linked
                and a.status in (SubtaskStatus.running, SubtaskStatus.succeeded)
                and b.status in OPEN
            ):
                out.add(robot)
                break
    return out


def named_objects(
    subtasks: Iterable[SubtaskState], objects: set[str], specs: Specs | None = None
) -> set[str]:
    """What the subtasks not yet done claim: the objects their arguments name and, with
    `specs`, the arguments whose plug-in facts their effects change (wipe(place) making
    clean(place) claims the place, so two tasks never wipe one place at once)."""
    out: set[str] = set()
    for s in subtasks:
        if s.status in OPEN:
            out |= _strings(s.args) & objects
            if specs is not None:
                out |= _fact_arguments(s, specs.get(s.robot, {}).get(s.skill))
    return out


def _fact_arguments(s: SubtaskState, spec: Mapping[str, Any] | None) -> set[str]:
    """The argument values a subtask's effects on declared (plug-in) facts name."""
    if not spec or not spec.get("facts"):
        return set()
    declared = set()
    for fact in spec["facts"]:
        signature = fact.get("signature", "") if isinstance(fact, Mapping) else str(fact)
        declared.add(signature.split("(", 1)[0].strip())
    try:
        effects = parse_conditions(spec.get("effects") or ())
    except SkillDefinitionError:
        return set()  # a broken spec is the checker's to report, not the claims'
    out: set[str] = set()
    for c in effects:
        if c.predicate in declared:
            out |= {v for t in c.names() if t != "robot" and isinstance(v := s.args.get(t), str)}
    return out


# -- object claims ------------------------------------------------------------------------
@dataclass(eq=False)
class _Want:
    task_id: str
    objects: frozenset[str]
    priority: int
    seq: float
    fut: asyncio.Future[None] = field(repr=False)


class ObjectClaims:
    """Which task holds which object, and the queue of tasks waiting for some (one per
    brain; rebuilt from the stored tasks at a restart with `restore`)."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}
        self._queue: list[_Want] = []
        self._order = itertools.count()

    def restore(self, task_id: str, objects: Iterable[str]) -> None:
        for o in objects:
            self._holders[o] = task_id

    def holders(self) -> dict[str, str]:
        return dict(self._holders)

    def held_by(self, task_id: str) -> set[str]:
        return {o for o, t in self._holders.items() if t == task_id}

    def conflicts(self, task_id: str, objects: Iterable[str]) -> dict[str, str]:
        """object -> the other task holding it, or ahead in the queue for it."""
        out = {o: t for o in objects if (t := self._holders.get(o)) not in (None, task_id)}
        wanted = set(objects) - set(out)
        for w in self._ranked():
            if w.task_id == task_id:
                break
            for o in w.objects & wanted:
                out.setdefault(o, w.task_id)
        return out

    def _ranked(self) -> list[_Want]:
        return sorted(self._queue, key=lambda w: (-w.priority, w.seq))

    def _grant(self) -> None:
        blocked: set[str] = set()
        for w in self._ranked():
            if w.fut.done():
                self._queue.remove(w)
                continue
            free = all(self._holders.get(o) in (None, w.task_id) for o in w.objects)
            if free and not (w.objects & blocked):
                for o in w.objects:
                    self._holders[o] = w.task_id
                self._queue.remove(w)
                w.fut.set_result(None)
            else:
                # later requests may not take what this one waits for (no overtaking)
                blocked |= w.objects

    async def take(
        self,
        task_id: str,
        objects: Iterable[str],
        *,
        priority: int = 0,
        seq: float | None = None,
        wait_s: float | None = None,
        on_wait: Callable[[dict[str, str]], Any] | None = None,
    ) -> bool:
        """Claim every object for the task, waiting (up to `wait_s`, None: no limit)
        while others hold them or are ahead for them. `on_wait(holders)` is called when
        the request has to wait (awaited if it returns an awaitable). True when it
        waited. Raises ClaimWaitExpired naming the holders."""
        wanted = frozenset(objects)
        if not wanted:
            return False
        loop = asyncio.get_running_loop()
        want = _Want(
            task_id,
            wanted,
            priority,
            next(self._order) if seq is None else seq,
            loop.create_future(),
        )
        self._queue.append(want)
        self._grant()
        if want.fut.done():
            return False
        if on_wait is not None:
            out = on_wait(self.conflicts(task_id, wanted))
            if asyncio.iscoroutine(out) or isinstance(out, asyncio.Future):
                await out
        try:
            await asyncio.wait_for(asyncio.shield(want.fut), wait_s)
        except TimeoutError:
            holders = self.conflicts(task_id, wanted)
            raise ClaimWaitExpired(
                f"waited {wait_s:g}s for "
                + ", ".join(f"{o} (claimed by task {t})" for o, t in sorted(holders.items())),
                holders,
            ) from None
        finally:
            if not want.fut.done():
                want.fut.cancel()
                self._queue.remove(want)
                self._grant()
        return True

    def release(self, task_id: str, objects: Iterable[str] | None = None) -> list[str]:
        """Release the task's claims (all, or those named); returns what was released."""
        names = self.held_by(task_id) if objects is None else set(objects) & self.held_by(task_id)
        for o in names:
            del self._holders[o]
        self._grant()
        return sorted(names)
