"""The agent as a real Ray actor (the session's local Ray), reached the way the brain
reaches it: RayDispatcher runs, cancels; describe, camera and stop."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from robo_os_memory import EntityKind, Memory, RobotStatusValue

from robo_os.brain.runtime.dispatch import RayDispatcher
from robo_os.cerebellum.actor import AgentConfig, import_object, spawn_agent, start_agent
from robo_os.contracts import ErrorCode, SkillCall
from robo_os.errors import ConfigError
from robo_os.fleet import RobotConfig
from robo_os.settings import AgentSettings, Settings

WAIT_S = 120.0  # a cold actor start imports robo-os on a shared, busy machine
TESTS = Path(__file__).resolve().parents[1]
# the actor imports the fake robot and the test skills by path, as it would a real driver
RUNTIME_ENV = {"env_vars": {"PYTHONPATH": f"{TESTS}:{TESTS / 'cerebellum'}"}}


def agent_config(redis_url: str, key_prefix: str, *, camera: bool = True, **kw: Any) -> AgentConfig:
    robot = RobotConfig(
        id=f"{key_prefix}-{uuid.uuid4().hex[:4]}",
        embodiment="fake",
        at="kitchen",
        options={
            "capabilities": ["manipulate", "camera"] if camera else ["manipulate"],
            "camera": camera,
        },
    )
    return AgentConfig(
        robot=robot,
        redis_url=redis_url,
        key_prefix=key_prefix,
        agent=AgentSettings(cancel_grace_s=2.0),
        heartbeat_interval_s=0.2,
        robot_factory="robo_os.testing.robot:build_fake_robot",
        skills=("tests.cerebellum.agent_skills:AGENT_SKILLS",),
        **kw,
    )


@pytest.fixture
def actors(ray_runtime: Any) -> Any:
    import ray

    made: list[Any] = []
    yield made
    for handle in made:
        with_timeout = handle.stop.remote()
        try:
            ray.get(with_timeout, timeout=30)
        except Exception:  # the test may have stopped or broken it already
            pass
        ray.kill(handle, no_restart=True)


async def wait_busy(memory: Memory, robot: str, call_id: str, sub: Any) -> None:
    async with asyncio.timeout(WAIT_S):
        async for change in sub:
            if change.fields.get("current_subtask") == call_id:
                return


async def test_agent_actor_runs_cancels_describes_and_stops(
    actors: list[Any], redis_url: str, key_prefix: str, memory: Memory
) -> None:
    import ray

    namespace = ray.get_runtime_context().namespace
    config = agent_config(redis_url, key_prefix)
    rid = config.robot.id
    handle = await start_agent(
        config, namespace=namespace, timeout_s=WAIT_S, runtime_env=RUNTIME_ENV
    )
    actors.append(handle)

    state = await memory.get_robot(rid)
    assert state is not None and state.status == RobotStatusValue.idle
    assert state.node == await handle.node_id.remote()
    assert state.place == "kitchen"
    # the example plug-in's skills are discovered inside the actor, next to the configured ones
    assert {"wave", "count_objects", "hold", "glance"} <= set(state.skills)
    description = await handle.describe.remote()
    assert {s.name for s in description.skills} == set(state.skills)
    assert description.problems == []

    dispatcher = RayDispatcher(namespace, cancel_timeout_s=WAIT_S)
    try:
        wave = SkillCall(
            call_id=f"w-{uuid.uuid4().hex[:6]}", robot=rid, skill="wave", args={"times": 3}
        )
        result = await dispatcher.run(wave, timeout_s=WAIT_S)
        assert result.ok and result.data == {"waves": 3}
        again = await dispatcher.run(wave, timeout_s=WAIT_S)
        assert again == result  # idempotent through Ray too

        png = await handle.camera_image.remote()
        assert png is not None and png.startswith(b"\x89PNG")

        hold = SkillCall(
            call_id=f"h-{uuid.uuid4().hex[:6]}", robot=rid, skill="hold", args={"key": "k"}
        )
        async with memory.subscribe(kinds=[EntityKind.robot], names=[rid]) as sub:
            job = asyncio.create_task(dispatcher.run(hold, timeout_s=WAIT_S))
            await wait_busy(memory, rid, hold.call_id, sub)
        assert await dispatcher.cancel(rid, hold.call_id, "the user cancelled")
        cancelled = await asyncio.wait_for(job, WAIT_S)
        assert cancelled.error == ErrorCode.cancelled
    finally:
        await dispatcher.close()

    await handle.stop.remote()
    state = await memory.get_robot(rid)
    assert state is not None and state.status == RobotStatusValue.stopped


async def test_actor_without_camera_and_a_robot_that_fails(
    actors: list[Any], redis_url: str, key_prefix: str
) -> None:
    import ray

    namespace = ray.get_runtime_context().namespace
    config = agent_config(redis_url, key_prefix, camera=False)
    handle = await start_agent(
        config, namespace=namespace, timeout_s=WAIT_S, runtime_env=RUNTIME_ENV
    )
    actors.append(handle)
    assert await handle.camera_image.remote() is None

    broken = agent_config(redis_url, key_prefix, factory_options={"fail_connect": True})
    bad = spawn_agent(broken, namespace=namespace, runtime_env=RUNTIME_ENV)
    actors.append(bad)
    result = await bad.run.remote(SkillCall(call_id="x", robot=broken.robot.id, skill="noop"))
    assert result.error == ErrorCode.robot_offline and "could not connect" in result.message


def test_config_from_settings_and_import_paths() -> None:
    robot = RobotConfig(id="arm1", embodiment="fixed_arm", at="counter")
    with pytest.raises(ConfigError, match="ROBO_OS_REDIS__URL"):
        AgentConfig.from_settings(Settings(), robot)
    settings = Settings.model_validate(
        {
            "redis": {"url": "redis://h:1/0", "key_prefix": "tenant"},
            "memory": {"heartbeat_interval_s": 0.5},
            "agent": {"llm_subtasks": True},
            "llm": {"base_url": "http://llm/v1", "model": "m"},
        }
    )
    config = AgentConfig.from_settings(settings, robot, factory_options={"world": None})
    assert (config.redis_url, config.key_prefix, config.heartbeat_interval_s) == (
        "redis://h:1/0",
        "tenant",
        0.5,
    )
    assert config.agent.llm_subtasks and config.llm is not None and config.llm.model == "m"
    assert config.robot_factory == "robo_os.cerebellum.drivers:build_robot"
    assert import_object("robo_os.cerebellum.drivers:build_robot").__name__ == "build_robot"
    with pytest.raises(ConfigError, match="cannot import"):
        import_object("robo_os.cerebellum.drivers:nope")
