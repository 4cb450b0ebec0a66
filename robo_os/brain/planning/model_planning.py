"""Planning with a model: one request, then bounded repair turns, every answer parsed
and checked; the conversation loop behind `BrainPlanner` when a model is configured."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ...contracts import Plan, PlanProblem
from ...errors import ModelRequestError, ModelUnavailableError
from ...settings import LLMSettings
from ...symbolic.goal import Goal
from ...symbolic.state import SymbolicState
from .catalogue import SUBMIT_PLAN, Catalogue
from .checker import check_plan_data
from .embedded import fresh_ids
from .goal_resolution import resolve_goal
from .goals import SUBMIT_GOAL, constraint_problems, goal_schema, read_goal
from .interface import FailedCall, PlanningOutcome
from .llm import ChatReply, LLMPool, json_schema_format, plain_schema
from .parsing import parse_answer
from .prompts import image_parts, repair_messages

__all__ = ["GOAL_MODE", "PLAN_MODE", "GoalPlanner", "ImageSource", "ModelPlanner", "repeated_calls"]

log = logging.getLogger(__name__)

ImageSource = Callable[[], Awaitable[Mapping[str, bytes]]]
"""Returns the robots' current camera images: {robot id: PNG bytes}."""

GoalPlanner = Callable[[Goal], PlanningOutcome]
"""Plans a goal with the embedded planner (goal mode's second half)."""

PLAN_MODE = "plan"
"""The model writes the goal and the plan; the checker verifies one against the other."""
GOAL_MODE = "goal"
"""The model writes only the goal; the embedded planner plans it."""


