"""Plan checking before anything moves: every defect named, none fatal to the brain.

`check_plan_data` takes the JSON a model produced (or an app's explicit plan) and finds:

    structure     invalid_structure, missing_field, missing_subtasks, duplicate_id,
                  empty_plan, plan_and_error, copied_placeholder
    names         unknown_robot, robot_unavailable, unknown_skill, robot_lacks_skill,
                  robot_lacks_capability
    arguments     invalid_args, unknown_object, unknown_place, unknown_robot
    dependencies  unknown_dependency, self_dependency, dependency_cycle
    simulation    precondition_failed, conflict, object_left_in_hand, no_net_effect,
                  goal_not_met  (see robo_os.symbolic.simulate)

and `infeasible` when the model declares the instruction impossible (`error` with no
subtasks). A plan is returned only when there is no problem at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...contracts import Plan, PlanProblem, Subtask
from ...symbolic.conditions import Atom
from ...symbolic.simulate import SimStep, simulate
from ...symbolic.state import SymbolicState
from .catalogue import Catalogue
from .dag import find_cycles, topological_order
from .parsing import is_placeholder
from .structure import Draft, Findings, a_noun, close_names, listing, read_drafts, short

__all__ = ["CheckReport", "check_plan", "check_plan_data"]


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


class _Checker(Findings):
    """The name, argument and dependency checks (structure: robo_os.brain.planning.structure)."""

    # -- names and arguments -------------------------------------------------------------
    def names(self, d: Draft) -> None:
        cat = self.cat
        if d.robot is not None and d.robot not in cat.robots:
            other = cat.kinds_of(d.robot)
            what = (
                f"; {d.robot!r} is a {'/'.join(sorted(other))}, not a robot"
                if other
                else close_names(d.robot, cat.robots)
            )
            self.add(
                "unknown_robot",
                f"subtask {d.label}: unknown robot {d.robot!r}{what} (robots: {listing(cat.robots)})",
                d.id,
            )
            d.broken = True
        elif d.robot is not None and not cat.available(d.robot):
            status = cat.robots[d.robot].status
            alt = cat.robots_for(d.skill) if d.skill else []
            self.add(
                "robot_unavailable",
                f"subtask {d.label}: robot {d.robot} is {status} and cannot take work (available for {d.skill}: {listing(alt)})",
                d.id,
            )
            d.broken = True
        if d.skill is not None and d.skill not in cat.skills:
            offered = sorted(cat.offered.get(d.robot or "", {})) or list(cat.skills)
            self.add(
                "unknown_skill",
                f"subtask {d.label}: unknown skill {d.skill!r}{close_names(d.skill, cat.skills)} (skills: {listing(offered)})",
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
                f"(robots that can: {listing(able)})",
                d.id,
            )
            d.broken = True
        elif not cat.offers(d.robot, d.skill):
            self.add(
                "robot_lacks_skill",
                f"subtask {d.label}: {d.robot} does not offer {d.skill} ({d.robot} offers {listing(sorted(cat.offered.get(d.robot, {})))}; "
                f"robots that can: {listing(able)})",
                d.id,
            )
            d.broken = True

    def arguments(self, d: Draft) -> None:
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
                why = f"{value!r} is {a_noun('/'.join(sorted(actual)))}, but {d.skill}.{pname} must name {a_noun(' or '.join(kinds))}"
            else:
                why = f"unknown {' or '.join(kinds)} {value!r} for {d.skill}.{pname}{close_names(value, valid)}"
            self.add(code, f"subtask {d.label}: {why} (valid: {listing(valid)})", d.id)
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
                msg = f"argument {'.'.join(path) or 'args'} must be {err.validator_value}, got {short(err.instance)}{copied}"
            else:
                msg = f"argument {'.'.join(path) or 'args'}: {err.message}"
            self.add("invalid_args", f"subtask {d.label} ({d.skill}): {msg}", d.id)
            d.broken = True

    # -- dependencies ----------------------------------------------------------------------
    def dependencies(self, drafts: list[Draft]) -> bool:
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
                        f"subtask {d.id} depends on {dep!r}, which is not a subtask of this plan{hint} (ids: {listing(ids)})",
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
            f'a plan must be a JSON object {{"subtasks": [...]}}, got {short(data)}',
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
        c.add("invalid_structure", f"'error' must be a string, got {short(error)}")
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
        c.add("invalid_structure", f"'subtasks' must be a list, got {short(items)}")
        return CheckReport(None, c.problems, c.notes)
    if not items:
        if not c.problems:
            c.add(
                "empty_plan",
                'the plan has no subtasks; if the instruction cannot be done, reply with {"subtasks": [], "error": "<why>"}',
            )
        return CheckReport(None, c.problems, c.notes)

    drafts = read_drafts(items, c)
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
                pinned=d.pinned,
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
