"""Who may do what over REST: scoped named tokens (stored hashed in Redis), 401 / 403,
revocation at once, the submitter on each task, the audit stream; e-stop and approvals
through their routes. httpx against the ASGI app (lifespan running), real Redis."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi.routing import iter_route_contexts

from robo_os.brain.api.auth import RequireScope
from robo_os.brain.api.principals import Scope
from robo_os.contracts import SkillResult, TaskStatus

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import TOKEN

PLAN = {"subtasks": [{"id": "a", "robot": "r1", "skill": "pick", "args": {"obj": "apple"}}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_tokens(api: Any) -> dict[str, str]:
    """One named token per scope, made by the configured (admin) token."""
    out = {}
    for scope in ("read", "operator", "admin"):
        r = await api.client.post("/v1/tokens", json={"name": f"{scope}-1", "scope": scope})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["name"] == f"{scope}-1" and body["scope"] == scope and body["token"]
        out[scope] = body["token"]
    return out


def declared_scopes(route: Any) -> set[Scope]:
    found: set[Scope] = set()
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, RequireScope):
            found.add(dep.call.scope)
        stack.extend(dep.dependencies)
    return found


async def test_every_v1_route_declares_its_scope(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"))
    # (FastAPI >= 0.16x keeps included routers as such: their routes are iterated here)
    routes = [r for r in iter_route_contexts(api.app.routes) if r.path.startswith("/v1")]
    assert len(routes) > 15
    for route in routes:
        scopes = declared_scopes(route)
        assert scopes, f"{route.path} declares no scope"
        if set(route.methods) - {"GET", "HEAD"}:
            # a route that changes state needs more than read
            assert scopes - {Scope.read}, f"{sorted(route.methods)} {route.path} needs only read"


async def test_scopes_matrix(fleet, make_api) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.success()
    api = await make_api(ScriptedPlanner(robots={"r1"}), f)
    tokens = await make_tokens(api)
    task = (await api.client.post("/v1/tasks", json={"plan": PLAN})).json()
    done = await api.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})
    assert done.json()["status"] == "succeeded"
    # (method, path, body, scope needed, status when allowed)
    cases: list[tuple[str, str, Any, str, int]] = [
        ("GET", "/v1/tasks", None, "read", 200),
        ("GET", f"/v1/tasks/{task['id']}", None, "read", 200),
        ("GET", f"/v1/tasks/{task['id']}/events", None, "read", 200),
        ("GET", "/v1/robots", None, "read", 200),
        ("GET", "/v1/skills", None, "read", 200),
        ("GET", "/v1/memory/objects", None, "read", 200),
        ("GET", "/v1/metrics", None, "read", 200),
        ("GET", "/v1/estop", None, "read", 200),
        ("POST", "/v1/tasks", {"plan": PLAN}, "operator", 202),
        # the task ended: allowed through auth, then refused by its state
        ("POST", f"/v1/tasks/{task['id']}/cancel", None, "operator", 409),
        ("POST", f"/v1/tasks/{task['id']}/subtasks/a/approve", None, "operator", 409),
        ("POST", f"/v1/tasks/{task['id']}/subtasks/a/reject", None, "operator", 409),
        ("POST", "/v1/estop", {"reason": "matrix"}, "operator", 200),
        ("POST", "/v1/estop/release", None, "admin", 200),
        ("GET", "/v1/tokens", None, "admin", 200),
        ("POST", "/v1/tokens", {"name": "x-{scope}", "scope": "read"}, "admin", 201),
        ("DELETE", "/v1/tokens/x-admin", None, "admin", 204),
        ("GET", "/v1/audit", None, "admin", 200),
    ]
    rank = {"read": 0, "operator": 1, "admin": 2}
    for method, path, body, needed, ok in cases:
        for scope, token in tokens.items():
            if isinstance(body, dict) and "name" in body:
                body = {**body, "name": f"x-{scope}"}
            r = await api.client.request(method, path, json=body, headers=bearer(token))
            if rank[scope] >= rank[needed]:
                assert r.status_code == ok, (method, path, scope, r.status_code, r.text)
            else:
                assert r.status_code == 403, (method, path, scope, r.status_code)
                err = r.json()["error"]
                assert err["code"] == "forbidden"
                assert f"needs the {needed} scope" in err["message"]
                assert f"'{scope}-1' has {scope}" in err["message"]
    # the configured token is admin
    assert (await api.client.get("/v1/audit")).status_code == 200


async def test_tokens_are_hashed_listed_without_secrets_and_revoked_at_once(
    fleet, make_api, redis_url: str, key_prefix: str
) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"))
    tokens = await make_tokens(api)
    assert (await api.client.get("/v1/tasks", headers=bearer(tokens["read"]))).status_code == 200

    listed = await api.client.get("/v1/tokens")
    assert listed.status_code == 200
    rows = listed.json()["tokens"]
    assert [(t["name"], t["scope"]) for t in rows] == [
        ("admin-1", "admin"),
        ("operator-1", "operator"),
        ("read-1", "read"),
    ]
    assert all(t["created_by"] == "root" and t["created_at"] > 0 for t in rows)
    assert next(t for t in rows if t["name"] == "read-1")["last_used_at"] is not None
    assert all("token" not in t for t in rows)
    for secret in [*tokens.values(), TOKEN]:
        assert secret not in listed.text
    # at rest: only digests, in the brain's key prefix
    r = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [k async for k in r.scan_iter(f"{key_prefix}:brain:token*")]
        assert keys
        dump = "".join([str(await r.hgetall(k)) for k in keys])
        assert not any(secret in dump for secret in tokens.values())
    finally:
        await r.aclose()

    # revoked: the very next request is a 401
    gone = await api.client.delete("/v1/tokens/read-1")
    assert gone.status_code == 204
    r401 = await api.client.get("/v1/tasks", headers=bearer(tokens["read"]))
    assert r401.status_code == 401 and r401.json()["error"]["message"] == "invalid bearer token"
    assert (await api.client.delete("/v1/tokens/read-1")).status_code == 404
    names = [t["name"] for t in (await api.client.get("/v1/tokens")).json()["tokens"]]
    assert names == ["admin-1", "operator-1"]
    # another admin token may manage tokens too; the other tokens still work
    again = await api.client.post(
        "/v1/tokens", json={"name": "read-1", "scope": "read"}, headers=bearer(tokens["admin"])
    )
    assert again.status_code == 201 and again.json()["token"] != tokens["read"]
    assert (
        await api.client.get("/v1/tasks", headers=bearer(again.json()["token"]))
    ).status_code == 200


async def test_token_requests_with_bad_input_name_the_problem(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"))
    assert (
        await api.client.post("/v1/tokens", json={"name": "a", "scope": "read"})
    ).status_code == 201
    dup = await api.client.post("/v1/tokens", json={"name": "a", "scope": "admin"})
    assert dup.status_code == 409 and "exists" in dup.json()["error"]["message"]
    root = await api.client.post("/v1/tokens", json={"name": "root", "scope": "read"})
    assert root.status_code == 409
    bad = await api.client.post("/v1/tokens", json={"name": "a b/c", "scope": "read"})
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "name"
    bad = await api.client.post("/v1/tokens", json={"name": "b", "scope": "god"})
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "scope"
    long = await api.client.post("/v1/tokens", json={"name": "n" * 65, "scope": "read"})
    assert long.status_code == 422


async def test_concurrent_creates_of_one_name_make_one_token(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"))
    answers = await asyncio.gather(
        *[api.client.post("/v1/tokens", json={"name": "race", "scope": "read"}) for _ in range(8)]
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    winner = next(a for a in answers if a.status_code == 201).json()["token"]
    assert (await api.client.get("/v1/tasks", headers=bearer(winner))).status_code == 200


async def test_a_task_records_its_submitter(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(robots={"r1"}), f)
    tokens = await make_tokens(api)
    r = await api.client.post("/v1/tasks", json={"plan": PLAN}, headers=bearer(tokens["operator"]))
    assert r.status_code == 202 and r.json()["submitted_by"] == "operator-1"
    got = await api.client.get(f"/v1/tasks/{r.json()['id']}", headers=bearer(tokens["read"]))
    assert got.json()["submitted_by"] == "operator-1"
    mine = await api.client.post("/v1/tasks", json={"plan": PLAN})
    assert mine.json()["submitted_by"] == "root"
    # a read token can neither submit nor cancel anyone's task
    t = r.json()["id"]
    for path in ("/v1/tasks", f"/v1/tasks/{t}/cancel"):
        body = {"plan": PLAN} if path == "/v1/tasks" else None
        refused = await api.client.post(path, json=body, headers=bearer(tokens["read"]))
        assert refused.status_code == 403
    # the operator cancels another principal's task
    call = await f["r1"].next_call()
    assert call.task_id == t
    cancelled = await api.client.post(
        f"/v1/tasks/{mine.json()['id']}/cancel", headers=bearer(tokens["operator"])
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_every_state_change_is_audited_with_who_what_when_and_result(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(
        ScriptedPlanner(
            robots={"r1"}, plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "cut", ["a"]))}
        ),
        f,
        approval_skills=["cut"],
    )
    tokens = await make_tokens(api)  # 3 creates by root
    op, rd = bearer(tokens["operator"]), bearer(tokens["read"])
    t = (await api.client.post("/v1/tasks", json={"instruction": "go"}, headers=op)).json()
    a = await f["r1"].next_call()
    f["r1"].finish(a.call_id)
    await _wait_status(api, t["id"], "awaiting_approval")
    ok = await api.client.post(f"/v1/tasks/{t['id']}/subtasks/b/approve", headers=op)
    assert ok.status_code == 200
    b = await f["r1"].next_call()
    assert (
        await api.client.post("/v1/estop", json={"reason": "drill"}, headers=op)
    ).status_code == 200
    assert (await api.client.post("/v1/estop/release", headers=op)).status_code == 403
    assert (await api.client.post("/v1/estop/release")).status_code == 200
    f["r1"].finish(b.call_id)
    assert (await api.client.post("/v1/tasks", json={"plan": PLAN}, headers=rd)).status_code == 403
    assert (await api.client.post(f"/v1/tasks/{t['id']}/cancel", headers=op)).status_code in (
        200,
        409,
    )
    assert (await api.client.delete("/v1/tokens/read-1")).status_code == 204
    assert (await api.client.post("/v1/tasks", json={}, headers=op)).status_code == 422
    # without a valid token: not in the stream
    assert (await api.client.post("/v1/estop", headers=bearer("nope"))).status_code == 401
    # reads are not audited
    await api.client.get("/v1/tasks")

    entries = await _all_audit(api, limit=3)
    got = [(e["who"], e["action"], e["result"], e["status"]) for e in entries]
    assert got == [
        ("root", "create_token", "ok", 201),
        ("root", "create_token", "ok", 201),
        ("root", "create_token", "ok", 201),
        ("operator-1", "submit_task", "ok", 202),
        ("operator-1", "approve_subtask", "ok", 200),
        ("operator-1", "engage_estop", "ok", 200),
        ("operator-1", "release_estop", "refused", 403),
        ("root", "release_estop", "ok", 200),
        ("read-1", "submit_task", "refused", 403),
        got[9],  # cancel: 200 or 409 depending on whether b's end was stored first
        ("root", "revoke_token", "ok", 204),
        ("operator-1", "submit_task", "refused", 422),
    ]
    assert got[9][:2] == ("operator-1", "cancel_task")
    submit, approve, estop, refused_release = entries[3], entries[4], entries[5], entries[6]
    assert submit["detail"]["task_id"] == t["id"] and submit["method"] == "POST"
    assert approve["target"] == {"task_id": t["id"], "subtask_id": "b"}
    assert estop["detail"]["reason"] == "drill" and estop["scope"] == "operator"
    assert "needs the admin scope" in refused_release["message"]
    assert entries[0]["detail"] == {"name": "read-1", "scope": "read"}
    assert entries[10]["target"] == {"name": "read-1"}
    assert all(e["ts"] > 0 and e["id"] for e in entries)
    assert len({e["id"] for e in entries}) == len(entries)
    # a cursor past the end gives nothing new; a bad one is a 400 naming it
    last = await api.client.get("/v1/audit", params={"cursor": entries[-1]["id"]})
    assert last.json() == {"entries": [], "cursor": entries[-1]["id"]}
    bad = await api.client.get("/v1/audit", params={"cursor": "yesterday"})
    assert bad.status_code == 400 and "invalid cursor" in bad.json()["error"]["message"]


async def _wait_status(
    api: Any, task_id: str, status: str, first: str | None = None
) -> dict[str, Any]:
    """Block on the task's event stream until the task has `status` (no sleeping; the
    ASGI test transport cannot stream SSE, so the store is read directly)."""
    store = api.runtime.store
    cursor = "0-0"
    while True:
        task = (await api.client.get(f"/v1/tasks/{task_id}")).json()
        if task["status"] == status and (first is None or task["subtasks"][0]["status"] == first):
            return dict(task)
        assert task["status"] not in ("succeeded", "failed", "cancelled"), task
        events = await store.read_events(task_id, cursor, block_s=WAIT_S)
        assert events, f"task {task_id} did not reach {status} within {WAIT_S}s"
        cursor = events[-1].cursor


async def _all_audit(api: Any, *, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = (await api.client.get("/v1/audit", params=params)).json()
        assert len(page["entries"]) <= limit
        if not page["entries"]:
            return out
        out += page["entries"]
        cursor = page["cursor"]


async def test_estop_and_approvals_over_rest(fleet, make_api) -> None:
    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(
        robots={"r1", "r2"},
        plans={
            "gated": plan(("a", "r1", "cut")),
            "move": plan(("a", "r2", "pick"), ("b", "r2", "place", ["a"])),
        },
    )
    api = await make_api(planner, f, approval_skills=["cut"])
    tokens = await make_tokens(api)
    op = bearer(tokens["operator"])
    gated = (await api.client.post("/v1/tasks", json={"instruction": "gated"}, headers=op)).json()
    move = (await api.client.post("/v1/tasks", json={"instruction": "move"}, headers=op)).json()
    waiting = await _wait_status(api, gated["id"], "awaiting_approval")
    assert waiting["subtasks"][0]["status"] == "awaiting_approval"
    running = await f["r2"].next_call()

    stop = await api.client.post("/v1/estop", json={"reason": "spill"}, headers=op)
    assert stop.status_code == 200
    assert stop.json()["engaged"] and stop.json()["by"] == "operator-1"
    assert await f["r2"].next_cancel() == running.call_id
    # paused, and the halted subtask back to pending (not failed)
    paused = await _wait_status(api, move["id"], "paused", first="pending")
    assert paused["subtasks"][0]["attempts"] == 1
    state = (await api.client.get("/v1/estop", headers=bearer(tokens["read"]))).json()
    assert state["engaged"] and state["reason"] == "spill"
    health = (await api.client.get("/healthz")).json()
    assert health["scheduler"]["estop"]["engaged"] is True
    # approving during the stop is taken, but nothing starts until the release
    ok = await api.client.post(f"/v1/tasks/{gated['id']}/subtasks/a/approve", headers=op)
    assert ok.status_code == 200
    assert f["r1"].pending_starts() == 0
    again = await api.client.post(f"/v1/tasks/{gated['id']}/subtasks/a/approve", headers=op)
    assert again.status_code == 409 and "not awaiting approval" in again.json()["error"]["message"]
    missing = await api.client.post(f"/v1/tasks/{gated['id']}/subtasks/zz/reject", headers=op)
    assert missing.status_code == 404
    unknown = await api.client.post("/v1/tasks/nope/subtasks/a/approve", headers=op)
    assert unknown.status_code == 404
    long = await api.client.post("/v1/estop", json={"reason": "x" * 501}, headers=op)
    assert long.status_code == 422

    for r in ("r1", "r2"):
        f[r].auto = lambda call: SkillResult.success()
    released = await api.client.post("/v1/estop/release", headers=bearer(tokens["admin"]))
    assert released.status_code == 200 and not released.json()["engaged"]
    for t in (gated, move):
        done = await api.client.get(f"/v1/tasks/{t['id']}/wait", params={"timeout": WAIT_S})
        assert done.json()["status"] == TaskStatus.succeeded.value, done.json()


@pytest.mark.parametrize("scope", ["read", "operator"])
async def test_a_small_scope_cannot_release_the_estop(fleet, make_api, scope: str) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"))
    tokens = await make_tokens(api)
    assert (await api.client.post("/v1/estop")).status_code == 200
    r = await api.client.post("/v1/estop/release", headers=bearer(tokens[scope]))
    assert r.status_code == 403
    assert (await api.client.get("/v1/estop")).json()["engaged"] is True


async def test_reject_over_rest_fails_the_task_naming_who(fleet, make_api) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(robots={"r1"}, plans={"gated": plan(("a", "r1", "cut"))})
    api = await make_api(planner, f, approval_skills=["cut"], max_replans=0)
    tokens = await make_tokens(api)
    op = bearer(tokens["operator"])
    t = (await api.client.post("/v1/tasks", json={"instruction": "gated"}, headers=op)).json()
    await _wait_status(api, t["id"], "awaiting_approval")
    r = await api.client.post(
        f"/v1/tasks/{t['id']}/subtasks/a/reject", json={"reason": "not today"}, headers=op
    )
    assert r.status_code == 200
    done = (await api.client.get(f"/v1/tasks/{t['id']}/wait", params={"timeout": WAIT_S})).json()
    assert done["status"] == "failed"
    assert re.search(r"rejected by operator-1: not today", done["error"]["message"])
    assert done["subtasks"][0]["result"]["error"] == "rejected"
    assert f["r1"].runs == []


async def test_a_robot_stop_over_rest_shows_in_the_state_the_fleet_and_the_gauge(
    fleet, make_api
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    f = await fleet("r1", "r2")
    planner = ScriptedPlanner(robots={"r1", "r2"}, plans={"go": plan(("a", "r1", "pick"))})
    api = await make_api(planner, f)
    tokens = await make_tokens(api)
    op, read = bearer(tokens["operator"]), bearer(tokens["read"])
    task = (await api.client.post("/v1/tasks", json={"instruction": "go"}, headers=op)).json()
    running = await f["r1"].next_call()

    def gauges(text: str) -> dict[tuple[str, str], float]:
        return {
            (s.name, s.labels.get("robot", "")): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
            if s.name.startswith("robo_os_estop")
        }

    refused = await api.client.post("/v1/estop", json={"robots": ["r1"]}, headers=read)
    assert refused.status_code == 403
    unknown = await api.client.post("/v1/estop", json={"robots": ["r1", "r9"]}, headers=op)
    assert unknown.status_code == 422, unknown.text
    problem = unknown.json()["error"]["problems"][0]
    assert "r9" in problem["message"] and problem["field"] == "robots.1"
    assert (await api.client.get("/v1/estop")).json()["robots"] == {}  # nothing stopped
    assert gauges((await api.client.get("/metrics")).text) == {
        ("robo_os_estop_engaged", ""): 0.0,
        ("robo_os_estop_robot", "r1"): 0.0,
        ("robo_os_estop_robot", "r2"): 0.0,
    }

    stop = await api.client.post(
        "/v1/estop", json={"reason": "arm jammed", "robots": ["r1"]}, headers=op
    )
    assert stop.status_code == 200, stop.text
    assert not stop.json()["engaged"] and stop.json()["robots"]["r1"]["by"] == "operator-1"
    assert await f["r1"].next_cancel() == running.call_id
    state = (await api.client.get("/v1/estop", headers=read)).json()
    assert state["robots"]["r1"]["reason"] == "arm jammed"
    robots = {
        r["id"]: r for r in (await api.client.get("/v1/robots", headers=read)).json()["robots"]
    }
    assert robots["r1"]["estopped"] and robots["r1"]["estop"]["by"] == "operator-1"
    assert not robots["r2"]["estopped"] and robots["r2"]["estop"] is None
    one = (await api.client.get("/v1/robots/r1", headers=read)).json()
    assert one["estopped"] is True
    assert gauges((await api.client.get("/metrics")).text) == {
        ("robo_os_estop_engaged", ""): 0.0,
        ("robo_os_estop_robot", "r1"): 1.0,
        ("robo_os_estop_robot", "r2"): 0.0,
    }
    # releasing a robot is the admin's, as releasing the global stop
    body = {"robots": ["r1"]}
    assert (await api.client.post("/v1/estop/release", json=body, headers=op)).status_code == 403
    f["r1"].auto = lambda call: SkillResult.success()
    released = await api.client.post(
        "/v1/estop/release", json=body, headers=bearer(tokens["admin"])
    )
    assert released.status_code == 200 and released.json()["robots"] == {}
    done = await api.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})
    assert done.json()["status"] == TaskStatus.succeeded.value, done.json()
