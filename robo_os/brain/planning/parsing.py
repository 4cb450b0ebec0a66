"""Getting a plan-shaped JSON value out of whatever a model answered. Never raises.

Handles: strict JSON; JSON with text around it; fenced code blocks; several JSON values
(the plan-shaped one is used and a note says so); a top-level list of subtasks;
answers cut at the token limit; copied format placeholders (`"id": str`, `{...}`,
`<short reason>`); repetition loops; echoes of the prompt; answers with no JSON at all.
Whatever cannot be used becomes `PlanProblem`s that name what is wrong, so a model can
repair it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...contracts import PlanProblem

__all__ = ["ParsedAnswer", "is_placeholder", "parse_answer"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_PLACEHOLDERS = re.compile(
    r"""(:\s*str\b|\[\s*str\s*\]|\{\s*\.\.\.\s*\}|<short reason>|"<[a-z _-]+>")"""
)
_SUBTASK_KEYS = {"id", "robot", "skill", "args", "depends_on"}
_SCHEMA_KEYS = {"type", "properties", "required", "additionalProperties", "enum", "items"}
_MAX_SCAN = 200_000
"""Longest answer scanned for JSON values (longer answers are cut, with a note)."""


@dataclass(frozen=True)
class ParsedAnswer:
    """The plan-shaped value found in an answer (None if there is none), the problems
    that made the answer unusable, and notes on what was tolerated."""

    data: dict[str, Any] | None
    problems: list[PlanProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.problems


def is_placeholder(value: object) -> bool:
    """A value copied from the prompt's format description instead of filled in."""
    return isinstance(value, str) and bool(
        re.fullmatch(r"\s*(<[^<>]*>|str|\.\.\.|\{\.\.\.\})\s*", value)
    )


def _problem(code: str, message: str) -> PlanProblem:
    return PlanProblem(code=code, message=message)


def _excerpt(text: str, n: int = 80) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _value_end(text: str, start: int) -> int | None:
    """Where the bracketed value opening at `start` closes (string-aware, bracket kinds
    not matched), or None if it never closes."""
    depth = 0
    in_str = esc = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _json_values(text: str) -> tuple[list[tuple[int, Any]], json.JSONDecodeError | None, bool]:
    """The top-level JSON objects and arrays in a text, with their offsets; the error of
    the first one that did not decode; and whether the text ends inside an unclosed one.

    A value that does not decode is skipped whole: its fragments are not answers."""
    decoder = json.JSONDecoder()
    values: list[tuple[int, Any]] = []
    first_error: json.JSONDecodeError | None = None
    i, n = 0, len(text)
    while i < n:
        if text[i] not in "{[":
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            end_or_none = _value_end(text, i)
            if end_or_none is None:
                if text[i] == "{":
                    return values, first_error or e, True
                i += 1  # a stray "[" in prose
                continue
            if first_error is None and text[i] == "{":
                first_error = e
            i = end_or_none
            continue
        if isinstance(value, (dict, list)) and value:
            values.append((i, value))
        i = end
    return values, first_error, False


@lru_cache(maxsize=16)
def _prompt_values(prompt: str) -> list[Any]:
    return [v for _, v in _json_values(prompt)[0]]


_KEYS = {"plan": ("subtasks",), "goal": ("facts", "groups", "goal")}
"""The keys that make a JSON value the answer, per kind of answer asked for."""
_SHAPE = {"plan": '{"subtasks": [...]}', "goal": '{"facts": [...]}'}


def _plan_shaped(value: Any, expect: str = "plan") -> bool:
    return isinstance(value, dict) and (
        any(k in value for k in _KEYS[expect])
        or ("error" in value and isinstance(value.get("error"), str))
    )


def _subtask_shaped(value: Any) -> bool:
    return isinstance(value, dict) and len(_SUBTASK_KEYS & set(value)) >= 2 and "skill" in value


def _repetition(text: str) -> str | None:
    """The line or phrase a degenerate answer repeats over and over, if any."""
    text = text[:20_000]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 8:
        counts: dict[str, int] = {}
        for ln in lines:
            counts[ln] = counts.get(ln, 0) + 1
        line, count = max(counts.items(), key=lambda kv: kv[1])
        if count >= 6 and count * 3 >= len(lines):
            return line
    m = re.search(r"(.{8,80}?)\1{5,}", text, re.DOTALL)
    return m.group(1).strip() if m else None


def _describe_keys(value: dict[str, Any]) -> str:
    return ", ".join(repr(k) for k in sorted(value)[:8])


