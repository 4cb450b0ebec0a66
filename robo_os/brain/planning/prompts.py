"""The planning conversation: system prompt from the live catalogue, the instruction
(with camera images for vision models), repair turns and replanning turns.

The system prompt carries the fleet (robots, capabilities, status, where each is,
what it holds), the skills (signature, what they need and change, in the same symbolic
terms the checker uses) and a size-bounded world summary; names the instruction
mentions are listed first so a bounded summary keeps what matters.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ...contracts import PlanProblem, SubtaskState
from .catalogue import SUBMIT_PLAN, Catalogue
from .goals import SUBMIT_GOAL
from .interface import FailedCall
from .llm import ChatReply

__all__ = [
    "avoid_text",
    "image_parts",
    "planning_messages",
    "repair_messages",
    "replan_text",
    "system_prompt",
    "world_summary",
]

_MAX_ECHO = 4000
"""Longest previous answer sent back in a repair turn (degenerate answers can be huge)."""

GOAL_LANGUAGE = (
    "GOAL LANGUAGE\n"
    "A goal lists the facts that must be true when the task is done; each fact is a list "
    "[predicate, name, name]:\n"
    '- ["on", object, place or object or robot]: the object rests on or in it\n'
    '- ["holding", robot, object] or ["held", object]: the object ends in a gripper\n'
    '- ["at", robot, place]: the robot ends at the place\n'
    '- ["open", thing] or ["closed", thing]\n'
    '"then": later groups of facts, only when the instruction orders steps ("A, then B").\n'
    'Constraints (optional): "use": only these robots may act; "avoid": these robots must '
    'not act; "keep": these objects must not be moved ("everything except X" keeps X).\n'
    "Name every object the instruction means, one fact each; use only the names listed, "
    "exactly as written."
)
"""The goal language as models are told it (robo_os.symbolic.goal; `then` is the
model-facing form of later groups, robo_os.brain.planning.goals)."""


def _mentioned(instruction: str, names: Sequence[str]) -> set[str]:
    words = set(re.findall(r"[a-z0-9_]+", instruction.lower().replace(" ", "_")))
    text = " " + re.sub(r"[^a-z0-9]+", " ", instruction.lower()) + " "
    return {n for n in names if n.lower() in words or f" {n.lower().replace('_', ' ')} " in text}


def world_summary(cat: Catalogue, *, max_chars: int = 4000, focus: str = "") -> str:
    """Places with what is on them, objects with where they are; bounded to `max_chars`,
    entities named in `focus` (the instruction) first."""
    mentioned = _mentioned(focus, cat.all_names) if focus else set()
    on: dict[str, list[str]] = {}
    for o in cat.objects.values():
        if o.on:
            on.setdefault(o.on, []).append(o.name)
    lines: list[str] = []
    places = sorted(cat.places.values(), key=lambda p: (p.name not in mentioned, p.name))
    for p in places:
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(p.attrs.items()))
        contents = ", ".join(on.get(p.name, [])) or "nothing"
        lines.append(f"- place {p.name} ({p.kind}{'; ' + attrs if attrs else ''}): {contents}")
    objects = sorted(cat.objects.values(), key=lambda o: (o.name not in mentioned, o.name))
    for o in objects:
        where = (
            f"held by {o.held_by}" if o.held_by else f"on {o.on}" if o.on else "location unknown"
        )
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(o.attrs.items()))
        lines.append(f"- object {o.name} ({o.type}{'; ' + attrs if attrs else ''}): {where}")
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > max_chars:
            out.append(
                f"- ... {len(lines) - i} more entries not shown (every name in the lists above and below is valid)"
            )
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _robot_line(cat: Catalogue, rid: str) -> str:
    r = cat.robots[rid]
    where = cat.place_of(rid) or "unknown place"
    reach = f"; reaches {', '.join(r.reach)} without moving" if r.reach else ""
    skills = ", ".join(sorted(cat.offered.get(rid, {}))) or "none"
    holds = r.holding or "nothing"
    return (
        f"- {rid} ({r.embodiment}; capabilities: {', '.join(r.capabilities) or 'none'}; {r.status}; "
        f"at {where}{reach}; holds {holds}). Skills: {skills}."
    )


def _skill_lines(cat: Catalogue) -> list[str]:
    lines = []
    for name, model in cat.skills.items():
        if not cat.robots_for(name):
            continue
        spec = model.spec
        props = spec.args_schema.get("properties") or {}
        required = set(spec.args_schema.get("required") or [])
        entity = cat.entity_params(name)
        params = []
        for p in props:
            kind = (
                "/".join(entity[p]) if p in entity else str((props[p] or {}).get("type", "value"))
            )
            params.append(f"{p}: {kind}{'' if p in required else ' (optional)'}")
        line = f"- {name}({', '.join(params)})"
        if spec.description:
            line += f": {spec.description.strip().splitlines()[0]}"
        line += f" Robots: {', '.join(cat.robots_for(name))}."
        if spec.preconditions:
            line += f" Needs before: {'; '.join(spec.preconditions)}."
        if spec.effects:
            line += f" Changes: {'; '.join(spec.effects)}."
        lines.append(line)
    return lines


def system_prompt(
    cat: Catalogue,
    *,
    tool_calling: bool,
    instruction: str = "",
    world_chars: int = 4000,
    mode: str = "plan",
) -> str:
    """The system prompt: `plan` mode asks for the goal and the plan, `goal` mode only
    for the goal (and leaves out the skills, which the embedded planner uses)."""
    robots = (
        "\n".join(_robot_line(cat, r) for r in cat.available_robots) or "- (no robot is available)"
    )
    unavailable = [r for r in cat.robots if not cat.available(r)]
    if unavailable:
        robots += f"\n(Not available now, do not use: {', '.join(unavailable)}.)"
    names = (
        f"Place names: {', '.join(cat.places) or 'none'}\n"
        f"Object names: {', '.join(cat.objects) or 'none'}\n"
        f"Robot names: {', '.join(cat.robots) or 'none'}"
    )
    world = f"WORLD NOW\n{world_summary(cat, max_chars=world_chars, focus=instruction)}\n{names}"
    if mode == "goal":
        if tool_calling:
            output = (
                f"OUTPUT\nCall the {SUBMIT_GOAL} tool exactly once with the goal. "
                'If the instruction cannot be done, call it with {"facts": [], "error": "<why>"}.'
            )
        else:
            output = (
                "OUTPUT\nReply with ONLY one JSON object and nothing else (no prose, no markdown fences):\n"
                '{"facts": [[<predicate>, <name>, <name>], ...]} with "then", "use", "avoid", "keep" only when needed.\n'
                'If the instruction cannot be done, reply {"facts": [], "error": "<why>"}.'
            )
        return "\n\n".join(
            [
                "You translate the user's instruction for a fleet of robots into a goal: what must be "
                "true when the work is done. A planner then finds the robots' steps; do not plan them.",
                f"ROBOTS\n{robots}",
                world,
                GOAL_LANGUAGE,
                output,
            ]
        )
    if tool_calling:
        output = (
            f"OUTPUT\nCall the {SUBMIT_PLAN} tool exactly once with the goal and the whole plan. "
            'If the instruction cannot be done, call it with {"subtasks": [], "error": "<why>"}.'
        )
    else:
        output = (
            "OUTPUT\nReply with ONLY one JSON object and nothing else (no prose, no markdown fences):\n"
            '{"goal": {"facts": [[<predicate>, <name>, <name>], ...]}, '
            '"subtasks": [{"id": "s1", "robot": <robot name>, "skill": <skill name>, "args": {<argument>: <value>}, '
            '"depends_on": [<ids of subtasks that must finish first>]}, ...]}\n'
            'If the instruction cannot be done, reply {"subtasks": [], "error": "<why>"}.'
        )
    return "\n\n".join(
        [
            "You are the task planner of a fleet of robots. Turn the user's instruction into a plan: "
            "subtasks, each one skill call by one robot, ordered by dependencies.",
            f"ROBOTS\n{robots}",
            f"SKILLS (symbolic terms: {cat.vocabulary.prompt_terms()}; "
            "'robot' means the robot running the skill, ?x any value)\n"
            + "\n".join(_skill_lines(cat)),
            world,
            "RULES\n"
            "- ids are unique strings: s1, s2, ...; depends_on lists ids of subtasks that must finish before this one; "
            "never the subtask's own id; no cycles.\n"
            "- Subtasks with no dependency path between them may run at the same time on different robots; each robot "
            "runs one subtask at a time. Order subtasks that use the same object, robot or place.\n"
            "- Give each robot only skills it has; use only the names listed above, exactly as written.\n"
            "- What a skill needs before must hold when it starts (a mobile robot must navigate_to a place before it "
            "picks or places there; a fixed arm cannot move; a gripper holds one object).\n"
            "- Leave no object in a gripper at the end; do only what the instruction asks.\n"
            "- The goal says what the plan achieves; the plan is checked against it.",
            GOAL_LANGUAGE,
            output,
        ]
    )


def image_parts(images: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """Camera images as chat content parts: a caption and a PNG data URL per robot."""
    parts: list[dict[str, Any]] = []
    for robot, png in sorted(images.items()):
        parts.append({"type": "text", "text": f"Camera image from {robot}:"})
        url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def planning_messages(
    cat: Catalogue,
    instruction: str,
    *,
    tool_calling: bool,
    images: Mapping[str, bytes] | None = None,
    world_chars: int = 4000,
    mode: str = "plan",
) -> list[dict[str, Any]]:
    """The first turn: system prompt and the instruction, with camera images as
    `image_url` parts (PNG data URLs) when given."""
    system = system_prompt(
        cat, tool_calling=tool_calling, instruction=instruction, world_chars=world_chars, mode=mode
    )
    text = f"Instruction: {instruction}"
    if not images:
        return [{"role": "system", "content": system}, {"role": "user", "content": text}]
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}, *image_parts(images)]
    return [{"role": "system", "content": system}, {"role": "user", "content": parts}]


def _problem_list(problems: Sequence[PlanProblem], notes: Sequence[str], what: str) -> str:
    lines = [f"{i}. [{p.code}] {p.message}" for i, p in enumerate(problems, 1)]
    text = f"Your {what} was rejected. Problems:\n" + "\n".join(lines)
    if notes:
        text += "\nAlso noted: " + "; ".join(notes)
    whole = (
        "the goal" if what == "goal" else "the goal and the plan (not only the changed subtasks)"
    )
    return text + f"\nSubmit the whole corrected answer for the same instruction: {whole}."


def repair_messages(
    previous: ChatReply,
    problems: Sequence[PlanProblem],
    notes: Sequence[str] = (),
    *,
    what: str = "plan",
) -> list[dict[str, Any]]:
    """The turns that send a rejected answer back with its numbered problems: as the
    tool's result when the model called the tool (the assistant turn with its tool call,
    content "" rather than null, then one `tool` message answering that call id, as
    llama.cpp's, vLLM's and SGLang's servers validate), else as a user message."""
    feedback = _problem_list(problems, notes, what)
    if previous.tool_name is not None:
        call_id = previous.tool_call_id or "call_0"
        args = previous.tool_arguments or ""
        return [
            {
                "role": "assistant",
                "content": previous.text or "",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": previous.tool_name, "arguments": args[:_MAX_ECHO]},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": feedback},
        ]
    answer = previous.text or ""
    if len(answer) > _MAX_ECHO:
        answer = answer[:_MAX_ECHO] + f"\n[... {len(answer) - _MAX_ECHO} more characters cut]"
    return [{"role": "assistant", "content": answer}, {"role": "user", "content": feedback}]


