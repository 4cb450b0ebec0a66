"""`robo-os token create/list/revoke`, `robo-os estop`, `robo-os task approve/reject` and
`robo-os audit` against a brain served by uvicorn (real HTTP, real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from robo_os_memory import Memory
from typer.testing import CliRunner, Result

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.cli import app as cli_app
from robo_os.errors import UserError
from robo_os.services import bind_listener

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import TOKEN, Fleet, brain_settings


@pytest.fixture
async def served(
    fleet, memory: Memory, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[str, Fleet]]:
    f = await fleet("r1")
    app = create_app(
        brain_settings(redis_url, key_prefix, approval_skills=["cut"], max_replans=0),
        memory=memory,
        dispatcher=LocalDispatcher(f.agents),
        planner=ScriptedPlanner(plans={"gated": plan(("a", "r1", "cut"))}),
        watch_liveness=False,
    )
    sock = bind_listener("127.0.0.1", 0, backlog=16)  # connections queue here until uvicorn accepts: no need to wait for it
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    job = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}", f
    finally:
        server.should_exit = True
        await asyncio.wait_for(job, WAIT_S)
        sock.close()


async def cli(url: str, *args: str, token: str = TOKEN) -> Result:
    """Run the CLI in a thread (it is synchronous; the server runs on this loop)."""
    env = {"ROBO_OS_API__TOKEN": token}
    return await asyncio.to_thread(CliRunner().invoke, cli_app, [*args, "--url", url], env=env)


def refused(result: Result, status: int, text: str) -> None:
    """The CLI stopped on the API's refusal (`robo-os` prints it and exits 2)."""
    assert isinstance(result.exception, UserError), result.output
    assert f"HTTP {status}" in str(result.exception) and text in str(result.exception)


async def test_tokens_from_the_cli(served: tuple[str, Any]) -> None:
    url, _ = served
    made = await cli(url, "token", "create", "--name", "line-app", "--scope", "operator")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert len(secret) >= 40
    listed = await cli(url, "token", "list")
    assert listed.exit_code == 0 and "line-app" in listed.stdout and "operator" in listed.stdout
    assert secret not in listed.stdout
    # the new token works with its scope: it may stop, not release
    assert (await cli(url, "estop", "--reason", "drill", token=secret)).exit_code == 0
    refused(await cli(url, "estop", "--release", token=secret), 403, "needs the admin scope")
    assert (await cli(url, "estop", "--status", token=secret)).stdout.startswith(
        "emergency stop ENGAGED"
    )
    released = await cli(url, "estop", "--release")
    assert released.exit_code == 0 and "released" in released.stdout
    assert (await cli(url, "token", "revoke", "line-app")).exit_code == 0
    refused(await cli(url, "estop", "--status", token=secret), 401, "invalid bearer token")
    assert "line-app" not in (await cli(url, "token", "list")).stdout
    audit = await cli(url, "audit", "--json")
    assert audit.exit_code == 0
    for action in ("create_token", "engage_estop", "release_estop", "revoke_token"):
        assert action in audit.stdout


async def test_approve_and_reject_from_the_cli(served: tuple[str, Any]) -> None:
    url, f = served
    from robo_os.client import RoboOSClient

    def submit() -> dict[str, Any]:
        with RoboOSClient(url, TOKEN) as c:
            return c.submit("gated")

    def wait(task_id: str) -> dict[str, Any]:
        with RoboOSClient(url, TOKEN) as c:
            return c.wait(task_id, timeout_s=WAIT_S)

    t1 = await asyncio.to_thread(submit)
    approved = await _until_approved(url, t1["id"])
    assert approved.exit_code == 0 and "a approved" in approved.stdout
    call = await f["r1"].next_call()
    f["r1"].finish(call.call_id)
    assert (await asyncio.to_thread(wait, t1["id"]))["status"] == "succeeded"

    t2 = await asyncio.to_thread(submit)
    await _wait_awaiting(url, t2["id"])
    rejected = await cli(url, "task", "reject", t2["id"], "a", "--reason", "no")
    assert rejected.exit_code == 0
    done = await asyncio.to_thread(wait, t2["id"])
    assert done["status"] == "failed" and "rejected by root: no" in done["error"]["message"]
    refused(await cli(url, "task", "approve", t2["id"], "a"), 409, "already failed")


async def _wait_awaiting(url: str, task_id: str) -> None:
    """Follow the task's events (SSE, blocking) until it asks for approval."""
    from robo_os.client import RoboOSClient

    def follow() -> None:
        with RoboOSClient(url, TOKEN) as c:
            for event in c.events(task_id):
                if event["kind"] == "awaiting_approval":
                    return
        raise AssertionError("the task ended without asking for approval")

    await asyncio.wait_for(asyncio.to_thread(follow), WAIT_S)


async def _until_approved(url: str, task_id: str) -> Result:
    await _wait_awaiting(url, task_id)
    return await cli(url, "task", "approve", task_id, "a")


async def test_estop_of_one_robot_from_the_cli(served: tuple[str, Any]) -> None:
    url, _ = served
    stopped = await cli(url, "estop", "--robot", "r1", "--reason", "arm jammed")
    assert stopped.exit_code == 0, stopped.output
    assert "released" in stopped.stdout  # the global stop is not engaged...
    assert "r1 STOPPED" in stopped.stdout and "arm jammed" in stopped.stdout  # ...r1's is
    refused(await cli(url, "estop", "--robot", "r1", "--robot", "nope"), 422, "unknown robot")
    released = await cli(url, "estop", "--release", "--robot", "r1")
    assert released.exit_code == 0 and "STOPPED" not in released.stdout