class ModelPlanner:
    """Runs planning conversations against an `LLMPool` (which the caller owns)."""

    def __init__(
        self,
        pool: LLMPool,
        settings: LLMSettings,
        *,
        images: ImageSource | None = None,
        verify_goals: bool = True,
        images_timeout_s: float = 10.0,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.images = images
        self.verify_goals = verify_goals
        self.images_timeout_s = images_timeout_s

    @property
    def name(self) -> str:
        return f"llm:{self.pool.model}"

    async def _camera_images(self) -> Mapping[str, bytes] | None:
        if not (self.settings.vision and self.images is not None):
            return None
        try:
            async with asyncio.timeout(self.images_timeout_s):
                return await self.images()
        except Exception as e:  # a camera problem must not stop planning
            log.warning("camera images unavailable, planning without them: %s", e)
            return None

    def output_spec(
        self, cat: Catalogue, mode: str
    ) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None, dict[str, Any] | None]:
        """(tools, tool_choice, response_format) for a mode: the answer's JSON schema
        over the live names (robo_os.brain.planning.goals, `Catalogue.plan_schema`), as
        the forced tool's parameters in tool mode or as `response_format` in text mode;
        without enums when `constrained_output` is off."""
        if mode == GOAL_MODE:
            name, schema = SUBMIT_GOAL, goal_schema(cat)
            about = "Submit the goal of the instruction (or an error if it cannot be done)."
        else:
            name, schema = SUBMIT_PLAN, cat.plan_schema()
            schema["properties"] = {"goal": goal_schema(cat), **schema["properties"]}
            schema["required"] = ["goal", *schema["required"]]
            about = "Submit the goal and the multi-robot plan for the instruction (or an error if it cannot be done)."
        if not self.settings.constrained_output:
            schema = plain_schema(schema)
        if self.settings.tool_calling:
            tool = {
                "type": "function",
                "function": {"name": name, "description": about, "parameters": schema},
            }
            return [tool], {"type": "function", "function": {"name": name}}, None
        fmt = json_schema_format(name, schema) if self.settings.constrained_output else None
        return None, None, fmt

    async def run(
        self,
        task_id: str,
        cat: Catalogue,
        state: SymbolicState,
        messages: list[dict[str, Any]],
        goal: Goal | None,
        used: set[str],
        avoid: Sequence[FailedCall] = (),
        *,
        mode: str = PLAN_MODE,
        instruction: str = "",
        plan_goal: GoalPlanner | None = None,
        keep_goal: bool = False,
    ) -> PlanningOutcome:
        """Plan from `messages` (system prompt + user turn); `used` ids (of a task's
        history) are avoided; a plan repeating a call of `avoid` goes back to the model
        as a problem.

        `plan` mode: the answer holds the goal and the plan; the plan is verified against
        the model's goal (else `goal`, the instruction as the embedded parser read it)
        and its constraints. `goal` mode: the answer is only the goal, planned by
        `plan_goal` (the embedded planner); a goal it cannot reach goes back to the model
        with the planner's reasons. Either way the outcome's goal is the one used.
        `keep_goal` (a replan toward a task's stored goal): `goal` stays the goal, whatever
        the model writes."""
        if mode == GOAL_MODE and plan_goal is None:
            raise ValueError("goal mode needs plan_goal (the embedded planner)")
        planner = self.name
        images = await self._camera_images()
        if images:
            messages = _with_images(messages, images)
        tools, choice, fmt = self.output_spec(cat, mode)
        tool_name = SUBMIT_GOAL if mode == GOAL_MODE else SUBMIT_PLAN
        parsed_goal = goal if (self.verify_goals and goal is not None) else None
        goal_json = goal.to_json() if goal is not None else None
        system = str(messages[0]["content"])
        calls = 0
        problems: list[PlanProblem] = []
        request_notes: list[str] = []
        what = "goal" if mode == GOAL_MODE else "plan"
        for attempt in range(1 + self.settings.repair_attempts):
            try:
                reply = await self.pool.complete(
                    messages, tools=tools, tool_choice=choice, response_format=fmt
                )
            except ModelUnavailableError as e:
                code = (
                    "model_request_rejected"
                    if isinstance(e, ModelRequestError)
                    else "model_unavailable"
                )
                return PlanningOutcome(
                    None,
                    [PlanProblem(code=code, message=str(e))],
                    calls,
                    goal_json,
                    planner,
                    _with_notes(str(e), request_notes),
                )
            calls += 1
            request_notes += reply.notes
            answer, notes = _answer_of(reply, tools is not None, tool_name)
            parsed = parse_answer(
                answer, finish_reason=reply.finish_reason, prompt=system, expect=what
            )
            notes += parsed.notes
            if parsed.data is None:
                problems = parsed.problems
            elif mode == GOAL_MODE:
                assert plan_goal is not None
                done, problems, goal_json = self._goal_answer(
                    parsed.data, cat, state, instruction, plan_goal, goal_json
                )
                if done is not None:
                    return dataclasses.replace(
                        done,
                        model_calls=calls,
                        planner=f"{planner}+embedded",
                        message=_with_notes(
                            f"goal by the model in {calls} call{'s' if calls > 1 else ''},"
                            f" planned by the embedded planner: {done.message}",
                            [*request_notes, *notes],
                        ),
                    )
            else:
                data = dict(parsed.data)
                raw_goal = data.pop("goal", None)
                verify, goal_problems_, model_goal_json = (
                    (goal, [], None)
                    if keep_goal
                    else self._plan_goal(raw_goal, cat, instruction, parsed_goal, notes)
                )
                if model_goal_json is not None:
                    goal_json = model_goal_json
                data = _rebase(data, used, notes) if used else data
                report = check_plan_data(
                    data,
                    cat,
                    state,
                    goal=verify.final if verify else (),
                    allowed_holding=verify.held if verify else (),
                    notes=notes,
                )
                if report.infeasible is not None:
                    return PlanningOutcome(
                        None,
                        report.problems,
                        calls,
                        goal_json,
                        planner,
                        f"the model declares the instruction infeasible: {report.infeasible}",
                    )
                broken = (
                    constraint_problems(_calls_of(data), verify, cat, state, report.final_state)
                    if verify is not None
                    else []
                )
                repeats = repeated_calls(report.plan, avoid) if report.plan is not None else []
                problems = [*goal_problems_, *report.problems, *broken, *repeats]
                if report.plan is not None and not problems:
                    msg = f"planned in {calls} model call{'s' if calls > 1 else ''}"
                    return PlanningOutcome(
                        report.plan,
                        [],
                        calls,
                        goal_json,
                        planner,
                        _with_notes(msg, [*request_notes, *report.notes]),
                    )
                notes = report.notes
            log.info(
                "task %s: model answer %d rejected: %s",
                task_id,
                attempt + 1,
                "; ".join(f"[{p.code}] {p.message}" for p in problems[:5]),
            )
            if attempt < self.settings.repair_attempts:
                messages = [*messages, *repair_messages(reply, problems, notes, what=what)]
        n = f"{calls} model answer{'s' if calls > 1 else ''}"
        return PlanningOutcome(
            None,
            problems,
            calls,
            goal_json,
            planner,
            _with_notes(
                f"no valid {what} after {n} ({len(problems)} problems in the last: "
                + "; ".join(p.message for p in problems[:3])
                + ")",
                request_notes,
            ),
        )

    @staticmethod
    def _goal_answer(
        data: dict[str, Any],
        cat: Catalogue,
        state: SymbolicState,
        instruction: str,
        plan_goal: GoalPlanner,
        goal_json: dict[str, Any] | None,
    ) -> tuple[PlanningOutcome | None, list[PlanProblem], dict[str, Any] | None]:
        """Goal mode: (the embedded planner's outcome if it planned the model's goal,
        the problems otherwise, the goal to report)."""
        error = data.get("error")
        if isinstance(error, str) and error.strip() and not data.get("facts"):
            problem = PlanProblem(code="infeasible", message=error.strip())
            return (
                PlanningOutcome(
                    None,
                    [problem],
                    goal=goal_json,
                    message=f"the model declares the instruction infeasible: {error.strip()}",
                ),
                [],
                goal_json,
            )
        model_goal, problems = read_goal(data, instruction)
        if model_goal is None:
            return None, problems, goal_json
        problems = _goal_problems(model_goal, cat)
        if problems:
            return None, problems, model_goal.to_json()
        out = plan_goal(model_goal)
        if out.plan is not None:
            # the planner's plan must keep the goal's constraints too (never run one that doesn't)
            broken = constraint_problems(
                [(t.id, t.robot, t.skill, t.args) for t in out.plan.subtasks],
                model_goal,
                cat,
                state,
                None,
            )
            if not broken:
                return dataclasses.replace(out, goal=model_goal.to_json()), [], model_goal.to_json()
            out = dataclasses.replace(out, plan=None, problems=broken)
        unreachable = [
            PlanProblem(
                code=p.code,
                message=f"the planner cannot reach this goal: {p.message}",
                subtask=p.subtask,
            )
            for p in out.problems
        ] or [PlanProblem(code="infeasible", message="the planner cannot reach this goal")]
        return None, unreachable, model_goal.to_json()

    @staticmethod
    def _plan_goal(
        raw: Any, cat: Catalogue, instruction: str, parsed: Goal | None, notes: list[str]
    ) -> tuple[Goal | None, list[PlanProblem], dict[str, Any] | None]:
        """Plan mode: (the goal to verify the plan against, problems of the model's goal,
        the model's goal as JSON when it gave a usable one)."""
        if raw is None:
            if parsed is not None:
                notes.append(
                    "the answer has no goal; the plan was checked against the instruction's"
                )
            return parsed, [], None
        model_goal, problems = read_goal(raw, instruction)
        if model_goal is not None:
            problems = _goal_problems(model_goal, cat)
        if model_goal is None or problems:
            return parsed, problems, None
        return model_goal, [], model_goal.to_json()


