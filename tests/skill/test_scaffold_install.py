"""Proof that `robo-os skills new` makes an installable plug-in: scaffold it, add a skill
with a fact of its own, build and install it as generated (its pyproject, hatchling
backend) with `uv pip install --offline --no-deps --target` into a temporary folder
(offline: the build backend comes from uv's cache, nothing from an index), and have a
fresh `robo-os` process with that folder on its path discover it, list its fact and
pass `skills check`; then (slow) a real `robo-os up` with that folder on its path and
the plug-in's skills on mm1 plans "polish the dining table" with the embedded planner
and runs it in physics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from robo_os.skill.scaffold import Scaffold, new_plugin

from ..up_process import robo_os_up

POLISH = '''

from robo_os.skill import Fact

SHINY = Fact("shiny(place)", meaning="the place has been polished", verbs=("polish",))


@skill(
    capabilities={"manipulate"},
    facts=[SHINY],
    preconditions=["at(robot, place)"],
    effects=["shiny(place)"],
)
async def polish(ctx: SkillContext, place: PlaceName) -> SkillResult:
    """Polish the surface of a place the robot is at.

    Args:
        place: The place to polish.
    """
    ctx.check()
    return SkillResult.success(f"polished {place}")


SKILLS.append(polish)
'''


def _uv() -> str:
    """The installer the project sets up with (scripts/setup): next to this Python, or
    on PATH."""
    here = Path(sys.executable).with_name("uv")
    found = str(here) if here.is_file() else shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed: scripts/setup installs it")
    return found


def _robo_os(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "250"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("robo-os")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scaffold, Path]:
    """The scaffolded plug-in with `polish` added, installed into its own folder: the
    package as made and that folder (a `--target` site, for PYTHONPATH)."""
    tmp_path = tmp_path_factory.mktemp("polisher")
    made = new_plugin("robo-os-polisher", tmp_path)
    init = made.root / made.module / "__init__.py"
    init.write_text(init.read_text() + POLISH)
    site = tmp_path / "site"
    install = subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--offline",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(site),
            str(made.root),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (site / made.module / "__init__.py").is_file()
    return made, site


def test_a_scaffolded_plugin_installs_and_its_fact_is_discovered(
    installed: tuple[Scaffold, Path], tmp_path: Path
) -> None:
    made, site = installed
    listed = _robo_os(site, "skills", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    specs = {s["name"]: s for s in json.loads(listed.stdout)}
    assert specs["polish"]["source"] == "robo-os-polisher"
    assert [f["signature"] for f in specs["polish"]["facts"]] == ["shiny(place)"]
    assert specs["polish"]["effects"] == ["shiny(place)"]
    assert made.skill in specs  # the generated skill came along

    table = _robo_os(site, "skills", "list")
    row = next(line for line in table.stdout.splitlines() if " polish " in line)
    assert "shiny(place)" in row and "robo-os-polisher" in row

    checked = _robo_os(site, "skills", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # without the install nothing of it is found: the discovery above was the package's
    bare = _robo_os(tmp_path / "empty", "skills", "list", "--json")
    assert "polish" not in {s["name"] for s in json.loads(bare.stdout)}


WAIT_S = 240


@pytest.mark.slow
def test_the_installed_plugins_fact_is_planned_and_run_on_the_full_stack(
    installed: tuple[Scaffold, Path], tmp_path: Path
) -> None:
    made, site = installed
    fleet = yaml.safe_load(resources.files("robo_os.data").joinpath("household.yaml").read_text())
    mm1 = next(r for r in fleet["robots"] if r["id"] == "mm1")
    mm1["skills"] = [f"{made.module}:SKILLS"]
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(fleet))

    with robo_os_up(tmp_path / "state", pythonpath=site, config=config) as up, up.client() as client:
        names = {s["name"] for s in client.get("/v1/skills").json()["skills"]}
        assert {"polish", made.skill} <= names

        task = client.post("/v1/tasks", json={"instruction": "polish the dining table"})
        assert task.status_code < 300, task.text
        done = client.get(f"/v1/tasks/{task.json()['id']}/wait", params={"timeout": WAIT_S}).json()
        assert done["status"] == "succeeded", done.get("error")
        assert done["goal"]["groups"] == [[["shiny", "dining_table"]]]
        steps = [(s["robot"], s["skill"]) for s in done["subtasks"]]
        assert steps == [("mm1", "navigate_to"), ("mm1", "polish")], steps
        facts = client.get("/v1/memory/facts").json()["facts"]
        shiny = next(f for f in facts if f["signature"] == "shiny(place)")
        assert ["shiny", "dining_table"] in [list(a) for a in shiny["holds"]], shiny
