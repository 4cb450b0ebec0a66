"""Request limits over the REST API: an oversized body is refused while it is read, an
oversized plan or name gets a 422 naming the limit, and the brain keeps answering."""

from __future__ import annotations

import asyncio
from typing import Any

from robo_os.brain.api.limits import BodySizeLimit
from robo_os.contracts import MAX_NAME_LENGTH, MAX_PLAN_SUBTASKS, SkillResult

from .runtime_fakes import ScriptedPlanner


async def test_a_declared_oversized_body_gets_413_naming_the_limit(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"))
    limit = api.app.state.settings.api.max_body_bytes
    r = await api.client.post(
        "/v1/tasks",
        content=b"{" + b" " * (50 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "body_too_large" and str(limit) in error["message"]
    assert "max_body_bytes" in error["message"]
    # the brain is fine afterwards
    assert (await api.client.get("/v1/tasks")).status_code == 200


async def test_an_undeclared_body_is_cut_off_after_the_limit() -> None:
    """A chunked 50 MB upload: the middleware stops reading just past the limit."""
    limit = 1024 * 1024
    chunk = b"x" * 65536
    total_chunks = (50 * 1024 * 1024) // len(chunk)
    read = 0
    app_called = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal app_called
        app_called = True

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < total_chunks}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/tasks", "headers": []}
    await BodySizeLimit(app, max_bytes=limit)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert not app_called
    assert read == limit // len(chunk) + 1  # one chunk past the limit, not 800


async def test_a_body_under_the_limit_reaches_the_app_whole() -> None:
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["body"])

    parts = [b"abc", b"def", b""]

    async def receive() -> dict[str, Any]:
        body = parts.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(parts)}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("the middleware must not answer")

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    await BodySizeLimit(app, max_bytes=1024)(scope, receive, send)
    assert seen == [b"abcdef"]


def subtasks(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"s{i}",
            "robot": "r1",
            "skill": "pick",
            "args": {},
            "depends_on": [f"s{i - 1}"] if i else [],
        }
        for i in range(n)
    ]


async def test_an_oversized_plan_is_refused_quickly_and_the_brain_stays_responsive(
    fleet, make_api
) -> None:
    api = await make_api(ScriptedPlanner(robots={"r1"}), await fleet("r1"))
    big = {"instruction": "a long chain", "plan": {"subtasks": subtasks(MAX_PLAN_SUBTASKS + 1)}}
    submit = asyncio.ensure_future(api.client.post("/v1/tasks", json=big))
    health = await asyncio.wait_for(api.client.get("/healthz"), 10)
    assert health.status_code == 200
    r = await asyncio.wait_for(submit, 10)
    assert r.status_code == 422
    assert str(MAX_PLAN_SUBTASKS) in r.json()["error"]["message"]
    assert (await api.client.get("/v1/tasks")).json()["tasks"] == []  # nothing was stored


async def test_a_huge_name_gets_422_naming_the_limit_without_echoing_it(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(robots={"r1"}), await fleet("r1"))
    plan = subtasks(1)
    plan[0]["robot"] = "r" * 200_000
    r = await api.client.post("/v1/tasks", json={"plan": {"subtasks": plan}})
    assert r.status_code == 422
    assert str(MAX_NAME_LENGTH) in r.json()["error"]["message"]
    assert len(r.content) < 4096


async def test_malformed_json_is_reported_with_line_and_column(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(robots={"r1"}), await fleet("r1"))
    body = b'{\n  "instruction": "x",\n  "plan": {"subtasks": [}\n}'
    r = await api.client.post(
        "/v1/tasks", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "line 3, column 25" in message and "JSON" in message


async def test_nan_and_infinity_are_refused_not_stored(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(robots={"r1"}), await fleet("r1"))
    for bad in (b"NaN", b"Infinity", b"-Infinity"):
        body = (
            b'{"plan": {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick",'
            b' "args": {"x": ' + bad + b"}}]}}"
        )
        r = await api.client.post(
            "/v1/tasks", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, (bad, r.text)
    assert (await api.client.get("/v1/tasks")).json()["tasks"] == []


async def test_out_of_range_cursors_are_a_client_error(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(robots={"r1"}), await fleet("r1"))
    for cursor in ("999999999999999999999999-0", "1-18446744073709551616", "abc", "-1"):
        r = await api.client.get("/v1/memory/changes", params={"cursor": cursor})
        assert r.status_code == 400, (cursor, r.text)
        assert "invalid cursor" in r.json()["error"]["message"]
    edge = await api.client.get("/v1/memory/changes", params={"cursor": "18446744073709551615-0"})
    assert edge.status_code == 200


async def test_cancelling_a_task_that_already_ended_is_a_conflict(fleet, make_api) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.success("done")
    api = await make_api(ScriptedPlanner(robots={"r1"}), f)
    plan = {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick", "args": {}}]}
    task = (await api.client.post("/v1/tasks", json={"plan": plan})).json()
    done = (await api.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": 20})).json()
    assert done["status"] == "succeeded"
    r = await api.client.post(f"/v1/tasks/{task['id']}/cancel")
    assert r.status_code == 409 and "already succeeded" in r.json()["error"]["message"]
    assert (await api.client.get(f"/v1/tasks/{task['id']}")).json()["status"] == "succeeded"


async def test_an_idempotency_key_makes_a_retried_submission_one_task(fleet, make_api) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.success("done")
    api = await make_api(ScriptedPlanner(robots={"r1"}), f)
    plan = {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick", "args": {}}]}
    headers = {"Idempotency-Key": "order-7f3a"}
    first = await api.client.post("/v1/tasks", json={"plan": plan}, headers=headers)
    again = await api.client.post("/v1/tasks", json={"plan": plan}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    other = await api.client.post(
        "/v1/tasks", json={"plan": plan}, headers={"Idempotency-Key": "order-other"}
    )
    assert other.json()["id"] != first.json()["id"]
    ids = {t["id"] for t in (await api.client.get("/v1/tasks")).json()["tasks"]}
    assert ids == {first.json()["id"], other.json()["id"]}


async def test_concurrent_requests_with_one_key_create_one_task(fleet, make_api) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.success("done")
    api = await make_api(ScriptedPlanner(robots={"r1"}), f)
    plan = {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick", "args": {}}]}
    answers = await asyncio.gather(
        *(
            api.client.post("/v1/tasks", json={"plan": plan}, headers={"Idempotency-Key": "k1"})
            for _ in range(8)
        )
    )
    assert all(r.status_code in (202, 409) for r in answers), [r.status_code for r in answers]
    created = {r.json()["id"] for r in answers if r.status_code == 202}
    assert len(created) == 1
    assert len((await api.client.get("/v1/tasks")).json()["tasks"]) == 1


async def test_a_refused_request_does_not_use_up_its_key(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(robots={"r1"}), await fleet("r1"))
    headers = {"Idempotency-Key": "retry-me"}
    bad = {"subtasks": [{"id": "a", "robot": "r9", "skill": "pick", "args": {}}]}
    refused = await api.client.post("/v1/tasks", json={"plan": bad}, headers=headers)
    assert refused.status_code == 422
    good = {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick", "args": {}}]}
    accepted = await api.client.post("/v1/tasks", json={"plan": good}, headers=headers)
    assert accepted.status_code == 202 and "idempotent-replayed" not in accepted.headers
    too_long = await api.client.post(
        "/v1/tasks", json={"plan": good}, headers={"Idempotency-Key": "k" * 201}
    )
    assert too_long.status_code == 422
