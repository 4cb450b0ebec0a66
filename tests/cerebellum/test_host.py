"""Many robots' agents in one agent host actor (real Ray, real Redis), reached the way
the brain reaches them: RayDispatcher finds each robot in its host by name."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from robo_os_memory import EntityKind, Memory, RobotStatusValue

from robo_os.brain.runtime.dispatch import RayDispatcher
from robo_os.cerebellum.host import start_host
from robo_os.contracts import ErrorCode, SkillCall

from .test_actor import RUNTIME_ENV, WAIT_S, agent_config, wait_busy


async def test_one_host_serves_several_robots_concurrently_and_cancels_one(
    ray_runtime: Any, redis_url: str, key_prefix: str, memory: Memory
) -> None:
    import ray

    namespace = ray.get_runtime_context().namespace
    configs = [agent_config(redis_url, key_prefix) for _ in range(3)]
    a, b, c = (cfg.robot.id for cfg in configs)
    host, problems = await start_host(
        configs, index=0, namespace=namespace, timeout_s=WAIT_S, runtime_env=RUNTIME_ENV
    )
    dispatcher = RayDispatcher(namespace, cancel_timeout_s=WAIT_S)
    try:
        assert problems == {}
        assert await host.robots.remote() == sorted([a, b, c])
        for rid in (a, b, c):
            state = await memory.get_robot(rid)
            assert state is not None and state.status == RobotStatusValue.idle
        wave = SkillCall(
            call_id=f"w-{uuid.uuid4().hex[:6]}", robot=c, skill="wave", args={"times": 2}
        )
        result = await dispatcher.run(wave, timeout_s=WAIT_S)
        assert result.ok and result.data == {"waves": 2}
        assert await dispatcher.run(wave, timeout_s=WAIT_S) == result  # idempotent

        holds = {
            r: SkillCall(call_id=f"h-{r}", robot=r, skill="hold", args={"key": r}) for r in (a, b)
        }
        jobs = {}
        for r, call in holds.items():  # both robots busy at once: they run concurrently
            async with memory.subscribe(kinds=[EntityKind.robot], names=[r]) as sub:
                jobs[r] = asyncio.create_task(dispatcher.run(call, timeout_s=WAIT_S))
                await wait_busy(memory, r, call.call_id, sub)
        assert await dispatcher.cancel(a, holds[a].call_id, "stop a")
        assert (await asyncio.wait_for(jobs[a], WAIT_S)).error == ErrorCode.cancelled
        record = await memory.get_robot(b)
        assert record is not None and record.current_subtask == holds[b].call_id  # b goes on
        assert not jobs[b].done()
        assert await dispatcher.cancel(b, holds[b].call_id, "stop b")
        assert (await asyncio.wait_for(jobs[b], WAIT_S)).error == ErrorCode.cancelled
    finally:
        await dispatcher.close()
        await asyncio.wait_for(asyncio.wrap_future(host.stop.remote().future()), WAIT_S)
        ray.kill(host, no_restart=True)
    state = await memory.get_robot(a)
    assert state is not None and state.status == RobotStatusValue.stopped


async def test_a_hosts_robots_share_one_pool_and_one_heartbeat_loop(
    ray_runtime: Any, redis_url: str, key_prefix: str, memory: Memory
) -> None:
    import ray

    namespace = ray.get_runtime_context().namespace
    configs = [agent_config(redis_url, key_prefix) for _ in range(3)]
    a, b, c = (cfg.robot.id for cfg in configs)
    host, problems = await start_host(
        configs, index=1, namespace=namespace, timeout_s=WAIT_S, runtime_env=RUNTIME_ENV
    )
    try:
        assert problems == {}
        assert await host.heartbeat_robots.remote() == sorted([a, b, c])
        await host.stop.remote(b)  # a stopped agent is no longer beaten for
        assert await host.heartbeat_robots.remote() == sorted([a, c])
        state = await memory.get_robot(b)
        assert state is not None and state.status == RobotStatusValue.stopped
        await host.restart.remote(b)
        assert await host.heartbeat_robots.remote() == sorted([a, b, c])
        # the loop really beats: a robot marked offline comes back online on its own
        async with memory.subscribe(kinds=[EntityKind.robot], names=[a]) as sub:
            await memory.update_robot(a, status=RobotStatusValue.offline)
            while True:
                change = await asyncio.wait_for(sub.__anext__(), WAIT_S)
                if change.op == "online":
                    break
        assert change.by == a
        # each robot's writes carry its own id, through the shared pool
        result = await host.run.remote(
            c, SkillCall(call_id=f"w-{uuid.uuid4().hex[:6]}", robot=c, skill="wave", args={})
        )
        assert result.ok
        record = await memory.get_robot(c)
        assert record is not None and record.updated_by == c
    finally:
        await asyncio.wait_for(asyncio.wrap_future(host.stop.remote().future()), WAIT_S)
        ray.kill(host, no_restart=True)
