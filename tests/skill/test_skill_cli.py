"""`robo-os skills list|check` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from robo_os.skill import cli as skill_cli
from robo_os.skill import discover
from robo_os.skill.cli import skills_app


def test_list_shows_installed_skills() -> None:
    out = CliRunner().invoke(skills_app, ["list"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    line = next(line for line in out.output.splitlines() if " wave " in line)
    assert "manipulate" in line and "robo-os-example-plugin" in line and "times?" in line
    out = CliRunner().invoke(skills_app, ["list", "--json"])
    specs = {s["name"]: s for s in json.loads(out.output)}
    assert specs["count_objects"]["args_schema"]["required"] == ["target"]


def test_check_passes_for_installed_skills() -> None:
    out = CliRunner().invoke(skills_app, ["check"])
    assert out.exit_code == 0, out.output
    assert "pass" in out.output


def test_check_fails_with_each_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(skill_cli, "discover", lambda: discover(group="robo_os_test.broken_skills"))
    out = CliRunner().invoke(skills_app, ["check"])
    assert out.exit_code == 1
    fails = [line for line in out.output.splitlines() if line.startswith("FAIL")]
    # 3 broken entry points, 2 invalid skills, and both plug-ins offering `wave` (refused)
    assert len(fails) == 7
    assert any("no type hint" in line for line in fails)
