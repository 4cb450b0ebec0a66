"""The supervised world actor (robo_os/sim/actor.py): its process is killed while a robot
holds a cup and another drives; Ray restarts it under the same handle, the new process
rebuilds the world from the shared memory (the cup still in the gripper), a motion of
the dead process is reported lost as an infrastructure failure, and memory agrees with
the rebuilt world. Restarts used up: the world stays dead (an infrastructure failure)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import pytest
from robo_os_memory import Memory
from robo_os_memory.models import RobotStatusValue

from robo_os.cerebellum.reconcile import diff_all
from robo_os.errors import ServiceUnavailableError
from robo_os.restart import adopt_world, remembered_world
from robo_os.settings import SimSettings
from robo_os.sim import Navigate, RayWorldClient, SimRobot, seed_memory, start_world_actor
from robo_os.sim.actor import MemorySource
from robo_os.skill.invoke import is_infrastructure_error

from .sim_scenes import WAIT_S, household

# each kills and restarts a world process (Ray starts a worker, imports pybullet)
pytestmark = pytest.mark.slow


def _world(redis_url: str, key_prefix: str, *, max_restarts: int) -> Any:
    # paced to the wall clock: the carrier's drive lasts long enough to be cut short
    return start_world_actor(
        household(),
        SimSettings(real_time=True),
        name=f"sim-world-{uuid.uuid4().hex[:8]}",
        source=MemorySource(
            redis_url, remember=remembered_world, adopt=adopt_world, prefix=key_prefix
        ),
        max_restarts=max_restarts,
    )


async def _kill_process(handle: Any) -> int:
    pid = int(await asyncio.wait_for(handle.process_id.remote(), WAIT_S))
    os.kill(pid, signal.SIGKILL)
    return pid


async def _back(handle: Any, dead: int) -> Any:
    """The restarted world's incarnation, once another process than `dead` answers."""
    import ray

    # a call landing while Ray restarts the process fails (ActorUnavailableError): Ray
    # sends it again (with its backoff) until the new process takes it
    async with asyncio.timeout(WAIT_S):
        while True:
            try:
                now = await handle.incarnation.options(max_task_retries=20).remote()
            except ray.exceptions.RayActorError:
                continue
            if now.pid != dead:
                return now


async def test_a_killed_world_comes_back_rebuilt_from_memory(
    ray_runtime: object, redis_url: str, key_prefix: str, memory: Memory
) -> None:
    import ray

    handle = _world(redis_url, key_prefix, max_restarts=2)
    try:
        client = RayWorldClient(handle)
        first = await asyncio.wait_for(handle.incarnation.remote(), WAIT_S)
        assert not first.restarted
        await seed_memory(memory, client)
        robots = {r.id: SimRobot(r, client) for r in household().robots}
        arm1 = robots["arm1"]
        assert arm1.arm is not None
        picked = await asyncio.wait_for(arm1.arm.pick("cup"), WAIT_S)
        assert picked.ok, picked
        await memory.pick("arm1", "cup")  # what the pick skill writes
        # mm1's agent is dead (memory has it offline): the rebuilt world must hold it still
        await memory.update_robot("mm1", status=RobotStatusValue.offline)
        drive = await client.start("carrier1", Navigate(target="sink"))
        assert await client.wait(drive, 0.05) is None  # still driving

        waiting = asyncio.ensure_future(client.wait(drive, WAIT_S))
        t0 = time.monotonic()
        dead = await _kill_process(handle)
        with pytest.raises(Exception) as in_flight:
            await waiting
        assert is_infrastructure_error(in_flight.value), repr(in_flight.value)

        # the same handle answers again, from a new process rebuilt from memory
        again = await _back(handle, dead)
        back_s = time.monotonic() - t0
        assert again.restarted and again.pid != dead and again.token != first.token
        assert again.rebuilt_in_s is not None and again.rebuilt_in_s < back_s
        assert again.halted == ("mm1",) and again.notes == ()
        cup = await client.object_info("cup")
        assert cup.held_by == "arm1", cup
        assert (await client.robot_info("arm1")).holding == "cup"
        # the drive of the dead process is lost, said as the infrastructure's failure
        with pytest.raises(ServiceUnavailableError, match="world restarted") as lost:
            await client.wait(drive, 0.05)
        assert is_infrastructure_error(lost.value)
        assert await client.cancel(drive) is False
        # halted until its supervisor resumes it, as before the death
        refused = await client.wait(await client.start("mm1", Navigate(target="sink")), WAIT_S)
        assert refused is not None and "halted" in refused.message
        # memory and the rebuilt world agree; the carrier stands where memory had it
        await memory.update_robot("mm1", status=RobotStatusValue.idle)
        observers: dict[str, Any] = dict(robots)
        assert await diff_all(memory, observers, ask_all=True) == []

        # and it works: the cup is put down by the arm, in the rebuilt physics
        placed = await asyncio.wait_for(arm1.arm.place("cup", "kitchen_counter"), WAIT_S)
        assert placed.ok, placed
        assert (await client.object_info("cup")).on == "kitchen_counter"
        assert back_s < WAIT_S
    finally:
        ray.kill(handle, no_restart=True)


async def test_a_world_out_of_restarts_stays_dead(
    ray_runtime: object, redis_url: str, key_prefix: str, memory: Memory
) -> None:
    import ray

    handle = _world(redis_url, key_prefix, max_restarts=0)
    try:
        client = RayWorldClient(handle)
        await seed_memory(memory, client)
        await _kill_process(handle)
        with pytest.raises(Exception) as dead:
            await asyncio.wait_for(client.describe(), WAIT_S)
        assert is_infrastructure_error(dead.value), repr(dead.value)
    finally:
        ray.kill(handle, no_restart=True)
