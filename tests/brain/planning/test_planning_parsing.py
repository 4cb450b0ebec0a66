"""Parsing model answers: every shape of messy output gives a plan-shaped value or
named problems, never an exception."""

from __future__ import annotations

import json

import pytest

from robo_os.brain.planning.parsing import is_placeholder, parse_answer

PLAN = {
    "subtasks": [
        {
            "id": "s1",
            "robot": "mm1",
            "skill": "navigate_to",
            "args": {"target": "shelf"},
            "depends_on": [],
        }
    ]
}
PLAN_TEXT = json.dumps(PLAN)


def test_strict_json() -> None:
    got = parse_answer(PLAN_TEXT)
    assert got.ok and got.data == PLAN and got.notes == []


def test_text_around_json_is_ignored_with_a_note() -> None:
    got = parse_answer(
        f"Sure! Here is the plan:\n{PLAN_TEXT}\nLet me know if you need anything else."
    )
    assert got.data == PLAN
    assert any("text around the JSON" in n for n in got.notes)


@pytest.mark.parametrize(
    "fence", ["```json\n{}\n```", "```\n{}\n```", "Plan:\n```JSON {}```", "```json\n{}"]
)
def test_fenced_code_block(fence: str) -> None:
    got = parse_answer(fence.replace("{}", PLAN_TEXT))
    assert got.data == PLAN, got.problems
    assert any("fenced code block" in n for n in got.notes)


def test_fenced_block_with_prose_inside() -> None:
    got = parse_answer(f"```json\n// the plan\n{PLAN_TEXT}\n```")
    assert got.data == PLAN


def test_several_json_values_choose_the_plan_shaped_one_and_say_so() -> None:
    text = '{"thought": "first navigate"}\n' + PLAN_TEXT + '\n{"subtasks": []}'
    got = parse_answer(text)
    assert got.data == PLAN
    assert any("3 JSON values" in n and "plan-shaped" in n for n in got.notes)


def test_bare_list_of_subtasks_is_wrapped() -> None:
    got = parse_answer(json.dumps(PLAN["subtasks"]))
    assert got.data == PLAN
    assert any("bare list" in n for n in got.notes)


@pytest.mark.parametrize("finish", ["length", None])
def test_truncated_output(finish: str | None) -> None:
    cut = PLAN_TEXT[: len(PLAN_TEXT) // 2]
    got = parse_answer(cut, finish_reason=finish)
    assert got.data is None
    assert got.problems[0].code == "invalid_json"
    assert "truncated" in got.problems[0].message


def test_syntax_error_is_located() -> None:
    got = parse_answer('{"subtasks": [{"id": "s1",, "robot": "mm1"}]}')
    assert got.problems[0].code == "invalid_json"
    assert "character" in got.problems[0].message


def test_copied_placeholders_are_named() -> None:
    got = parse_answer(
        '{"subtasks":[{"id":str,"robot":str,"skill":str,"args":{...},"depends_on":[str]}]}'
    )
    codes = [p.code for p in got.problems]
    assert "invalid_json" in codes and "copied_placeholder" in codes


def test_repetition_loop() -> None:
    got = parse_answer(
        "I will now plan.\n" + "The robot moves the cup.\n" * 40, finish_reason="length"
    )
    codes = [p.code for p in got.problems]
    assert codes[0] == "invalid_json" and "repetition" in codes


def test_no_json_at_all() -> None:
    got = parse_answer("The dining table is a place where people eat.")
    assert got.problems[0].code == "invalid_json"
    assert "no JSON object" in got.problems[0].message


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_answer(text: str | None) -> None:
    got = parse_answer(text)
    assert got.problems[0].code == "invalid_json" and "empty" in got.problems[0].message


def test_missing_subtasks_key_single_subtask() -> None:
    got = parse_answer(json.dumps(PLAN["subtasks"][0]))
    assert got.problems[0].code == "missing_subtasks"
    assert "single subtask" in got.problems[0].message


def test_missing_subtasks_key_other_object() -> None:
    got = parse_answer('{"plan": "go to the shelf"}')
    assert got.problems[0].code == "missing_subtasks"
    assert "'plan'" in got.problems[0].message


def test_schema_echo() -> None:
    got = parse_answer(
        '{"type": "object", "properties": {"subtasks": {"type": "array"}}, "required": ["subtasks"]}'
    )
    assert got.problems[0].code == "missing_subtasks" and "JSON schema" in got.problems[0].message


def test_error_only_answer_is_plan_shaped() -> None:
    got = parse_answer('{"subtasks": [], "error": "there is no banana"}')
    assert got.ok and got.data == {"subtasks": [], "error": "there is no banana"}


def test_the_prompts_own_example_is_not_the_answer() -> None:
    prompt = "You plan.\nEXAMPLE\n" + PLAN_TEXT
    got = parse_answer(prompt + "\n" + '{"type": "object"}', prompt=prompt)
    assert got.data is None
    assert {p.code for p in got.problems} >= {"prompt_echo", "missing_subtasks"}


def test_huge_garbage_does_not_hang_or_crash() -> None:
    text = "{" * 50_000 + "[" * 50_000 + '"' * 1000 + "x" * 200_000
    got = parse_answer(text)
    assert got.data is None and got.problems


@pytest.mark.parametrize("value", ["<short reason>", "str", "...", "{...}"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)
    assert not is_placeholder("shelf")
