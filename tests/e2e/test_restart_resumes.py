"""The stack stopped (as SIGINT stops it) while mm1 holds the mug mid-task, then started
again on the same Redis: it starts, the simulator is rebuilt with the mug in mm1's
gripper, the task resumes and finishes in physics, and memory agrees with the simulator."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from robo_os_memory import Memory
from robo_os_memory.models import EntityKind

from robo_os.services import EmbeddedRedis

pytestmark = pytest.mark.slow


def _fleet(path: Path) -> Path:
    """A shelf with the mug where mm1 is docked, and the dining table it is to go to."""
    path.write_text(
        yaml.safe_dump(
            {
                "scene": {
                    "size": [6.0, 6.0],
                    "places": [
                        {
                            "name": "shelf",
                            "kind": "shelf",
                            "pose": {"x": -1.0, "y": -1.5},
                            "size": [1.0, 0.4, 0.75],
                        },
                        {
                            "name": "dining_table",
                            "kind": "table",
                            "pose": {"x": -1.0, "y": 1.5},
                            "size": [1.2, 0.8, 0.75],
                        },
                    ],
                    "objects": [
                        {
                            "name": "mug",
                            "type": "mug",
                            "at": "shelf",
                            "offset": [0.25, 0.0],
                            "attrs": {"colour": "white"},
                        },
                        {"name": "book", "type": "book", "at": "shelf", "offset": [-0.25, 0.0]},
                    ],
                },
                "robots": [{"id": "mm1", "embodiment": "mobile_manipulator", "at": "shelf"}],
            }
        )
    )
    return path


@pytest.mark.parametrize("redis", ["same_url", "data_dir"])
async def test_stack_restarted_while_mm1_holds_the_mug_resumes_the_task(
    make_stack: Any, tmp_path: Path, redis: str
) -> None:
    fleet = _fleet(tmp_path / "fleet.yaml")
    prefix = f"e2e-restart-{uuid.uuid4().hex[:8]}"
    # the same external Redis (ROBO_OS_REDIS__URL), or an embedded one whose AOF is kept
    # in a directory and read back by the next start (`robo-os up --data-dir`)
    same = {"key_prefix": prefix, "fleet_file": fleet}
    if redis == "data_dir":
        same["data_dir"] = tmp_path / "data"
    async with AsyncExitStack() as first_run:
        st, client = await make_stack(**same, exits_to=first_run)
        assert st.memory is not None
        mug = st.memory.subscribe(kinds=[EntityKind.object], names=["mug"])
        await mug.start()
        r = await client.post(
            "/v1/tasks", json={"instruction": "bring the mug to the dining table"}
        )
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]

        async def mm1_holds_the_mug() -> None:
            async for change in mug:
                if change.fields.get("held_by") == "mm1":
                    return
            raise AssertionError("the change feed ended")

        await asyncio.wait_for(mm1_holds_the_mug(), 60)
        await mug.aclose()
        redis_url = st.settings.redis.url
        assert redis_url is not None
    # stopped: the server, then the stack in reverse order (as SIGINT stops `robo-os up`)
    # and a lease of the old mm1 left behind, as a run killed mid-skill leaves one
    async with AsyncExitStack() as between:
        if redis == "data_dir":  # the stack's Redis went with it: the same data, read back
            server = between.enter_context(
                EmbeddedRedis(directory=same["data_dir"], appendonly=True)
            )
            redis_url = server.url
        old = await Memory.connect(redis_url, prefix=prefix, writer="previous-run")
        stale = await old.acquire("mug", "mm1", ttl_s=600)
        await old.close()

    st, client = await make_stack(**same)
    assert st.memory is not None
    truth = await st.world.object_info.remote("mug")
    mm1 = await st.world.robot_info.remote("mm1")
    assert truth.held_by == "mm1" and mm1.holding == "mug", (truth, mm1)
    assert await st.world.restore_notes.remote() == ()
    # no lease of the previous run survives the start
    changes, _ = await st.memory.changes_since("0", kinds=[EntityKind.lease], names=["mug"])
    released = [c for c in changes if c.op == "release" and c.fields.get("token") == stale.token]
    assert released and "restarted" in str(released[0].fields.get("reason")), changes

    task = (await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": 90})).json()
    assert task["status"] == "succeeded", task
    places = [s for s in task["subtasks"] if s["skill"] == "place" and s["status"] == "succeeded"]
    assert places and places[-1]["args"]["target"] == "dining_table", task["subtasks"]
    # nothing was done twice: the mug was picked once (in the first run), placed once
    picks = [s for s in task["subtasks"] if s["skill"] == "pick" and s["status"] == "succeeded"]
    assert len(picks) <= 1 and len(places) == 1, task["subtasks"]
    moves = [
        c.fields.get("held_by")
        for c in await st.memory.history(EntityKind.object, "mug")
        if c.op == "update" and "held_by" in c.fields and c.by != "sim"
    ]
    assert moves == ["mm1", None], moves

    truth = await st.world.object_info.remote("mug")
    assert truth.on == "dining_table" and truth.held_by is None, truth
    record = (await client.get("/v1/memory/objects/mug")).json()
    assert record["on"] == "dining_table" and record["held_by"] is None, record
    diff = (await client.get("/v1/world/diff")).json()
    assert diff["observers"] and diff["disagreements"] == [], diff
