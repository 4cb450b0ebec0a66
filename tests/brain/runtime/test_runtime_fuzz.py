"""Property-based requests from the brain's own OpenAPI schema (schemathesis), against the
real app served by uvicorn over real Redis: no input, however odd, gets a 5xx.

Bounded: a fixed number of examples per operation, derandomised (the same run every
time), each call with a timeout. Set ROBO_OS_FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from robo_os_memory import Memory

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import SkillResult
from robo_os.services import bind_listener

from .runtime_fakes import WAIT_S, ScriptedPlanner
from .runtime_support import TOKEN, brain_settings

EXAMPLES = int(os.environ.get("ROBO_OS_FUZZ_EXAMPLES", "25"))
STREAMING = ("/v1/tasks/{task_id}/events",)
"""An event stream stays open while its task runs; its errors are tested in
test_runtime_sse.py. Every other operation is fuzzed."""


@pytest.fixture
async def base_url(fleet, memory: Memory, redis_url: str, key_prefix: str) -> AsyncIterator[str]:
    f = await fleet("r1", "r2")
    for agent in f.agents.values():
        agent.auto = lambda call: SkillResult.success("done")
    app = create_app(
        brain_settings(redis_url, key_prefix),
        memory=memory,
        dispatcher=LocalDispatcher(f.agents),
        planner=ScriptedPlanner(robots={"r1", "r2"}),
        watch_liveness=False,
    )
    sock = bind_listener("127.0.0.1", 0, backlog=64)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    job = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(job, WAIT_S)
        sock.close()


def fuzz(base_url: str) -> tuple[Counter[int], list[str], set[str]]:
    """Every operation, EXAMPLES generated requests each: the statuses, the 5xx answers
    found, and the answers whose status the operation does not document."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    errors: list[str] = []
    undocumented: set[str] = set()
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMING:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if case.query and "wait_s" in case.query:
                case.query["wait_s"] = 0  # a long poll would only wait, not test
            response = case.call(base_url=base_url, headers=headers, timeout=WAIT_S)
            statuses[response.status_code] += 1
            documented = set(case.operation.definition.raw.get("responses", {}))
            if str(response.status_code) not in documented and "default" not in documented:
                undocumented.add(
                    f"{case.method} {case.operation.path} -> {response.status_code}"
                    f" (documented: {', '.join(sorted(documented))}): {response.text[:160]}"
                )
            if response.status_code >= 500:
                errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}:"
                    f" {response.text[:300]}"
                )

        run()
    return statuses, errors, undocumented


async def test_no_generated_request_gets_a_server_error(base_url: str) -> None:
    statuses, errors, undocumented = await asyncio.to_thread(fuzz, base_url)
    assert errors == []
    # every status a route answered is in its OpenAPI responses
    assert not undocumented, "\n".join(sorted(undocumented))
    # the requests reached the routes (authorised), and both kinds of answer came back
    assert sum(statuses.values()) >= 12 * min(EXAMPLES, 5), statuses
    assert sum(n for s, n in statuses.items() if s < 300) >= 12, statuses
    assert sum(n for s, n in statuses.items() if 400 <= s < 500 and s != 401) >= 12, statuses
