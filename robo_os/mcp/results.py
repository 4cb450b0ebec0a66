"""Converting between MCP tool results and robo-os skill results, both ways.

A robo-os MCP server marks its tools with `SKILL_META_KEY` in the tool's `_meta` (the
rest of the SkillSpec: capabilities, conditions, timeout) and returns the SkillResult
itself as structured content, so a robo-os client gets back exactly what the skill
returned. Any other server's result is read by MCP's own rules: `isError`, text and
structured content.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from pydantic import JsonValue, TypeAdapter, ValidationError

from ..contracts import ErrorCode, SkillResult
from ..skill.spec import SkillSpec

__all__ = [
    "ERROR_CODE_KEYS",
    "SKILL_META_KEY",
    "skill_meta",
    "skill_result_from_tool",
    "tool_result_from_skill",
]

SKILL_META_KEY = "robo-os/skill"
"""`_meta` key on a Tool served by robo-os: the SkillSpec fields MCP has no words for."""

ERROR_CODE_KEYS = ("error", "error_code", "code")
"""Keys of a failed tool's structured content read as a robo-os ErrorCode (first valid wins)."""

_SPEC_META_FIELDS = (
    "capabilities",
    "timeout_s",
    "preconditions",
    "effects",
    "concurrent",
    "source",
)
_json_dict: TypeAdapter[dict[str, JsonValue]] = TypeAdapter(dict[str, JsonValue])


def skill_meta(spec: SkillSpec) -> dict[str, Any]:
    """The `_meta` entry a robo-os server puts on a skill's tool."""
    return {SKILL_META_KEY: spec.model_dump(mode="json", include=set(_SPEC_META_FIELDS))}


def tool_result_from_skill(result: SkillResult) -> types.CallToolResult:
    """A skill's result as an MCP tool result: the SkillResult JSON as structured content
    (and as text, for clients that read only text); `isError` when it failed."""
    payload = result.model_dump(mode="json")
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(payload, separators=(",", ":")))],
        structured_content=payload,
        is_error=not result.ok,
    )


def _text_of(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent)).strip()


def _attachments(result: types.CallToolResult) -> list[JsonValue]:
    # Images and audio are base64 payloads that would bloat task records and memory;
    # keep what they are so a caller knows they existed.
    out: list[JsonValue] = []
    for block in result.content:
        if isinstance(block, types.ImageContent | types.AudioContent):
            out.append(
                {"type": block.type, "mime_type": block.mime_type, "bytes_b64": len(block.data)}
            )
        elif not isinstance(block, types.TextContent):
            out.append({"type": block.type})
    return out


def _error_code(structured: Any) -> ErrorCode:
    if isinstance(structured, dict):
        for key in ERROR_CODE_KEYS:
            value = structured.get(key)
            if isinstance(value, str) and value in ErrorCode.__members__:
                return ErrorCode(value)
    return ErrorCode.internal


def _as_data(structured: Any) -> dict[str, JsonValue]:
    if structured is None:
        return {}
    data = structured if isinstance(structured, dict) else {"result": structured}
    try:
        return _json_dict.validate_python(data)
    except ValidationError:
        # not JSON-like after all (cannot happen over the wire, only in-process); keep its text
        return {"result": json.dumps(data, default=str)}


def skill_result_from_tool(
    result: types.CallToolResult, *, tool: str, server: str, robo_os: bool = False
) -> SkillResult:
    """Read an MCP tool result as a SkillResult.

    robo_os: the tool is served by robo-os (its `_meta` carries `SKILL_META_KEY`), so its
    structured content is a SkillResult and is returned as it is. Otherwise: ok unless
    `isError`; the text becomes the message, the structured content the data (a non-object
    value under `result`); a failure's code is read from the structured content's
    `error`/`error_code`/`code` when it names an ErrorCode, else `internal`.
    """
    structured = result.structured_content
    if robo_os and isinstance(structured, dict):
        try:
            parsed = SkillResult.model_validate(structured)
        except ValidationError:
            pass  # not what a robo-os server sends; read it like any other tool's result
        else:
            if result.is_error and parsed.ok:
                return SkillResult.failure(
                    ErrorCode.internal,
                    f"MCP tool {tool} on {server} flagged an ok result as an error",
                )
            return parsed
    text = _text_of(result)
    data = _as_data(structured)
    attachments = _attachments(result)
    if attachments:
        data = {**data, "attachments": attachments}
    if not result.is_error:
        return SkillResult.success(text, data=data)
    message = text or f"MCP tool {tool} on {server} reported an error"
    return SkillResult.failure(_error_code(structured), message, data=data)
