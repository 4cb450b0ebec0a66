"""Redis taken away while a task runs and brought back (same port, same AOF directory):
the task finishes, nothing stays `running`, no robot stays held, /healthz tells the
truth throughout, and the first requests after the restart succeed (no dead pooled
connection answers for Redis). docs/reliability.md, "Redis outage", quotes the figures."""

from __future__ import annotations

import asyncio
import logging
import time

from robo_os.contracts import ErrorCode, SkillResult, SubtaskStatus, TaskStatus
from robo_os.skill.invoke import INFRASTRUCTURE
from robo_os.testing import WAIT_S, ScriptedPlanner
from tests.brain.runtime.runtime_fakes import plan
from tests.brain.runtime.runtime_support import Brain, MakeBrain

from .conftest import RestartableRedis

log = logging.getLogger(__name__)

GO = plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))


async def store_lost(brain: Brain, task_id: str) -> None:
    """Wait until the task's runner has met the outage (it waits for Redis)."""
    entry = brain.scheduler._runners[task_id]
    await asyncio.wait_for(entry[0].store_lost.wait(), WAIT_S)


def assert_nothing_left(brain: Brain, robots: tuple[str, ...] = ("r1",)) -> None:
    for robot in robots:
        assert brain.scheduler.lanes.holder(robot) is None, f"{robot} still held"
    assert brain.scheduler.claims.holders() == {}


