"""Several brains on one Redis (`ha.enabled`): one leads through a lease with a fencing
token, the others forward the API to it over real HTTP; a leader that dies has its tasks
taken over by another brain without a finished subtask running again; a leader that
stalled past its lease cannot write a task afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from robo_os_memory import Memory

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.brain.runtime.leadership import NOT_LEADING, LeaderLease, Leadership
from robo_os.brain.runtime.store import FencedOff, TaskStore
from robo_os.contracts import SubtaskStatus, Task, TaskEventKind, TaskStatus
from robo_os.keys import TaskKeys
from robo_os.services import bind_listener, free_port
from robo_os.settings import Settings

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import TOKEN
from .test_runtime_durability import wait_event

TTL_S = 1.0


@dataclass
class Served:
    """One brain served over HTTP on its own port."""

    name: str
    app: Any
    client: httpx.AsyncClient
    stop: Callable[[], Awaitable[None]]

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    @property
    def leadership(self) -> Leadership:
        return self.runtime.leadership


@pytest.fixture
async def serve_brain(
    memory: Memory, redis_url: str, key_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    async with contextlib.AsyncExitStack() as exits:

        async def make(name: str, planner: ScriptedPlanner, fleet: Any) -> Served:
            port = free_port()
            settings = Settings(
                redis={"url": redis_url, "key_prefix": key_prefix},
                api={"token": TOKEN, "host": "127.0.0.1", "port": port},
                scheduler={"retry_backoff_s": 0.0, "rebalance": False},
                agent={"cancel_grace_s": 1.0},
                ha={"enabled": True, "brain_id": name, "lease_ttl_s": TTL_S},
            )
            app = create_app(
                settings,
                memory=memory,
                dispatcher=LocalDispatcher(fleet.agents),
                planner=planner,
                watch_liveness=False,
            )
            sock = bind_listener("127.0.0.1", port, backlog=128)
            server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            stopped = False

            async def stop() -> None:
                nonlocal stopped
                if not stopped:
                    stopped = True
                    server.should_exit = True
                    await serving
                    sock.close()

            exits.push_async_callback(stop)
            client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=WAIT_S,
            )
            exits.push_async_callback(client.aclose)
            # the listening socket holds requests until the lifespan has started
            assert (await client.get("/healthz")).status_code == 200
            return Served(name, app, client, stop)

        yield make


async def stall(brain: Served) -> None:
    """The brain renews nothing from now on (a long pause, a partition); what it was
    running runs on, believing it leads."""
    lead = brain.leadership
    assert lead._campaign is not None
    lead._campaign.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lead._campaign
    lead._campaign = None


async def crash(brain: Served) -> None:
    """What a killed brain process leaves: no more renewals, no more writes, the lease
    left to lapse (nothing is released or handed over)."""
    await stall(brain)
    lead = brain.leadership
    lead.store.fence = NOT_LEADING
    await lead.scheduler.close()
    lead._held = None
    lead.leading = False


async def leader_and_follower(
    serve_brain: Callable[..., Awaitable[Served]], planner: ScriptedPlanner, fleet: Any
) -> tuple[Served, Served]:
    """brain-a, leading, then brain-b, following it."""
    a = await serve_brain("brain-a", planner, fleet)
    await led_by(a)
    return a, await serve_brain("brain-b", planner, fleet)


async def led_by(brain: Served) -> None:
    """Wait until `brain` leads (it takes over once the lease it waits for lapses)."""
    while not brain.leadership.leading:
        assert await brain.leadership.wait_change(WAIT_S), f"{brain.name} never took the lead"


# -- the lease ---------------------------------------------------------------------------------
async def test_the_lease_is_held_by_one_brain_and_each_holder_gets_a_new_epoch(
    redis_url: str, key_prefix: str
) -> None:
    store = await TaskStore.connect(redis_url, key_prefix)
    try:
        keys = TaskKeys(key_prefix)
        a = LeaderLease(store.redis, keys, "a", "http://a", ttl_s=30)
        b = LeaderLease(store.redis, keys, "b", "http://b", ttl_s=30)
        won, leader = await a.acquire()
        assert won and leader is not None and leader.brain_id == "a"
        lost, seen = await b.acquire()
        assert not lost and seen == leader  # b sees who leads, and where
        assert await a.renew(leader.lease) and not await b.renew("1|b|http://b")
        await b.release(leader.lease.replace("|a|", "|b|"))  # not b's: nothing happens
        assert (await a.leader()) == leader
        await a.release(leader.lease)
        won, second = await b.acquire()
        assert won and second is not None and second.epoch == leader.epoch + 1
        assert not await a.renew(leader.lease)  # the old holder cannot extend it again
    finally:
        await store.close()


async def test_a_write_under_a_lapsed_lease_is_refused(redis_url: str, key_prefix: str) -> None:
    store = await TaskStore.connect(redis_url, key_prefix)
    try:
        lease = LeaderLease(store.redis, TaskKeys(key_prefix), "a", "http://a", ttl_s=30)
        _, leader = await lease.acquire()
        assert leader is not None
        store.fence = leader.lease
        task = await store.create(Task(id="fenced-1", instruction="go"))
        await lease.release(leader.lease)  # lapsed, or taken over: the same to the fence
        with pytest.raises(FencedOff, match="no longer leads"):
            await store.save(task.model_copy(update={"status": TaskStatus.failed}), task.version)
        assert (await store.get("fenced-1")).status == task.status  # nothing landed
        store.fence = NOT_LEADING
        with pytest.raises(FencedOff):
            await store.create(Task(id="fenced-2", instruction="go"))
    finally:
        await store.close()


# -- brains --------------------------------------------------------------------------------------
async def test_a_follower_forwards_to_the_leader_over_http(fleet, serve_brain) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    a, b = await leader_and_follower(serve_brain, planner, f)
    health = (await b.client.get("/healthz")).json()
    assert health["brain"]["role"] == "follower" and health["brain"]["leader"]["brain"] == "brain-a"

    posted = await b.client.post("/v1/tasks", json={"instruction": "go"})
    assert posted.status_code == 202, posted.text
    assert posted.headers["x-robo-os-brain"] == "brain-a"
    task_id = posted.json()["id"]
    call = await f["r1"].next_call()
    assert task_id in a.runtime.scheduler.active and not b.runtime.scheduler.active
    f["r1"].finish(call.call_id)
    waited = await b.client.get(f"/v1/tasks/{task_id}/wait", params={"timeout_s": WAIT_S})
    assert waited.json()["status"] == "succeeded"
    events = await b.client.get(f"/v1/tasks/{task_id}/events")  # a stream, relayed whole
    assert events.status_code == 200 and "subtask_succeeded" in events.text
    bad = await b.client.post("/v1/tasks", json={"instruction": ""})
    assert bad.status_code == 422  # the leader's own answer, passed on


async def test_a_dead_leaders_task_is_finished_by_another_brain_and_nothing_runs_twice(
    fleet, serve_brain
) -> None:
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"), ("b", "r2", "place", ["a"]))}
    )
    a, b = await leader_and_follower(serve_brain, planner, f)
    task_id = (await b.client.post("/v1/tasks", json={"instruction": "go"})).json()["id"]
    first = await f["r1"].next_call()
    f["r1"].finish(first.call_id)
    await wait_event(a.runtime.store, task_id, TaskEventKind.subtask_succeeded, "a")
    second = await f["r2"].next_call()
    await crash(a)  # b's call keeps running on r2

    await led_by(b)
    assert b.leadership.leader is not None and b.leadership.leader.epoch >= 2
    again = await f["r2"].next_run()
    assert again.call_id == second.call_id and f["r2"].pending_starts() == 0
    f["r2"].finish(second.call_id)
    done = await b.runtime.store.wait_terminal(task_id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    assert [(s.id, s.status, s.attempts) for s in done.subtasks] == [
        ("a", SubtaskStatus.succeeded, 1),
        ("b", SubtaskStatus.succeeded, 1),
    ]
    assert f["r1"].call_ids() == [first.call_id]  # the finished subtask never ran again
    assert f.log.count(("start", "r2", second.call_id)) == 1
    # and the survivor serves the API itself now
    posted = await b.client.post("/v1/tasks", json={"instruction": "go"})
    assert posted.status_code == 202 and "x-robo-os-brain" not in posted.headers
    f.release_all()


async def test_a_stalled_leader_is_fenced_off_and_steps_down(fleet, serve_brain) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    a, b = await leader_and_follower(serve_brain, planner, f)
    task_id = (await a.client.post("/v1/tasks", json={"instruction": "go"})).json()["id"]
    call = await f["r1"].next_call()
    # a stalls: it renews nothing, yet its scheduler runs on, believing it leads
    lead = a.leadership
    await stall(a)
    await led_by(b)
    assert (await f["r1"].next_run()).call_id == call.call_id  # b awaits the same call
    f["r1"].finish(call.call_id)  # both brains hear the result; only b may write it
    done = await b.runtime.store.wait_terminal(task_id, WAIT_S)
    assert done.status == TaskStatus.succeeded and done.subtasks[0].attempts == 1
    with pytest.raises(FencedOff):
        await a.runtime.store.create(Task(id="from-the-stalled-one", instruction="go"))
    # at its next look a finds out, stops its scheduler and follows b
    await lead._look()
    assert not lead.leading and lead.describe()["role"] == "follower"
    assert not a.runtime.scheduler.active
    assert (await a.client.post("/v1/tasks", json={"instruction": "go"})).headers[
        "x-robo-os-brain"
    ] == "brain-b"
    f.release_all()


async def test_while_nobody_answers_for_the_lead_reads_work_and_writes_get_503(
    fleet, serve_brain, redis_url: str, key_prefix: str
) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    store = await TaskStore.connect(redis_url, key_prefix)
    try:
        # a leader that died a moment ago: its lease has not lapsed, its port is closed
        gone = f"http://127.0.0.1:{free_port()}"
        await store.redis.set(TaskKeys(key_prefix).leader, f"7|ghost|{gone}", px=60_000)
        await store.create(Task(id="kept-1", instruction="go"))
        b = await serve_brain("brain-b", planner, f)
        assert b.leadership.leader is not None and b.leadership.leader.brain_id == "ghost"
        posted = await b.client.post("/v1/tasks", json={"instruction": "go"})
        assert posted.status_code == 503 and "ghost" in posted.json()["error"]["message"]
        assert posted.headers["retry-after"] == "1"
        read = await b.client.get("/v1/tasks/kept-1")  # answered here, from Redis
        assert read.status_code == 200 and read.json()["id"] == "kept-1"
        assert not b.runtime.scheduler.active  # nothing was started behind the client's back
    finally:
        await store.close()


async def test_a_leader_that_stops_hands_over_its_tasks(fleet, serve_brain) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))})
    a, b = await leader_and_follower(serve_brain, planner, f)
    task_id = (await b.client.post("/v1/tasks", json={"instruction": "go"})).json()["id"]
    call = await f["r1"].next_call()
    await a.stop()  # SIGTERM: the lease is released, not left to lapse
    await led_by(b)
    assert task_id in b.runtime.scheduler.active
    assert (await f["r1"].next_run()).call_id == call.call_id
    f["r1"].finish(call.call_id)
    done = await b.runtime.store.wait_terminal(task_id, WAIT_S)
    assert done.status == TaskStatus.succeeded
