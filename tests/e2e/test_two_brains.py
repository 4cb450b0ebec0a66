"""Two brains on one deployment, as real processes: the deployment (Redis, Ray, the
physics world and the agents; `robo-os up --no-brain`) runs here, and two `robo-os brain`
processes join its Redis and Ray cluster. The leader is killed (SIGKILL) while the task
runs; the other brain takes over, finishes the task, runs no call a second time, and
memory agrees with the simulator afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from robo_os.keys import AgentKeys
from robo_os.services import EmbeddedRedis, free_port
from robo_os.settings import Settings
from robo_os.stack import Stack

TOKEN = "two-brains-token"
BRAIN_UP_S = 180.0
"""How long a brain process may take to answer /healthz (joining Ray on a loaded machine)."""


class BrainProcess:
    def __init__(self, name: str, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.name, self.process, self.url, self.log = name, process, url, log

    def client(self, timeout_s: float = BRAIN_UP_S) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout_s
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def brain_process(name: str, env: dict[str, str], state: Path) -> Iterator[BrainProcess]:
    port = free_port()
    log = state / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("robo-os")), "brain", "--id", name, "--port", str(port)],
            env={**env, "ROBO_OS_STATE_DIR": str(state / name)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    brain = BrainProcess(name, process, f"http://127.0.0.1:{port}", log)
    try:
        yield brain
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def healthy(brain: BrainProcess) -> dict:
    """/healthz of a brain once it serves. Its port listens before it joins Ray (a request
    then waits in the backlog), but not before Python has imported robo-os: until then
    the connection is refused."""
    deadline = time.monotonic() + BRAIN_UP_S
    with brain.client() as c:
        while True:
            if brain.process.poll() is not None:
                raise AssertionError(f"{brain.name} exited {brain.process.returncode}:\n{brain.output()}")
            try:
                answer = c.get("/healthz")
                break
            except httpx.ConnectError as e:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{brain.name} did not listen ({e}):\n{brain.output()}") from e
            with contextlib.suppress(subprocess.TimeoutExpired):  # the pause: ends if it exits
                brain.process.wait(timeout=0.5)
    assert answer.status_code == 200, f"{answer.text}\n{brain.output()}"
    return answer.json()


@pytest.fixture
async def deployment(redis_server: EmbeddedRedis, ray_runtime: object, tmp_path: Path):
    import ray

    settings = Settings(
        redis={"url": redis_server.url, "key_prefix": f"brains-{uuid.uuid4().hex[:8]}"},
        ray={"namespace": f"brains-{uuid.uuid4().hex[:8]}"},
        api={"token": SecretStr(TOKEN)},
        memory={"heartbeat_interval_s": 0.5},
        state_dir=tmp_path,
    )
    stack = Stack(settings)
    await stack.start_deployment()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROBO_OS_", "RAY_ADDRESS"))}
    env |= {
        "ROBO_OS_REDIS__URL": redis_server.url,
        "ROBO_OS_REDIS__KEY_PREFIX": settings.redis.key_prefix,
        "ROBO_OS_RAY__ADDRESS": ray.get_runtime_context().gcs_address,
        "ROBO_OS_RAY__NAMESPACE": settings.ray.namespace,
        "ROBO_OS_API__TOKEN": TOKEN,
        "ROBO_OS_HA__LEASE_TTL_S": "1.5",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    try:
        yield stack, env
    finally:
        await stack.stop()


@pytest.mark.timeout(600)
async def test_the_leader_is_killed_mid_task_and_the_other_brain_finishes_it(
    deployment, tmp_path: Path
) -> None:
    stack, env = deployment
    with brain_process("brain-a", env, tmp_path) as a:
        assert healthy(a)["brain"]["role"] in ("leader", "taking over")
        with brain_process("brain-b", env, tmp_path) as b:
            seen = healthy(b)["brain"]
            assert seen["role"] == "follower" and seen["leader"]["brain"] == "brain-a"
            with b.client() as client:
                posted = client.post(
                    "/v1/tasks", json={"instruction": "bring the apple to the dining table"}
                )
                assert posted.status_code == 202, posted.text
                assert posted.headers["x-robo-os-brain"] == "brain-a"
                task_id = posted.json()["id"]
                # the first call under way on its robot: now the leader dies
                with client.stream("GET", f"/v1/tasks/{task_id}/events") as events:
                    for line in events.iter_lines():
                        if '"kind":"subtask_started"' in line.replace(" ", ""):
                            break
                a.process.send_signal(signal.SIGKILL)
                a.process.wait(timeout=30)

                waited = client.get(f"/v1/tasks/{task_id}/wait", params={"timeout_s": 240})
                task = waited.json()
                assert task["status"] == "succeeded", f"{task}\n{b.output()}"
                health = client.get("/healthz").json()["brain"]
                assert health["role"] == "leader" and health["leader"]["epoch"] >= 2
                diff = client.get("/v1/world/diff").json()
                assert diff["observers"] and diff["disagreements"] == [], diff

    # nothing ran twice: every call an agent ran for the task is one attempt of a subtask
    import redis.asyncio as aioredis

    r = aioredis.from_url(env["ROBO_OS_REDIS__URL"], decode_responses=True)
    try:
        ran = [
            call
            for robot in stack.agents
            for call in await r.zrange(AgentKeys(env["ROBO_OS_REDIS__KEY_PREFIX"], robot).results, 0, -1)
            if call.startswith(f"{task_id}/")
        ]
    finally:
        await r.aclose()
    expected = [
        f"{task_id}/{s['id']}/{n}" for s in task["subtasks"] for n in range(1, s["attempts"] + 1)
    ]
    assert ran and sorted(ran) == sorted(expected)