async def test_a_task_survives_redis_restarting_mid_step(
    outage_redis: RestartableRedis, fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": GO})
    brain = await make_brain(planner, f, store_outage_s=WAIT_S)
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    assert (await f["r1"].next_run()).call_id == a.call_id

    await outage_redis.stop()
    f["r1"].finish(a.call_id)  # the runner's next write (a succeeded) meets the outage
    await store_lost(brain, task.id)
    health = brain.scheduler.health()
    assert health["waiting_for_redis"] == [task.id]

    await outage_redis.start()
    t0 = time.monotonic()
    # resumed from the stored record: a, still `running` there, is re-dispatched under
    # the same call id and answered from the agent's record, never started again
    again = await f["r1"].next_run()
    recovered_s = time.monotonic() - t0
    assert again.call_id == a.call_id
    b = await f["r1"].next_call()
    f["r1"].finish(b.call_id)

    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [(s.id, s.status, s.attempts) for s in done.subtasks] == [
        ("a", SubtaskStatus.succeeded, 1),
        ("b", SubtaskStatus.succeeded, 1),
    ]
    assert planner.plan_calls == ["go"] and planner.replan_calls == []
    assert await brain.store.active_ids() == []
    assert await brain.scheduler.wait_finished(task.id, WAIT_S)
    assert_nothing_left(brain)
    log.warning("redis outage: task resumed %.3f s after Redis answered again", recovered_s)
    assert recovered_s < 3.0  # the runner's back-off is capped at 1 s


async def test_a_correction_that_meets_the_outage_is_made_after_it(
    outage_redis: RestartableRedis, fleet, make_brain: MakeBrain
) -> None:
    # the operator's case: correction -> allocator -> memory read, with Redis gone
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(plans={"go": GO}, equivalents={"r1": ["r2"]})
    brain = await make_brain(planner, f, store_outage_s=WAIT_S)
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    runner = brain.scheduler._runners[task.id][0]

    await outage_redis.stop()
    f["r1"].finish(a.call_id, SkillResult.failure(ErrorCode.unreachable, "no path"))
    await store_lost(brain, task.id)
    await outage_redis.start()
    # the lost failure is heard again (same call id) and corrected: a and its chain move
    assert (await f["r1"].next_run()).call_id == a.call_id
    moved = await f["r2"].next_call()
    assert moved.subtask_id == "a"
    f["r2"].finish(moved.call_id)
    b = await f["r2"].next_call()
    f["r2"].finish(b.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [(s.id, s.robot) for s in done.subtasks] == [("a", "r2"), ("b", "r2")]
    assert runner.outages == 1 and planner.replan_calls == []
    assert await brain.store.active_ids() == []
    assert await brain.scheduler.wait_finished(task.id, WAIT_S)
    assert_nothing_left(brain, ("r1", "r2"))


async def test_an_outage_longer_than_the_bound_leaves_the_task_to_the_reconciler(
    outage_redis: RestartableRedis, fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": GO})
    brain = await make_brain(planner, f, store_outage_s=0.3, reconcile_interval_s=30.0)
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    runner = brain.scheduler._runners[task.id][0]

    await outage_redis.stop()
    f["r1"].finish(a.call_id)
    # the runner gives up after store_outage_s and stops cleanly: no crash, no robot held
    assert await brain.scheduler.wait_finished(task.id, WAIT_S)
    assert runner.left_for_reconciler and runner.outages == 1
    assert task.id not in brain.scheduler.active
    assert brain.scheduler.lanes.holder("r1") is None
    check = await brain.scheduler.health_check()
    assert not check["ok"] and "active tasks" in check["error"]

    await outage_redis.start()
    t0 = time.monotonic()
    # adopted by the reconciler as Redis answers again (its interval here is 30 s: it
    # is woken by Redis coming back, not by its timer)
    again = await f["r1"].next_run()
    adopted_s = time.monotonic() - t0
    assert again.call_id == a.call_id
    b = await f["r1"].next_call()
    f["r1"].finish(b.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert await brain.store.active_ids() == []
    assert await brain.scheduler.wait_finished(task.id, WAIT_S)
    assert_nothing_left(brain)
    log.warning("redis outage: reconciler adopted the task %.3f s after Redis was back", adopted_s)
    assert adopted_s < 3.0


async def test_the_reconciler_adopts_an_active_task_no_runner_owns(
    fleet, make_brain: MakeBrain
) -> None:
    # a task in the active set whose runner is gone (here: killed) is adopted on the
    # reconciler's next round, without a restart of the brain
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": GO})
    brain = await make_brain(planner, f, reconcile_interval_s=0.2)
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    assert (await f["r1"].next_run()).call_id == a.call_id
    brain.scheduler._runners[task.id][1].cancel()
    assert await brain.scheduler.wait_finished(task.id, WAIT_S)
    check = await brain.scheduler.health_check()
    assert check["active_tasks"] == 1
    assert check["unowned"] in ([task.id], [])  # [] once the reconciler got there first

    again = await f["r1"].next_run()  # adopted: a re-dispatched under its call id
    assert again.call_id == a.call_id
    f["r1"].finish(a.call_id)
    b = await f["r1"].next_call()
    f["r1"].finish(b.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [s.attempts for s in done.subtasks] == [1, 1]


async def test_a_skill_that_lost_redis_is_retried_on_its_robot_not_replanned(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(plans={"go": GO}, equivalents={"r1": ["r2"]})
    brain = await make_brain(planner, f)
    task = await brain.scheduler.submit(instruction="go")
    a = await f["r1"].next_call()
    lost = SkillResult.failure(
        ErrorCode.internal,
        "pick lost a service it needs: ConnectionError: Connection closed by server.",
        data={INFRASTRUCTURE: True},
    )
    f["r1"].finish(a.call_id, lost)
    again = await f["r1"].next_call()  # the same robot, the next attempt
    assert again.subtask_id == "a" and again.attempt == 2
    f["r1"].finish(again.call_id)
    b = await f["r1"].next_call()
    f["r1"].finish(b.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert planner.replan_calls == [] and planner.reassign_calls == []
    assert f["r2"].runs == []


async def test_healthz_says_503_during_the_outage_and_the_first_requests_after_it_succeed(
    outage_redis: RestartableRedis, fleet, make_api
) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": GO})
    api = await make_api(planner, f, store_outage_s=WAIT_S)
    c = api.client
    r = await c.post("/v1/tasks", json={"instruction": "go"})
    assert r.status_code in (200, 201, 202), r.text
    first = r.json()["id"]
    a = await f["r1"].next_call()
    health = (await c.get("/healthz")).json()
    assert health["status"] == "ok", health
    assert health["scheduler"]["active_tasks"] == 1 and health["scheduler"]["unowned"] == []

    # a client's long poll in flight across the outage gets its answer, not a 503
    waiting = asyncio.ensure_future(c.get(f"/v1/tasks/{first}/wait", params={"timeout": WAIT_S}))
    await outage_redis.stop()
    r = await c.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded" and not body["redis"]["ok"] and body["redis"]["error"]
    assert not body["scheduler"]["ok"]
    f["r1"].finish(a.call_id)

    await outage_redis.start()
    t0 = time.monotonic()
    # the very first requests on the pooled (now dead) connections succeed
    r = await c.get("/healthz")
    assert r.status_code == 200, r.text
    first_ok_s = time.monotonic() - t0
    r = await c.post("/v1/tasks", json={"instruction": "go"})
    assert r.status_code in (200, 201, 202), r.text
    second = r.json()["id"]
    assert (await c.get(f"/v1/tasks/{second}")).status_code == 200

    for _ in range(3):  # the first task's b, the second's a and b (a was re-dispatched)
        call = await f["r1"].next_call()
        f["r1"].finish(call.call_id)
    r = await asyncio.wait_for(waiting, WAIT_S)
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    for task_id in (first, second):
        r = await c.get(f"/v1/tasks/{task_id}/wait", params={"timeout": WAIT_S})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    health = (await c.get("/healthz")).json()
    assert health["status"] == "ok" and health["scheduler"]["active_tasks"] == 0
    log.warning("redis outage: first /healthz after the restart answered in %.3f s", first_ok_s)
