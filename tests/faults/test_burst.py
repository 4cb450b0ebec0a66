"""Back-pressure: a burst of 500 submissions at concurrency 100 against the real app (real
planner over a real memory, real task store) never gets a 5xx, every accepted task ends,
none fails for a pool or connection reason, and /healthz answers during the burst.

The brain's Redis pools are made tiny (4 connections) so that the burst has to queue for
connections: with redis-py's default pool (no waiting) the same test fails with "Too
many connections" (docs/reliability.md, "Back-pressure")."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from robo_os_memory import Memory

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.brain.runtime.store import TaskStore
from robo_os.contracts import SkillCall, SkillResult
from robo_os.skill.registry import discover
from robo_os.testing import WAIT_S, ScriptedAgent
from robo_os.testing.scenes import generated_scene
from tests.brain.runtime.runtime_support import TOKEN, brain_settings
from tests.brain.runtime.test_runtime_prometheus import samples

BURST = 500
CONCURRENCY = 100
POOL = 4
"""Connections of each Redis pool the brain uses here: far fewer than the burst."""
POOL_ERRORS = ("too many connections", "no connection available")
"""What redis-py says when a pool has no connection to give."""


async def scene(memory: Memory, seed: int) -> list[str]:
    """A generated fleet and scene in memory, each robot offering its standard skills;
    the ids of the robots with a camera."""
    robots, objects, places, _ = generated_scene(seed, robots=6, places=4, objects=4)
    for place in places:
        await memory.upsert_place(place)
    for obj in objects:
        await memory.upsert_object(obj)
    skills = discover()
    for robot in robots:
        await memory.register_robot(robot)
        await memory.heartbeat(robot.id, ttl_s=600)
        offered = skills.for_capabilities(robot.capabilities)
        await memory.set_robot_skills(
            robot.id, {s.name: s.spec.model_dump(mode="json") for s in offered}
        )
    return [r.id for r in robots if "camera" in r.capabilities]


class Burst:
    """The app with tiny pools, a fleet of scripted agents and an HTTP client."""

    def __init__(self, app: Any, client: httpx.AsyncClient, agents: dict[str, ScriptedAgent]):
        self.app = app
        self.client = client
        self.agents = agents

    def body(self, n: int, cameras: list[str]) -> dict[str, Any]:
        robot = cameras[n % len(cameras)]
        return {"plan": {"subtasks": [{"id": "s1", "robot": robot, "skill": "look", "args": {}}]}}

    async def fire(self, cameras: list[str]) -> tuple[list[httpx.Response], list[float]]:
        """BURST submissions, CONCURRENCY at a time; answers and /healthz latencies."""
        gate = asyncio.Semaphore(CONCURRENCY)
        health: list[float] = []

        async def one(n: int) -> httpx.Response:
            async with gate:
                if n % 50 == 25:  # the brain still answers its health probe mid-burst
                    t0 = time.monotonic()
                    h = await self.client.get("/healthz")
                    assert h.status_code == 200, h.text
                    health.append(time.monotonic() - t0)
                return await self.client.post("/v1/tasks", json=self.body(n, cameras))

        answers = await asyncio.gather(*(one(n) for n in range(BURST)))
        return list(answers), health


@pytest.fixture
async def make_burst(redis_url: str, key_prefix: str) -> AsyncIterator[Callable[..., Any]]:
    opened: list[Any] = []

    async def make(seed: int, **scheduler: Any) -> tuple[Burst, list[str]]:
        memory = await Memory.connect(
            redis_url, prefix=key_prefix, writer="brain", max_connections=POOL
        )
        opened.append(memory.close)
        store = await TaskStore.connect(redis_url, key_prefix, max_connections=POOL)
        opened.append(store.close)
        cameras = await scene(memory, seed)
        agents = {r: ScriptedAgent(r) for r in cameras}
        app = create_app(
            brain_settings(redis_url, key_prefix, **scheduler),
            memory=memory,
            store=store,
            dispatcher=LocalDispatcher(agents),
            watch_liveness=False,
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        opened.append(lambda: lifespan.__aexit__(None, None, None))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://brain",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=WAIT_S * 3,
        )
        opened.append(client.aclose)
        return Burst(app, client, agents), cameras

    yield make
    for close in reversed(opened):
        await close()


async def wait_all_terminal(client: httpx.AsyncClient, ids: list[str]) -> list[dict[str, Any]]:
    async def one(task_id: str) -> dict[str, Any]:
        r = await client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": WAIT_S * 3})
        assert r.status_code == 200, r.text
        task: dict[str, Any] = r.json()
        return task

    return list(await asyncio.gather(*(one(t) for t in ids)))


def succeed(call: SkillCall) -> SkillResult:
    return SkillResult.success(f"{call.skill} done")


async def test_a_burst_over_the_limit_is_refused_with_429_and_the_accepted_all_finish(
    make_burst: Callable[..., Any],
) -> None:
    limit = 40
    burst, cameras = await make_burst(seed=1, max_active_tasks=limit, retry_after_s=3)
    # the fleet holds every call until the burst is over: no slot frees up meanwhile,
    # so exactly `limit` submissions are admitted
    answers, health = await burst.fire(cameras)
    codes = Counter(r.status_code for r in answers)
    assert codes == {202: limit, 429: BURST - limit}, codes
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["Retry-After"] == "3"
    error = refused.json()["error"]
    assert error["code"] == "overloaded"
    assert error["limit"] == {"name": "scheduler.max_active_tasks", "value": limit}
    assert "scheduler.max_active_tasks" in error["message"]
    assert health and max(health) < WAIT_S

    scheduler = (await burst.client.get("/v1/metrics")).json()["scheduler"]
    assert scheduler["admission"]["active"] == limit
    assert scheduler["admission"]["refused"] == BURST - limit
    # and Prometheus's counter of refused admissions says the same, by reason
    got = samples((await burst.client.get("/metrics")).text)
    assert got["robo_os_admissions_refused_total", (("reason", "full"),)] == BURST - limit
    assert got["robo_os_admissions_refused_total", (("reason", "wait_timeout"),)] == 0

    for agent in burst.agents.values():
        agent.auto = succeed
        agent.finish_all()
    accepted = [r.json()["id"] for r in answers if r.status_code == 202]
    done = await wait_all_terminal(burst.client, accepted)
    assert Counter(t["status"] for t in done) == {"succeeded": limit}
    # slots are given back as tasks end: a new submission is admitted again
    again = await burst.client.post("/v1/tasks", json=burst.body(0, cameras))
    assert again.status_code == 202, again.text


async def test_a_burst_through_tiny_pools_waits_for_connections_and_loses_no_task(
    make_burst: Callable[..., Any],
) -> None:
    # a fast fleet (every call answered at once); 50 tasks run at once, the others wait
    # at admission (none is refused), and every submission, plan check and dispatch of
    # the 50 queues for one of POOL connections
    burst, cameras = await make_burst(
        seed=2, max_active_tasks=50, admission_wait_s=WAIT_S * 6, admission_queue=BURST
    )
    for agent in burst.agents.values():
        agent.auto = succeed
    answers, _ = await burst.fire(cameras)
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {202, 429}, {
        r.status_code: r.text for r in answers if r.status_code >= 500
    }
    assert codes[202] == BURST, codes  # each waited for a slot: nothing refused

    done = await wait_all_terminal(burst.client, [r.json()["id"] for r in answers])
    failed = [t for t in done if t["status"] != "succeeded"]
    assert not failed, [(t["id"], t["status"], t.get("error")) for t in failed[:5]]
    messages = " ".join(str(s.get("result") or "") for t in done for s in t["subtasks"]).lower()
    assert not any(w in messages for w in POOL_ERRORS), messages[:500]


async def test_submissions_over_the_limit_wait_in_the_admission_queue(
    make_burst: Callable[..., Any],
) -> None:
    # 2 slots, a queue of 3 waiting up to WAIT_S: a slot that frees up goes to the
    # longest-waiting submission; the one beyond the queue is refused at once
    burst, cameras = await make_burst(
        seed=3, max_active_tasks=2, admission_wait_s=WAIT_S, admission_queue=3
    )
    c = burst.client
    first = [await c.post("/v1/tasks", json=burst.body(n, cameras)) for n in range(2)]
    assert [r.status_code for r in first] == [202, 202]
    admission = burst.app.state.runtime.scheduler.admission
    queued = [
        asyncio.ensure_future(c.post("/v1/tasks", json=burst.body(n, cameras))) for n in range(3)
    ]
    await admission.until_waiting(3, WAIT_S)  # the three are inside the app, waiting
    over = await c.post("/v1/tasks", json=burst.body(0, cameras))
    assert over.status_code == 429 and over.json()["error"]["limit"]["value"] == 2
    assert not any(q.done() for q in queued)

    # each task that ends admits one waiting submission
    for agent in burst.agents.values():
        agent.auto = succeed
        agent.finish_all()
    answers = await asyncio.wait_for(asyncio.gather(*queued), WAIT_S)
    assert [r.status_code for r in answers] == [202, 202, 202]
    ids = [r.json()["id"] for r in [*first, *answers]]
    done = await wait_all_terminal(c, ids)
    assert {t["status"] for t in done} == {"succeeded"}


async def test_a_submission_that_waits_too_long_is_refused_and_counted_as_a_timeout(
    make_burst: Callable[..., Any],
) -> None:
    # 1 slot held by a task its robot never finishes; a queue of 1 that waits 0.2 s
    burst, cameras = await make_burst(
        seed=4, max_active_tasks=1, admission_wait_s=0.2, admission_queue=1
    )
    c = burst.client
    first = await c.post("/v1/tasks", json=burst.body(0, cameras))
    assert first.status_code == 202, first.text
    admission = burst.app.state.runtime.scheduler.admission
    waiting = asyncio.ensure_future(c.post("/v1/tasks", json=burst.body(1, cameras)))
    await admission.until_waiting(1, WAIT_S)
    over = await c.post("/v1/tasks", json=burst.body(2, cameras))  # the queue is full
    assert over.status_code == 429, over.text
    timed_out = await asyncio.wait_for(waiting, WAIT_S)  # no slot within 0.2 s
    assert timed_out.status_code == 429, timed_out.text
    got = samples((await c.get("/metrics")).text)
    assert got["robo_os_admissions_refused_total", (("reason", "full"),)] == 1
    assert got["robo_os_admissions_refused_total", (("reason", "wait_timeout"),)] == 1
    assert got["robo_os_admission_waiting", ()] == 0

    for agent in burst.agents.values():  # the held task ends; nothing is left running
        agent.auto = succeed
        agent.finish_all()
    done = await wait_all_terminal(c, [first.json()["id"]])
    assert done[0]["status"] == "succeeded"
