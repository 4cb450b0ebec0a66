"""ScriptedModelServer's strict mode over real HTTP with the real `openai` client: a
request llama.cpp's server would refuse gets its HTTP 500 "validation errors"; a
well-formed one gets the scripted reply, which strict mode does not use up on refusals."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from robo_os.testing import Reply, ScriptedModelServer


async def test_strict_mode_refuses_over_http_and_keeps_the_script(
    openai_server_factory: Callable[..., ScriptedModelServer],
) -> None:
    server = openai_server_factory(strict=True)
    server.script(Reply.text("fine"))
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    try:
        with pytest.raises(openai.InternalServerError) as refused:
            await client.chat.completions.create(
                model="fake-model",
                messages=[
                    {"role": "user", "content": "plan"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "submit_plan", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "user", "content": "Your plan was rejected."},
                ],
            )
        assert refused.value.status_code == 500
        assert "2 validation errors for CreateChatCompletionRequest" in str(refused.value)
        assert server.pending == 1  # the refusal did not use up the scripted reply
        ok = await client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "plan"}],
        )
    finally:
        await client.close()
    assert ok.choices[0].message.content == "fine"
    [errors] = server.rejected
    assert errors[0] == "messages.1.content: Input should be a valid string"
    assert "have no tool result message" in errors[1]


async def test_lenient_mode_accepts_what_strict_mode_refuses(
    openai_server_factory: Callable[..., ScriptedModelServer],
) -> None:
    server = openai_server_factory(default=Reply.text("ok"))
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    try:
        out = await client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "x"}, {"role": "system", "content": "late"}],
        )
    finally:
        await client.close()
    assert out.choices[0].message.content == "ok" and server.rejected == []
