"""Robot-side LLM mode (RoboOS's): the robot's own OpenAI-compatible model turns a
natural-language subtask into calls of the robot's skills, in a bounded tool-calling loop.

Off by default (`AgentSettings.llm_subtasks`): the brain's plan names skills directly,
which costs no model call on the robot. When on, the agent offers one more skill,
`instruct(instruction)`, and runs it here: each model turn may call skills (offered as
tools with their argument schemas) and ends with `finish(success, message)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from openai import APIError, AsyncOpenAI

from ..contracts import ErrorCode, SkillResult
from ..errors import ConfigError
from ..settings import LLMSettings
from ..skill.context import CancelToken
from ..skill.spec import SkillSpec

__all__ = ["FINISH", "RobotLLM"]

log = logging.getLogger(__name__)

FINISH = "finish"

_SYSTEM = """You control the robot {robot}. Carry out the user's instruction by calling the \
robot's skills (the tools), one call per step, and look at each result before the next. \
When the instruction is done, or cannot be done, call `finish` with success true or false \
and a short message. Do not invent objects or places: use the names the instruction gives."""

Execute = Callable[[str, dict[str, Any]], Awaitable[SkillResult]]


def _finish_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": FINISH,
            "description": "End the instruction: whether it was carried out, and a short message.",
            "parameters": {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "message": {"type": "string"},
                    "error": {
                        "type": "string",
                        "enum": [c.value for c in ErrorCode],
                        "description": "Why it failed (when success is false).",
                    },
                },
                "required": ["success", "message"],
            },
        },
    }


def _tool(spec: SkillSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.args_schema,
        },
    }


class RobotLLM:
    """One robot's model client and its bounded instruct loop."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        max_steps: int = 8,
        timeout_s: float = 300.0,
        client: AsyncOpenAI | None = None,
    ) -> None:
        if client is None and not settings.base_url:
            raise ConfigError(
                "the robot-side LLM mode needs an LLM endpoint"
                " (ROBO_OS_AGENT_LLM__BASE_URL or ROBO_OS_LLM__BASE_URL)"
            )
        if not settings.model:
            raise ConfigError("the robot-side LLM mode needs a model name")
        self.settings = settings
        self.model = settings.model
        self.max_steps = max_steps
        self.timeout_s = timeout_s
        """Default deadline of one `instruct` call."""
        self.client = client or AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "not-needed",
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )

    def instruct_spec(self) -> SkillSpec:
        return SkillSpec(
            name="instruct",
            description=(
                "Carry out a short instruction in natural language with this robot's own"
                " skills (its own model chooses the calls)."
            ),
            capabilities=(),
            args_schema={
                "type": "object",
                "properties": {
                    "instruction": {"type": "string", "description": "What the robot should do."}
                },
                "required": ["instruction"],
                "additionalProperties": False,
            },
            timeout_s=self.timeout_s,
            source="robot-llm",
        )

    async def close(self) -> None:
        await self.client.close()

    async def run(
        self,
        robot: str,
        instruction: str,
        specs: Sequence[SkillSpec],
        execute: Execute,
        *,
        deadline: float,
        cancel: CancelToken,
        hint: str | None = None,
    ) -> SkillResult:
        """Run the loop: at most `max_steps` model calls; each skill call goes through
        `execute(name, args)` (the agent's validation, deadline and cancel apply)."""
        started = time.time()
        tools = [_tool(s) for s in specs] + [_finish_tool()]
        user = (
            instruction
            if not hint
            else f"{instruction}\n(The planner suggested the skill `{hint}`.)"
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": _SYSTEM.format(robot=robot)},
            {"role": "user", "content": user},
        ]
        steps: list[dict[str, Any]] = []
        last: SkillResult | None = None

        def done(result: SkillResult, calls: int) -> SkillResult:
            data = {**result.data, "steps": steps, "model_calls": calls}
            return result.model_copy(
                update={"data": data, "started_at": started, "finished_at": time.time()}
            )

        for turn in range(1, self.max_steps + 1):
            if cancel.cancelled:
                return done(
                    SkillResult.failure(ErrorCode.cancelled, cancel.reason or "cancelled"), turn - 1
                )
            try:
                message = await self._complete(messages, tools, deadline, cancel)
            except TimeoutError:
                return done(
                    SkillResult.failure(
                        ErrorCode.timeout,
                        f"the robot's model did not answer before the deadline (turn {turn})",
                    ),
                    turn,
                )
            except APIError as e:
                return done(
                    SkillResult.failure(
                        ErrorCode.internal, f"the robot's model failed: {type(e).__name__}: {e}"
                    ),
                    turn,
                )
            if message is None:
                return done(
                    SkillResult.failure(ErrorCode.cancelled, cancel.reason or "cancelled"), turn
                )
            calls = message.tool_calls or []
            if not calls:
                text = (message.content or "").strip()
                if last is not None and not last.ok:
                    return done(
                        last.model_copy(update={"message": f"{last.message}; model: {text}"}), turn
                    )
                return done(SkillResult.success(text or "done"), turn)
            sent = message.model_dump(exclude_none=True)
            # servers that validate the chat (llama.cpp's) require the key, as a string
            sent.setdefault("content", "")
            messages.append(sent)
            for tc in calls:
                name = tc.function.name
                try:
                    args = json.loads(tc.function.arguments or "{}")
                    if not isinstance(args, dict):
                        raise ValueError("arguments must be a JSON object")
                except ValueError as e:
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": tc.id,
                            "content": f"invalid arguments: {e}",
                        }
                    )
                    continue
                if name == FINISH:
                    msg = str(args.get("message", ""))
                    if args.get("success"):
                        return done(SkillResult.success(msg), turn)
                    error = str(args.get("error"))
                    code = (
                        ErrorCode(error)
                        if error in ErrorCode.__members__
                        else ErrorCode.precondition_failed
                    )
                    return done(
                        SkillResult.failure(code, msg or "the robot's model gave up"),
                        turn,
                    )
                result = await execute(name, args)
                steps.append(
                    {
                        "skill": name,
                        "args": args,
                        "status": result.status,
                        "error": result.error,
                        "message": result.message,
                    }
                )
                last = result
                content = result.model_dump_json(include={"status", "error", "message", "data"})
                messages.append({"role": "tool", "tool_call_id": tc.id, "content": content})
                if result.error == ErrorCode.cancelled or cancel.cancelled:
                    return done(
                        SkillResult.failure(ErrorCode.cancelled, cancel.reason or result.message),
                        turn,
                    )
                if result.error == ErrorCode.timeout and time.monotonic() >= deadline:
                    return done(result, turn)
        return done(
            SkillResult.failure(
                ErrorCode.timeout, f"no `finish` after {self.max_steps} model calls"
            ),
            self.max_steps,
        )

    async def _complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        deadline: float,
        cancel: CancelToken,
    ) -> Any | None:
        """The model's message; None when cancelled first; TimeoutError past the deadline."""
        request = asyncio.ensure_future(
            self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
                temperature=self.settings.temperature,
                max_tokens=self.settings.max_tokens,
            )
        )
        stop = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait(
                {request, stop},
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stop.cancel()
        if not request.done():
            request.cancel()
            if cancel.cancelled:
                return None
            raise TimeoutError
        return request.result().choices[0].message
