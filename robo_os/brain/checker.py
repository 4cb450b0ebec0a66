"""Plan checking before anything moves: every defect named, none fatal to the brain.

`check_plan_data` takes the JSON a model produced (or an app's explicit plan) and finds:

    structure     invalid_structure, missing_field, missing_subtasks, duplicate_id,
                  empty_plan, plan_and_error, copied_placeholder
    names         unknown_robot, robot_unavailable, unknown_skill, robot_lacks_skill,
                  robot_lacks_capability
    arguments     invalid_args, unknown_object, unknown_place, unknown_robot
    dependencies  unknown_dependency, self_dependency, dependency_cycle
    simulation    precondition_failed, conflict, object_left_in_hand, no_net_effect,
                  goal_not_met  (see robo_os.brain.simulation)

and `infeasible` when the model declares the instruction impossible (`error` with no
subtasks). A plan is returned only when there is no problem at all.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contracts import Plan, PlanProblem, Subtask
from ..skill.symbolic import Atom, SymbolicState
from .catalogue import Catalogue
from .parsing import is_placeholder
from .simulation import SimStep, simulate

__all__ = ["CheckReport", "check_plan", "check_plan_data", "find_cycles", "topological_order"]

_FIELDS = ("id", "robot", "skill", "args", "depends_on")


@dataclass(frozen=True)
class CheckReport:
    """A checked plan (None unless there is no problem), the problems, notes on what was
    tolerated, and the model's reason when it declared the instruction infeasible."""

    plan: Plan | None
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    infeasible: str | None = None
    final_state: SymbolicState | None = None

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.problems


@dataclass
class _Draft:
    index: int
    label: str
    id: str | None = None
    robot: str | None = None
    skill: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    broken: bool = False
    args_missing: bool = False


def _close(name: str, known: Iterable[str]) -> str:
    known = list(known)
    lowered = {k.lower(): k for k in known}
    key = name.strip().lower().replace(" ", "_")
    if key in lowered and lowered[key] != name:
        return f"; did you mean {lowered[key]!r}?"
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _listing(names: Iterable[str], limit: int = 12) -> str:
    names = list(names)
    head = ", ".join(names[:limit])
    return (
        head + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "none"
    )


def _short(value: Any, n: int = 60) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One concrete cycle per strongly connected component with more than one node
    (Tarjan; iterative, so deep plans cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Any]] = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    sccs.append(comp)
    cycles = []
    for comp in sccs:
        members = set(comp)
        start = min(comp)
        path, seen, node = [start], {start}, start
        while True:
            nxt = next(n for n in sorted(graph.get(node, ())) if n in members)
            if nxt in seen:
                cycles.append([*path[path.index(nxt) :], nxt])
                break
            path.append(nxt)
            seen.add(nxt)
            node = nxt
    return cycles


