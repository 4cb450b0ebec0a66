"""`robo-os eval`: the example suite against a whole stack (real Redis, Ray, physics), the
report's figures, and the suite file's checks."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from robo_os.errors import ConfigError
from robo_os.evaluation import CaseResult, load_suite, report, run_suite, unmet_facts
from robo_os.settings import RaySettings, Settings

from .conftest import TOKEN, StackFactory

EXAMPLE = Path(__file__).parents[2] / "examples" / "eval" / "household.yaml"


async def test_the_example_suite_passes_on_the_demo_stack(make_stack: StackFactory) -> None:
    _, client = await make_stack()
    suite = load_suite(EXAMPLE)
    seen: list[tuple[int, int]] = []
    results = await run_suite(
        suite,
        url=str(client.base_url),
        token=TOKEN,
        on_progress=lambda d, t, _: seen.append((d, t)),
    )
    failed = [(r.case.name, r.kind, r.detail) for r in results if not r.ok]
    assert failed == []
    assert seen[0] == (0, len(suite.cases)) and seen[-1] == (len(suite.cases),) * 2
    # the world really changed: the facts were read from memory, and a wrong one is caught
    robots = (await client.get("/v1/robots")).json()["robots"]
    objects = (await client.get("/v1/memory/objects")).json()["objects"]
    assert unmet_facts([("on", "apple", "dining_table")], robots, objects) == []
    wrong = unmet_facts([("on", "apple", "shelf"), ("holding", "mm1", "book")], robots, objects)
    assert len(wrong) == 2 and "apple: on dining_table" in wrong[0]

    out = io.StringIO()
    report(suite, results, out)
    text = out.getvalue()
    assert f"success: {len(suite.cases)}/{len(suite.cases)} (100 %)" in text
    assert "failures by kind" not in text


async def test_a_case_whose_expectation_is_wrong_is_reported_by_kind(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    _, client = await make_stack()
    path = tmp_path / "suite.yaml"
    path.write_text(
        "cases:\n"
        "  - {name: says it fails, instruction: bring the cup to the dining table, expect: failed}\n"
        "  - {name: wrong fact, instruction: bring the book to the dining table,"
        " facts: ['on(book, shelf)']}\n"
        "  - {name: wrong error, instruction: bring the piano to the shelf, expect: failed,"
        " error: deadline}\n"
    )
    results = await run_suite(load_suite(path), url=str(client.base_url), token=TOKEN)
    assert [r.kind for r in results] == ["unexpected_success", "facts_not_met", "wrong_error"]
    out = io.StringIO()
    report(load_suite(path), results, out)
    assert "success: 0/3" in out.getvalue()
    assert "unexpected_success 1" in out.getvalue()


async def test_without_url_the_suite_starts_its_own_stack(
    ray_runtime: object, tmp_path: Path
) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: own stack\ncases:\n"
        "  - {name: refused, instruction: bring the piano to the shelf, expect: failed, error: infeasible}\n"
    )
    settings = Settings(
        ray=RaySettings(namespace=f"eval-{uuid.uuid4().hex[:8]}"), state_dir=tmp_path
    )
    results = await run_suite(load_suite(path), settings=settings)
    assert [(r.ok, r.status) for r in results] == [(True, "failed")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases: []", "non-empty list 'cases'"),
        ("cases: [{name: a}]", "exactly one of 'instruction' and 'goal'"),
        ("cases: [{instruction: x, goal: {facts: []}}]", "exactly one of"),
        ("cases: [{instruction: x, expect: maybe}]", "expect must be one of"),
        ("cases: [{instruction: x, facts: ['on(apple)']}]", "on takes 2 argument(s)"),
        ("cases: [{instruction: x, colour: red}]", "unknown key(s) colour"),
        ("fleet: nowhere.yaml\ncases: [{instruction: x}]", "does not exist"),
        ("cases: [{name: a, instruction: x}, {name: a, instruction: y}]", "unique: a"),
        ("timeout_s: -1\ncases: [{instruction: x}]", "timeout_s must be"),
    ],
)
def test_a_bad_suite_is_refused_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"suite\.yaml") as e:
        load_suite(path)
    assert message in str(e.value)


def test_report_counts_failures_by_kind() -> None:
    suite = load_suite(EXAMPLE)
    results = [
        CaseResult(suite.cases[0], True, "succeeded", 2.0, 1),
        CaseResult(suite.cases[1], False, "failed", 4.0, 2, "unexpected_failed:skill_failed", "x"),
        CaseResult(suite.cases[2], False, "failed", 1.0, 0, "timeout", "y"),
    ]
    out = io.StringIO()
    report(suite, results, out)
    text = out.getvalue()
    assert "success: 1/3 (33 %)" in text and "model calls: 3" in text
    assert "unexpected_failed 1" in text and "timeout 1" in text