def _what(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with keys {_describe_keys(value)}"
    return f"a {type(value).__name__}"


def parse_answer(
    text: str | None,
    *,
    finish_reason: str | None = None,
    prompt: str | None = None,
    expect: str = "plan",
) -> ParsedAnswer:
    """Find the plan in a model's answer (its text, or a tool call's arguments).

    finish_reason: the completion's finish reason (`length` means cut at max_tokens).
    prompt: the system prompt the model was given, to recognise an echo of it (and of
    its example plan, which must never be taken for the answer).
    expect: `plan` (a value with `subtasks`) or `goal` (a value with `facts`, `groups`
    or `goal`: goal mode's answer)."""
    shape = _SHAPE[expect]
    notes: list[str] = []
    if text is None or not text.strip():
        reason = " (cut at the token limit before any output)" if finish_reason == "length" else ""
        return ParsedAnswer(
            None,
            [
                _problem(
                    "invalid_json",
                    f"the answer is empty{reason}; reply with one JSON object {shape}",
                )
            ],
        )
    raw = text
    if len(text) > _MAX_SCAN:
        notes.append(
            f"the answer is {len(text)} characters long; only the first {_MAX_SCAN} were read"
        )
        text = text[:_MAX_SCAN]
    stripped = text.strip()

    candidates: list[tuple[int, Any]] = []
    try:
        whole = json.loads(stripped)
        candidates = [(0, whole)]
    except json.JSONDecodeError:
        fenced = [(m.start(2), m.group(2)) for m in _FENCE.finditer(text) if m.group(2).strip()]
        for offset, body in fenced:
            try:
                candidates.append((offset, json.loads(body.strip())))
            except json.JSONDecodeError:
                values, _, _ = _json_values(body)
                candidates.extend((offset + o, v) for o, v in values)
        if candidates:
            notes.append(
                f"read the JSON from {'a fenced code block' if len(fenced) == 1 else f'{len(fenced)} fenced code blocks'}"
            )
    first_error: json.JSONDecodeError | None = None
    unclosed = False
    if not candidates:
        candidates, first_error, unclosed = _json_values(text)
        if candidates:
            start = candidates[0][0]
            if start > 0 or len(candidates) > 1 or stripped[-1:] not in "}]":
                notes.append(
                    f"ignored the text around the JSON (the JSON starts at character {start})"
                )

    # a top-level list of subtasks is a plan without its wrapper
    for i, (offset, value) in enumerate(candidates):
        if isinstance(value, list) and value and all(_subtask_shaped(v) for v in value):
            candidates[i] = (offset, {"subtasks": value})
            notes.append('the answer was a bare list of subtasks; read it as {"subtasks": [...]}')
        elif (
            expect == "goal"
            and isinstance(value, list)
            and value
            and all(isinstance(v, (list, str)) for v in value)
        ):
            candidates[i] = (offset, {"facts": value})
            notes.append('the answer was a bare list of facts; read it as {"facts": [...]}')
    echoed = prompt is not None and prompt[:60] in raw
    if prompt:
        examples = _prompt_values(prompt)
        copies = [(o, v) for o, v in candidates if v in examples]
        if copies:
            notes.append(f"ignored {len(copies)} JSON value(s) copied from the prompt's example")
            candidates = [(o, v) for o, v in candidates if v not in examples]
    plans = [(o, v) for o, v in candidates if _plan_shaped(v, expect)]
    if plans:
        offset, chosen = plans[0]
        if len(candidates) > 1:
            others = len(candidates) - 1
            notes.append(
                f"the answer holds {len(candidates)} JSON values; used the {expect}-shaped one at character {offset} "
                f"and ignored {others} other{'s' if others > 1 else ''}"
            )
        if echoed:
            notes.append("the answer repeats the system prompt before the plan")
        return ParsedAnswer(chosen, [], notes)

    problems: list[PlanProblem] = []
    truncated = finish_reason == "length" or unclosed
    if _PLACEHOLDERS.search(text):
        m = _PLACEHOLDERS.search(text)
        assert m is not None
        problems.append(
            _problem(
                "copied_placeholder",
                f"the answer copies a placeholder from the format description ({m.group(0).strip(': ')!r}) instead of real values",
            )
        )
    if echoed:
        problems.append(
            _problem(
                "prompt_echo",
                "the answer repeats the system prompt (and its example) instead of answering it",
            )
        )
    rep = _repetition(text)
    if rep:
        problems.append(
            _problem(
                "repetition",
                f"the answer repeats the same text over and over ({_excerpt(rep, 60)!r})",
            )
        )

    if candidates:
        shaped = [v for _, v in candidates if _subtask_shaped(v)]
        schema_like = [
            v
            for _, v in candidates
            if isinstance(v, dict) and set(v) <= _SCHEMA_KEYS | {"title", "description", "$defs"}
        ]
        if expect == "goal":
            msg = f"the answer has no 'facts' key: it is {_what(candidates[0][1])}; reply {shape}"
        elif shaped and len(shaped) > 1:
            msg = f'the answer holds {len(shaped)} separate subtask objects; put them in one object: {{"subtasks": [...]}}'
        elif shaped:
            msg = f'the answer is a single subtask object (keys {_describe_keys(shaped[0])}), not a plan; wrap the subtasks: {{"subtasks": [...]}}'
        elif schema_like:
            msg = f"the answer is a JSON schema (keys {_describe_keys(schema_like[0])}) copied from the prompt, not a plan"
        else:
            msg = f"the answer has no 'subtasks' key: it is {_what(candidates[0][1])}"
        if truncated:
            msg += "; the answer was also truncated at the token limit"
        problems.insert(0, _problem("missing_subtasks", msg))
        return ParsedAnswer(None, problems, notes)

    if truncated:
        why = (
            f"the answer was truncated at the token limit after {len(text)} characters, before the JSON was complete"
            if finish_reason == "length"
            else "the answer ends inside an unclosed JSON object (truncated)"
        )
        problems.insert(
            0,
            _problem(
                "invalid_json",
                f"{why}; give a shorter plan with only the subtasks the instruction needs",
            ),
        )
    elif first_error is not None:
        ctx = text[max(0, first_error.pos - 30) : first_error.pos + 30]
        problems.insert(
            0,
            _problem(
                "invalid_json",
                f"the answer is not valid JSON: {first_error.msg} at character {first_error.pos} (near {_excerpt(ctx, 60)!r})",
            ),
        )
    else:
        problems.insert(
            0,
            _problem(
                "invalid_json",
                f"the answer contains no JSON object (it starts {_excerpt(text, 60)!r}); reply with one JSON object {shape}",
            ),
        )
    return ParsedAnswer(None, problems, notes)