def topological_order(ids: list[str], deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Kahn's order, ties broken by position in `ids` (so a listed order is kept)."""
    pos = {s: i for i, s in enumerate(ids)}
    indegree = {s: 0 for s in ids}
    children: dict[str, list[str]] = {s: [] for s in ids}
    for s in ids:
        for d in set(deps.get(s, ())):
            if d in pos and d != s:
                indegree[s] += 1
                children[d].append(s)
    ready = sorted((s for s in ids if indegree[s] == 0), key=pos.__getitem__)
    out: list[str] = []
    while ready:
        s = ready.pop(0)
        out.append(s)
        for c in children[s]:
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
                ready.sort(key=pos.__getitem__)
    return out


class _Checker:
    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self.problems: list[PlanProblem] = []
        self.notes: list[str] = []

    def add(self, code: str, message: str, subtask: str | None = None) -> None:
        self.problems.append(PlanProblem(code=code, message=message, subtask=subtask))

    # -- structure -------------------------------------------------------------------
    def drafts(self, items: list[Any]) -> list[_Draft]:
        drafts: list[_Draft] = []
        for i, item in enumerate(items):
            d = _Draft(index=i, label=f"#{i + 1}")
            drafts.append(d)
            if not isinstance(item, dict):
                self.add(
                    "invalid_structure",
                    f"subtask #{i + 1} must be an object with {', '.join(_FIELDS)}, got {_short(item)}",
                )
                d.broken = True
                continue
            sid = item.get("id")
            if isinstance(sid, str) and sid.strip() and not is_placeholder(sid):
                d.id = d.label = sid
            elif "id" not in item:
                self.add("missing_field", f"subtask #{i + 1} has no 'id'")
                d.broken = True
            else:
                self.add(
                    "invalid_structure",
                    f"subtask #{i + 1}: 'id' must be a non-empty string such as \"s{i + 1}\", got {_short(sid)}",
                )
                d.broken = True
            for key in ("robot", "skill"):
                value = item.get(key)
                if isinstance(value, str) and value and not is_placeholder(value):
                    setattr(d, key, value)
                elif key not in item:
                    self.add("missing_field", f"subtask {d.label} has no '{key}'", d.id)
                    d.broken = True
                else:
                    self.add(
                        "invalid_structure",
                        f"subtask {d.label}: '{key}' must be a name, got {_short(value)}",
                        d.id,
                    )
                    d.broken = True
            args = item.get("args", None)
            if args is None:
                model = self.cat.skills.get(d.skill or "")
                if "args" not in item and model is not None and model.required:
                    self.add(
                        "missing_field",
                        f"subtask {d.label} has no 'args'; {d.skill} needs {', '.join(model.required)}",
                        d.id,
                    )
                    d.broken = d.args_missing = True
                elif "args" in item:
                    self.add(
                        "invalid_structure",
                        f"subtask {d.label}: 'args' must be an object, got null",
                        d.id,
                    )
                    d.broken = True
            elif isinstance(args, dict):
                d.args = args
            else:
                self.add(
                    "invalid_structure",
                    f"subtask {d.label}: 'args' must be an object of argument values, got {_short(args)}",
                    d.id,
                )
                d.broken = True
            deps = item.get("depends_on", None)
            if deps is None:
                if "depends_on" not in item:
                    self.notes.append(f"subtask {d.label} has no 'depends_on'; read as []")
            elif isinstance(deps, list) and all(isinstance(x, str) for x in deps):
                d.depends_on = list(dict.fromkeys(deps))
            else:
                bad = (
                    deps
                    if not isinstance(deps, list)
                    else next(x for x in deps if not isinstance(x, str))
                )
                self.add(
                    "invalid_structure",
                    f"subtask {d.label}: 'depends_on' must be a list of subtask ids (strings), found {_short(bad)}",
                    d.id,
                )
                d.broken = True
            extra = sorted(set(item) - set(_FIELDS))
            if extra:
                self.notes.append(f"subtask {d.label}: ignored unknown field(s) {', '.join(extra)}")
        seen: dict[str, int] = {}
        for d in drafts:
            if d.id is None:
                continue
            if d.id in seen:
                self.add(
                    "duplicate_id",
                    f"subtask id {d.id!r} is used by subtasks #{seen[d.id] + 1} and #{d.index + 1}; ids must be unique",
                    d.id,
                )
                d.broken = True
            else:
                seen[d.id] = d.index
        return drafts

    # -- names and arguments -------------------------------------------------------------
    def names(self, d: _Draft) -> None:
        cat = self.cat
        if d.robot is not None and d.robot not in cat.robots:
            other = cat.kinds_of(d.robot)
            what = (
                f"; {d.robot!r} is a {'/'.join(sorted(other))}, not a robot"
                if other
                else _close(d.robot, cat.robots)
            )
            self.add(
                "unknown_robot",
                f"subtask {d.label}: unknown robot {d.robot!r}{what} (robots: {_listing(cat.robots)})",
                d.id,
            )
            d.broken = True
        elif d.robot is not None and not cat.available(d.robot):
            status = cat.robots[d.robot].status
            alt = cat.robots_for(d.skill) if d.skill else []
            self.add(
                "robot_unavailable",
                f"subtask {d.label}: robot {d.robot} is {status} and cannot take work (available for {d.skill}: {_listing(alt)})",
                d.id,
            )
            d.broken = True
        if d.skill is not None and d.skill not in cat.skills:
            offered = sorted(cat.offered.get(d.robot or "", {})) or list(cat.skills)
            self.add(
                "unknown_skill",
                f"subtask {d.label}: unknown skill {d.skill!r}{_close(d.skill, cat.skills)} (skills: {_listing(offered)})",
                d.id,
            )
            d.broken = True
            return
        if d.skill is None or d.robot is None or d.robot not in cat.robots:
            return
        missing = cat.missing_capabilities(d.robot, d.skill)
        able = cat.robots_for(d.skill)
        if missing:
            caps = ", ".join(cat.robots[d.robot].capabilities) or "none"
            self.add(
                "robot_lacks_capability",
                f"subtask {d.label}: {d.robot} cannot run {d.skill}: it needs capability {', '.join(missing)} and {d.robot} has {caps} "
                f"(robots that can: {_listing(able)})",
                d.id,
            )
            d.broken = True
        elif not cat.offers(d.robot, d.skill):
            self.add(
                "robot_lacks_skill",
                f"subtask {d.label}: {d.robot} does not offer {d.skill} ({d.robot} offers {_listing(sorted(cat.offered.get(d.robot, {})))}; "
                f"robots that can: {_listing(able)})",
                d.id,
            )
            d.broken = True

    def arguments(self, d: _Draft) -> None:
        cat = self.cat
        if d.skill is None or d.skill not in cat.skills or d.args_missing:
            return
        entity = cat.entity_params(d.skill)
        bad_names: set[str] = set()
        for pname, kinds in entity.items():
            if pname not in d.args:
                continue
            value = d.args[pname]
            if not isinstance(value, str):
                continue  # the schema reports the type
            valid = [n for k in kinds for n in cat.names(k)]
            if value in valid:
                continue
            bad_names.add(pname)
            code = f"unknown_{kinds[0]}"
            actual = cat.kinds_of(value)
            if actual:
                why = f"{value!r} is {_a('/'.join(sorted(actual)))}, but {d.skill}.{pname} must name {_a(' or '.join(kinds))}"
            else:
                why = f"unknown {' or '.join(kinds)} {value!r} for {d.skill}.{pname}{_close(value, valid)}"
            self.add(code, f"subtask {d.label}: {why} (valid: {_listing(valid)})", d.id)
            d.broken = True
        schema = cat.args_schema(d.skill)
        takes = ", ".join(schema.get("properties", {})) or "no arguments"
        errors = sorted(
            cat.args_validator(d.skill).iter_errors(d.args),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        mistyped = {tuple(str(p) for p in e.absolute_path) for e in errors if e.validator == "type"}
        for err in errors:
            path = [str(p) for p in err.absolute_path]
            if err.validator == "enum" and (
                (path and path[0] in bad_names) or tuple(path) in mistyped
            ):
                continue
            if err.validator == "required":
                missing = err.message.split("'")[1] if "'" in err.message else err.message
                msg = f"missing required argument {missing!r} ({d.skill} takes {takes})"
            elif err.validator == "additionalProperties":
                extra = sorted(set(d.args) - set(schema.get("properties", {})))
                msg = f"unexpected argument{'s' if len(extra) > 1 else ''} {', '.join(repr(e) for e in extra)} ({d.skill} takes {takes})"
            elif err.validator == "type":
                copied = (
                    " (it looks copied from the schema: give one value)"
                    if isinstance(err.instance, dict) and {"type", "enum"} & set(err.instance)
                    else ""
                )
                msg = f"argument {'.'.join(path) or 'args'} must be {err.validator_value}, got {_short(err.instance)}{copied}"
            else:
                msg = f"argument {'.'.join(path) or 'args'}: {err.message}"
            self.add("invalid_args", f"subtask {d.label} ({d.skill}): {msg}", d.id)
            d.broken = True

    # -- dependencies ----------------------------------------------------------------------
    def dependencies(self, drafts: list[_Draft]) -> bool:
        """Report dependency defects; True if the graph can be ordered."""
        ids = [d.id for d in drafts if d.id is not None]
        id_set = set(ids)
        orderable = True
        for d in drafts:
            if d.id is None:
                continue
            for dep in d.depends_on:
                if dep == d.id:
                    self.add(
                        "self_dependency",
                        f"subtask {d.id} depends on itself; depends_on lists other subtasks that must finish first",
                        d.id,
                    )
                    d.broken = True
                elif dep not in id_set:
                    kind = self.cat.kinds_of(dep)
                    hint = (
                        f"; {dep!r} is a {'/'.join(sorted(kind))} name, but depends_on lists subtask ids"
                        if kind
                        else ""
                    )
                    self.add(
                        "unknown_dependency",
                        f"subtask {d.id} depends on {dep!r}, which is not a subtask of this plan{hint} (ids: {_listing(ids)})",
                        d.id,
                    )
                    d.broken = True
        graph = {
            d.id: [x for x in d.depends_on if x in id_set and x != d.id]
            for d in drafts
            if d.id is not None
        }
        for cycle in find_cycles(graph):
            # edges point from a subtask to what it waits for; say it in waiting order
            self.add(
                "dependency_cycle",
                f"dependency cycle: {' → '.join(cycle)} (each waits for the next, so none can start)",
                cycle[0],
            )
            orderable = False
        return orderable and len(id_set) == len(ids)


def check_plan_data(
    data: Any,
    cat: Catalogue,
    state: SymbolicState,
    *,
    goal: Iterable[Atom] = (),
    allowed_holding: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> CheckReport:
    """Check a plan given as JSON data (a model's answer or an app's plan)."""
    c = _Checker(cat)
    c.notes.extend(notes)
    if not isinstance(data, dict):
        c.add(
            "invalid_structure",
            f'a plan must be a JSON object {{"subtasks": [...]}}, got {_short(data)}',
        )
        return CheckReport(None, c.problems, c.notes)
    extra = sorted(set(data) - {"subtasks", "error"})
    if extra:
        c.notes.append(f"ignored unknown top-level field(s) {', '.join(extra)}")
    items = data.get("subtasks")
    error = data.get("error")
    has_items = isinstance(items, list) and len(items) > 0
    if isinstance(error, str) and error.strip():
        if is_placeholder(error):
            if has_items:
                c.notes.append(
                    f"ignored the placeholder error {error!r} copied from the format description"
                )
            else:
                c.add(
                    "copied_placeholder",
                    f"'error' is the placeholder {error!r} from the format description; give a plan, or the real reason",
                )
        elif has_items:
            c.add(
                "plan_and_error",
                f"the answer has both subtasks and an error ({error!r}); give either a plan or, if the instruction cannot be done, only the error",
            )
        else:
            return CheckReport(
                None,
                [PlanProblem(code="infeasible", message=error.strip())],
                c.notes,
                infeasible=error.strip(),
            )
    elif error is not None and not isinstance(error, str):
        c.add("invalid_structure", f"'error' must be a string, got {_short(error)}")
    if items is None:
        if "subtasks" in data:
            c.add("invalid_structure", "'subtasks' must be a list of subtasks, got null")
        elif not c.problems:
            c.add(
                "missing_subtasks",
                f"the plan has no 'subtasks' key (keys: {', '.join(sorted(data)) or 'none'})",
            )
        return CheckReport(None, c.problems, c.notes)
    if not isinstance(items, list):
        c.add("invalid_structure", f"'subtasks' must be a list, got {_short(items)}")
        return CheckReport(None, c.problems, c.notes)
    if not items:
        if not c.problems:
            c.add(
                "empty_plan",
                'the plan has no subtasks; if the instruction cannot be done, reply with {"subtasks": [], "error": "<why>"}',
            )
        return CheckReport(None, c.problems, c.notes)

    drafts = c.drafts(items)
    for d in drafts:
        if not d.broken or d.robot or d.skill:
            c.names(d)
            c.arguments(d)
    orderable = c.dependencies(drafts)
    final_state = None
    if orderable:
        by_id = {d.id: d for d in drafts if d.id is not None}
        deps = {sid: d.depends_on for sid, d in by_id.items()}
        order = topological_order(list(by_id), deps)
        ancestors: dict[str, set[str]] = {}
        for sid in order:
            ancestors[sid] = set()
            for dep in deps[sid]:
                if dep in ancestors:
                    ancestors[sid] |= {dep} | ancestors[dep]
        skip = {
            sid
            for sid in order
            if by_id[sid].broken or any(by_id[a].broken for a in ancestors[sid])
        }
        steps = [
            SimStep(
                sid,
                by_id[sid].robot or "",
                by_id[sid].skill or "",
                by_id[sid].args,
                tuple(deps[sid]),
            )
            for sid in order
            if sid not in skip
        ]
        if skip:
            c.notes.append(
                f"not simulated because of the problems above: {', '.join(s for s in order if s in skip)}"
            )
        report = simulate(
            steps,
            cat,
            state,
            ancestors=ancestors,
            goal=goal if not skip else (),
            allowed_holding=allowed_holding,
        )
        if skip:
            # what is left in a hand may be a consequence of the subtasks not simulated
            report.problems[:] = [
                p for p in report.problems if p.code not in ("object_left_in_hand", "no_net_effect")
            ]
        c.problems.extend(report.problems)
        c.notes.extend(report.notes)
        final_state = report.final_state
    if c.problems:
        return CheckReport(None, c.problems, c.notes, final_state=final_state)
    plan = Plan(
        subtasks=[
            Subtask(
                id=d.id or "",
                robot=d.robot or "",
                skill=d.skill or "",
                args=d.args,
                depends_on=d.depends_on,
            )
            for d in drafts
        ]
    )
    return CheckReport(plan, [], c.notes, final_state=final_state)


def check_plan(plan: Plan, cat: Catalogue, state: SymbolicState, **kwargs: Any) -> CheckReport:
    """Check a `Plan` (e.g. an app's explicit plan): exactly the checks a model's plan gets."""
    data: dict[str, Any] = {"subtasks": [s.model_dump(mode="json") for s in plan.subtasks]}
    if plan.error is not None:
        data["error"] = plan.error
    return check_plan_data(data, cat, state, **kwargs)
