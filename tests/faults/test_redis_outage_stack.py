"""Redis restarted while the full stack (Ray agents, physics) runs a task: the task
ends (succeeded, or failed with a reason) and nothing stays `running` or `busy`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from .conftest import RestartableRedis

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)


async def test_the_stack_finishes_a_task_through_a_redis_restart(
    outage_redis: RestartableRedis, make_stack: Any
) -> None:
    st, client = await make_stack(scheduler={"store_outage_s": 60.0})
    r = await client.post("/v1/tasks", json={"instruction": "bring the apple to the dining table"})
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]

    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:") and json.loads(line[5:])["kind"] == "subtask_started":
                break  # a skill runs on an agent: take Redis away under it
    t_down = time.monotonic()
    runner = st.app.state.runtime.scheduler._runners[task_id][0]
    await outage_redis.stop()
    down = await client.get("/healthz")
    assert down.status_code == 503 and not down.json()["redis"]["ok"], down.text
    # Redis stays away until the task's runner has met the outage (its next write, when
    # the running skill ends; the skill itself may lose Redis first)
    await asyncio.wait_for(runner.store_lost.wait(), 120)
    outage_s = time.monotonic() - t_down
    await outage_redis.start()
    t0 = time.monotonic()
    up = await client.get("/healthz")
    assert up.status_code == 200, up.text  # the first request after the restart

    r = await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": 240})
    assert r.status_code == 200, r.text
    task = r.json()
    took_s = time.monotonic() - t0
    assert task["status"] in ("succeeded", "failed"), json.dumps(task, indent=1)
    if task["status"] == "failed":
        assert task["error"]["message"], task
    assert not [s["id"] for s in task["subtasks"] if s["status"] == "running"], task
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["scheduler"]["active_tasks"] == 0, health
    robots = (await client.get("/v1/robots")).json()["robots"]
    assert not [x["id"] for x in robots if x["status"] == "busy"], robots
    # a task submitted after the restart is stored (no dead pooled connection refuses it)
    r = await client.post("/v1/tasks", json={"instruction": "bring the apple to the dining table"})
    assert r.status_code == 202, r.text
    assert (await client.get(f"/v1/tasks/{r.json()['id']}")).status_code == 200
    log.warning(
        "redis outage (stack): Redis down %.1f s; task %s %s %.1f s after it was back"
        " (replans %s, attempts %s)",
        outage_s,
        task_id,
        task["status"],
        took_s,
        task.get("replans"),
        [(x["id"], x["attempts"]) for x in task["subtasks"]],
    )
