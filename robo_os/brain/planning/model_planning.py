"""Planning with a model: one request, then bounded repair turns, every answer parsed
and checked; the conversation loop behind `BrainPlanner` when a model is configured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ...contracts import PlanProblem
from ...errors import ModelUnavailableError
from ...settings import LLMSettings
from ...symbolic.state import SymbolicState
from .catalogue import SUBMIT_PLAN, Catalogue
from .checker import check_plan_data
from .embedded import fresh_ids
from .instructions import Goal
from .interface import PlanningOutcome
from .llm import ChatReply, LLMPool
from .parsing import parse_answer
from .prompts import image_parts, repair_messages

__all__ = ["ImageSource", "ModelPlanner"]

log = logging.getLogger(__name__)

ImageSource = Callable[[], Awaitable[Mapping[str, bytes]]]
"""Returns the robots' current camera images: {robot id: PNG bytes}."""


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

    async def run(
        self,
        task_id: str,
        cat: Catalogue,
        state: SymbolicState,
        messages: list[dict[str, Any]],
        goal: Goal | None,
        used: set[str],
    ) -> PlanningOutcome:
        """Plan from `messages` (system prompt + user turn); `goal` (if the instruction
        was understood) is verified; `used` ids (of a task's history) are avoided."""
        planner = self.name
        images = await self._camera_images()
        if images:
            messages = _with_images(messages, images)
        tools = [cat.submit_plan_tool()] if self.settings.tool_calling else None
        choice = {"type": "function", "function": {"name": SUBMIT_PLAN}} if tools else None
        verify = goal if (self.verify_goals and goal is not None) else None
        goal_json = goal.to_json() if goal is not None else None
        system = str(messages[0]["content"])
        calls = 0
        problems: list[PlanProblem] = []
        for attempt in range(1 + self.settings.repair_attempts):
            try:
                reply = await self.pool.complete(messages, tools=tools, tool_choice=choice)
            except ModelUnavailableError as e:
                return PlanningOutcome(
                    None,
                    [PlanProblem(code="model_unavailable", message=str(e))],
                    calls,
                    goal_json,
                    planner,
                    str(e),
                )
            calls += 1
            answer, notes = _answer_of(reply, tools is not None)
            parsed = parse_answer(answer, finish_reason=reply.finish_reason, prompt=system)
            notes += parsed.notes
            if parsed.data is None:
                problems = parsed.problems
            else:
                data = _rebase(parsed.data, used, notes) if used else parsed.data
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
                if report.plan is not None:
                    msg = f"planned in {calls} model call{'s' if calls > 1 else ''}" + (
                        f" ({'; '.join(report.notes)})" if report.notes else ""
                    )
                    return PlanningOutcome(report.plan, [], calls, goal_json, planner, msg)
                problems, notes = report.problems, report.notes
            log.info(
                "task %s: model answer %d rejected: %s",
                task_id,
                attempt + 1,
                "; ".join(f"[{p.code}] {p.message}" for p in problems[:5]),
            )
            if attempt < self.settings.repair_attempts:
                messages = [*messages, *repair_messages(reply, problems, notes)]
        return PlanningOutcome(
            None,
            problems,
            calls,
            goal_json,
            planner,
            f"no valid plan after {calls} model answer{'s' if calls > 1 else ''} ({len(problems)} problems in the last)",
        )


def _answer_of(reply: ChatReply, expect_tool: bool) -> tuple[str | None, list[str]]:
    notes: list[str] = []
    if reply.tool_name is not None:
        if reply.tool_name != SUBMIT_PLAN:
            notes.append(
                f"the model called {reply.tool_name!r} instead of {SUBMIT_PLAN}; its arguments were read as the plan"
            )
        return reply.tool_arguments, notes
    if expect_tool:
        notes.append(f"the model answered in text instead of calling {SUBMIT_PLAN}")
    return reply.text, notes


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