def _answer_of(
    reply: ChatReply, expect_tool: bool, tool: str = SUBMIT_PLAN
) -> tuple[str | None, list[str]]:
    notes: list[str] = []
    if reply.tool_name is not None:
        if reply.tool_name != tool:
            notes.append(
                f"the model called {reply.tool_name!r} instead of {tool}; its arguments were read as the answer"
            )
        return reply.tool_arguments, notes
    if expect_tool and not reply.notes:
        notes.append(f"the model answered in text instead of calling {tool}")
    return reply.text, notes


def _goal_problems(goal: Goal, cat: Catalogue) -> list[PlanProblem]:
    """What is wrong with a model's goal in this world: names, destinations,
    contradictions (the checks an app's goal gets, robo_os.brain.planning.goal_resolution)."""
    return resolve_goal(goal.to_json(), cat)[1]


def _with_notes(message: str, notes: Sequence[str]) -> str:
    notes = list(dict.fromkeys(notes))
    return f"{message} ({'; '.join(notes)})" if notes else message


def _calls_of(data: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(id, robot, skill, args) of each well-formed subtask of a plan's JSON."""
    out = []
    for i, s in enumerate(data.get("subtasks") or []):
        if not isinstance(s, dict):
            continue
        args = s.get("args")
        out.append(
            (
                str(s.get("id") or f"#{i + 1}"),
                str(s.get("robot") or ""),
                str(s.get("skill") or ""),
                args if isinstance(args, dict) else {},
            )
        )
    return out


def _with_images(
    messages: list[dict[str, Any]], images: Mapping[str, bytes]
) -> list[dict[str, Any]]:
    """Attach camera images to the first user turn (as image_url parts)."""
    out = list(messages)
    for i, m in enumerate(out):
        if m.get("role") != "user":
            continue
        content = m["content"]
        parts = (
            list(content) if isinstance(content, list) else [{"type": "text", "text": str(content)}]
        )
        out[i] = {**m, "content": [*parts, *image_parts(images)]}
        break
    return out


def _rebase(data: dict[str, Any], used: set[str], notes: list[str]) -> dict[str, Any]:
    """A replanned plan's ids made disjoint from the ids that already ran; dependencies
    on subtasks that already ran are dropped (they are done)."""
    items = data.get("subtasks")
    if not isinstance(items, list) or not all(isinstance(s, dict) for s in items):
        return data
    ids = [s.get("id") for s in items]
    new_ids = {i for i in ids if isinstance(i, str)}
    clash = new_ids & used
    mapping = dict(zip(sorted(clash), fresh_ids(len(clash), used | new_ids), strict=True))
    if clash:
        notes.append(
            f"renamed subtask ids already used by the task: {', '.join(f'{a}->{b}' for a, b in mapping.items())}"
        )
    out = []
    for s in items:
        s = dict(s)
        if isinstance(s.get("id"), str):
            s["id"] = mapping.get(s["id"], s["id"])
        deps = s.get("depends_on")
        if isinstance(deps, list):
            kept = []
            for d in deps:
                if isinstance(d, str) and d in used and d not in new_ids:
                    notes.append(f"dropped {s.get('id')}'s dependency on {d}, which already ran")
                    continue
                kept.append(mapping.get(d, d) if isinstance(d, str) else d)
            s["depends_on"] = kept
        out.append(s)
    return {**data, "subtasks": out}


def repeated_calls(plan: Plan, avoid: Sequence[FailedCall]) -> list[PlanProblem]:
    """A problem for each subtask of `plan` that repeats a call that failed in the task."""
    return [
        PlanProblem(
            code="repeats_failure",
            message=f"subtask {s.id} repeats a call that failed in this task: {f.describe()}",
            subtask=s.id,
        )
        for s in plan.subtasks
        for f in avoid
        if f.matches(s.robot, s.skill, s.args)
    ]