def replan_text(
    instruction: str | None,
    history: Sequence[SubtaskState],
    failure: str,
    avoid: Sequence[FailedCall] = (),
) -> str:
    """The user turn of a replanning request: the instruction, what already ran (with
    results), why the old plan cannot go on, the calls not to repeat. The world in the
    system prompt is current."""
    lines = []
    for st in history:
        args = json.dumps(st.args, separators=(",", ":"))
        outcome = str(st.status)
        if st.result is not None:
            err = f" ({st.result.error})" if st.result.error else ""
            outcome += f"{err}: {st.result.message}" if st.result.message else err
        lines.append(f"- {st.id}: {st.robot} {st.skill} {args} -> {outcome}")
    used = ", ".join(st.id for st in history) or "none"
    return (
        f"Instruction: {instruction or '(none given; finish the work described by the subtasks below)'}\n\n"
        "The task was running and needs a new plan. What already ran:\n"
        + ("\n".join(lines) or "- nothing")
        + f"\n\nWhy the old plan cannot go on: {failure}\n\n"
        "The WORLD NOW section is the current state (after what ran). Plan only the remaining work. "
        f"Use new subtask ids, not {used}; depends_on may only name subtasks of the new plan."
        + avoid_text(avoid)
    )


def avoid_text(avoid: Sequence[FailedCall]) -> str:
    """The "do not repeat" part of a replanning request ("" when there is none)."""
    if not avoid:
        return ""
    lines = "\n".join(f"- {f.describe()}" for f in avoid)
    return (
        "\n\nDo not repeat these calls (same robot, skill and arguments); they failed in this"
        " task and would fail again. Use another robot, another way, or declare the task"
        f" infeasible:\n{lines}"
    )
