"""`robo-os skills new`: the generated plug-in passes the conformance checker and its own
tests as generated, and declares its entry point the way robo-os discovers skills."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robo_os.errors import UserError
from robo_os.skill import check_skill
from robo_os.skill.cli import skills_app
from robo_os.skill.scaffold import new_plugin


def test_the_generated_plugin_checks_and_passes_its_own_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = CliRunner().invoke(
        skills_app, ["new", "robo-os-greeter", "--dir", str(tmp_path), "--skill", "greet_at"]
    )
    assert out.exit_code == 0, out.output
    root = tmp_path / "robo-os-greeter"
    project = tomllib.loads((root / "pyproject.toml").read_text())
    target = project["project"]["entry-points"]["robo_os.skills"]["robo_os_greeter"]
    assert target == "robo_os_greeter:SKILLS"
    monkeypatch.syspath_prepend(str(root))
    skills = pkgutil.resolve_name(target)
    assert [s.__name__ for s in skills] == ["greet_at"]
    assert check_skill(skills[0]) == []

    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a package name"):
        new_plugin("Robo OS!", tmp_path)
    with pytest.raises(UserError, match="cannot be a skill name"):
        new_plugin("robo-os-x", tmp_path, skill="class")
    new_plugin("robo-os-once", tmp_path)
    with pytest.raises(UserError, match="already exists"):
        new_plugin("robo-os-once", tmp_path)
