"""A plug-in's own fact on the whole stack (real Redis, Ray, pybullet): mm1's agent gets
the surface skills from its fleet entry (`skills:`), "wipe the dining table" becomes the
goal clean(dining_table), planned navigate → wipe and run in physics, and memory records
the fact; a spill makes it false and a goal makes it true again."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from .conftest import StackFactory

WAIT_S = 240


def fleet_with_surface_skills(tmp_path: Path) -> Path:
    data = yaml.safe_load(resources.files("robo_os.data").joinpath("household.yaml").read_text())
    for robot in data["robots"]:
        if robot["id"] == "mm1":
            robot["skills"] = ["robo_os_example_plugin.surfaces:SKILLS"]
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_a_plugin_fact_is_planned_run_and_remembered(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    _, client = await make_stack(fleet_file=fleet_with_surface_skills(tmp_path))
    skills = {s["name"] for s in (await client.get("/v1/skills")).json()["skills"]}
    assert {"wipe", "spill"} <= skills

    task = (await client.post("/v1/tasks", json={"instruction": "wipe the dining table"})).json()
    done = (await client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})).json()
    assert done["status"] == "succeeded", done.get("error")
    assert [(s["robot"], s["skill"]) for s in done["subtasks"]][-1] == ("mm1", "wipe")
    assert done["goal"]["groups"] == [[["clean", "dining_table"]]]
    facts = (await client.get("/v1/memory/facts")).json()
    assert ["clean", "dining_table"] in _holding(facts, "clean")

    # an explicit spill makes it false in memory; the goal then needs a wipe again
    spill = {
        "plan": {"subtasks": [{"id": "s1", "robot": "mm1", "skill": "spill",
                               "args": {"place": "dining_table"}}]}
    }  # fmt: skip
    spilled = (await client.post("/v1/tasks", json=spill)).json()
    spilled = (
        await client.get(f"/v1/tasks/{spilled['id']}/wait", params={"timeout": WAIT_S})
    ).json()
    assert spilled["status"] == "succeeded", spilled.get("error")
    assert ["clean", "dining_table"] not in _holding(
        (await client.get("/v1/memory/facts")).json(), "clean"
    )
    again = (
        await client.post("/v1/tasks", json={"goal": {"facts": [["clean", "dining_table"]]}})
    ).json()
    again = (await client.get(f"/v1/tasks/{again['id']}/wait", params={"timeout": WAIT_S})).json()
    assert again["status"] == "succeeded", again.get("error")
    assert [s["skill"] for s in again["subtasks"]] == ["wipe"]  # mm1 is there already


def _holding(facts: object, name: str) -> list[list[str]]:
    assert isinstance(facts, dict)
    for fact in facts["facts"]:
        if fact["signature"].split("(")[0] == name:
            return [list(a) for a in fact["holds"]]
    raise AssertionError(f"no fact {name!r} in {facts}")
