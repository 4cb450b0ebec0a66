"""The REST API through httpx against the ASGI app (lifespan running), over real Redis."""

from __future__ import annotations

import asyncio
import re

from fastapi.routing import iter_route_contexts
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose

from robo_os.contracts import SkillResult

from .runtime_fakes import WAIT_S, ScriptedPlanner
from .runtime_support import TOKEN

PLAN = {
    "subtasks": [
        {"id": "a", "robot": "r1", "skill": "pick", "args": {"obj": "apple"}},
        {
            "id": "b",
            "robot": "r1",
            "skill": "place",
            "args": {"obj": "apple", "on": "table"},
            "depends_on": ["a"],
        },
    ]
}


async def test_every_v1_route_needs_the_token_and_health_and_docs_do_not(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(), f, token=None)
    for method, path in [
        ("GET", "/v1/tasks"),
        ("POST", "/v1/tasks"),
        ("GET", "/v1/robots"),
        ("GET", "/v1/skills"),
        ("GET", "/v1/memory/objects"),
        ("GET", "/v1/memory/changes"),
        ("GET", "/v1/metrics"),
        # and every other /v1 route the app has, so a new route cannot forget auth
        *[
            (m, re.sub(r"{[^}]+}", "x", route.path))
            # iter_route_contexts: the routes of included routers too (FastAPI >= 0.16x)
            for route in iter_route_contexts(api.app.routes)
            if getattr(route, "path", "").startswith("/v1")
            for m in sorted(getattr(route, "methods", None) or ())
        ],
    ]:
        r = await api.client.request(method, path)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    r = await api.client.get("/v1/tasks", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "invalid bearer token"
    r = await api.client.get("/v1/tasks", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401
    assert (
        await api.client.get("/v1/tasks", headers={"Authorization": f"Bearer {TOKEN}"})
    ).status_code == 200
    health = await api.client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["redis"]["ok"] and body["dispatcher"]["kind"] == "local"
    spec = (await api.client.get("/openapi.json")).json()
    assert {
        "/v1/tasks",
        "/v1/tasks/{task_id}",
        "/v1/tasks/{task_id}/events",
        "/v1/tasks/{task_id}/wait",
        "/v1/robots",
        "/v1/skills",
        "/v1/memory/objects/{name}",
        "/v1/memory/changes",
        "/healthz",
    } <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert (await api.client.get("/docs")).status_code == 200


async def test_auth_can_be_turned_off(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(), f, auth=False, token=None)
    assert (await api.client.get("/v1/tasks")).status_code == 200


async def test_malformed_bodies_get_422_naming_what_is_wrong(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(), f)
    r = await api.client.post("/v1/tasks", json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert "instruction" in r.json()["error"]["message"] and "plan" in r.json()["error"]["message"]
    r = await api.client.post(
        "/v1/tasks", json={"plan": {"subtasks": [{"id": "a"}]}, "colour": "red"}
    )
    problems = r.json()["error"]["problems"]
    fields = {p["field"] for p in problems}
    assert {"plan.subtasks.0.robot", "plan.subtasks.0.skill", "colour"} <= fields
    r = await api.client.post(
        "/v1/tasks", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = await api.client.post("/v1/tasks", json={"instruction": ""})
    assert r.status_code == 422
    r = await api.client.get("/v1/tasks", params={"status": "nonsense"})
    assert r.status_code == 422 and r.json()["error"]["problems"][0]["field"] == "query.status"


async def test_an_explicit_plan_with_defects_gets_422_with_each_problem(fleet, make_api) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner(robots={"r1"})
    api = await make_api(planner, f)
    bad = {
        "subtasks": [
            {"id": "a", "robot": "r9", "skill": "pick", "depends_on": ["b"]},
            {"id": "b", "robot": "r1", "skill": "place", "depends_on": ["a", "zz"]},
        ]
    }
    r = await api.client.post("/v1/tasks", json={"instruction": "label", "plan": bad})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_plan"
    assert {(p["code"], p["subtask"]) for p in err["problems"]} == {
        ("unknown_robot", "a"),
        ("unknown_dependency", "b"),
        ("dependency_cycle", "a"),
    }
    assert "r9" in err["message"]
    assert (await api.client.get("/v1/tasks")).json()["tasks"] == []  # nothing was accepted


async def test_submit_wait_get_list_over_rest(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(robots={"r1"}), f)
    r = await api.client.post("/v1/tasks", json={"instruction": "apple to the table", "plan": PLAN})
    assert r.status_code == 202
    task = r.json()
    assert task["status"] == "pending" and task["instruction"] == "apple to the table"
    assert [s["id"] for s in task["subtasks"]] == ["a", "b"]
    early = await api.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": 0.1})
    assert early.status_code == 200 and early.json()["status"] in ("pending", "running")
    call = await f["r1"].next_call()
    f["r1"].finish(call.call_id, SkillResult.success("picked", data={"grip": 0.8}))
    f["r1"].auto = lambda c: SkillResult.success("placed")
    waited = await api.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})
    done = waited.json()
    assert done["status"] == "succeeded"
    assert [(s["status"], s["result"]["message"]) for s in done["subtasks"]] == [
        ("succeeded", "picked"),
        ("succeeded", "placed"),
    ]
    assert done["subtasks"][0]["result"]["data"] == {"grip": 0.8}
    assert (await api.client.get(f"/v1/tasks/{task['id']}")).json() == done
    listed = (await api.client.get("/v1/tasks", params={"status": "succeeded"})).json()["tasks"]
    assert [t["id"] for t in listed] == [task["id"]]
    assert (await api.client.get("/v1/tasks", params={"status": "running"})).json()["tasks"] == []


async def test_cancel_over_rest(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(), f)
    task = (await api.client.post("/v1/tasks", json={"plan": PLAN})).json()
    call = await f["r1"].next_call()
    r = await api.client.post(f"/v1/tasks/{task['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert f["r1"].cancels[0][0] == call.call_id
    again = await api.client.post(f"/v1/tasks/{task['id']}/cancel")
    assert again.json()["status"] == "cancelled"  # idempotent


async def test_unknown_ids_get_404_and_bad_cursors_400(fleet, make_api) -> None:
    f = await fleet("r1")
    api = await make_api(ScriptedPlanner(), f)
    for method, path in [
        ("GET", "/v1/tasks/nope"),
        ("POST", "/v1/tasks/nope/cancel"),
        ("GET", "/v1/tasks/nope/wait"),
        ("GET", "/v1/tasks/nope/events"),
        ("GET", "/v1/robots/nope"),
        ("GET", "/v1/memory/objects/nope"),
        ("GET", "/v1/nothing-here"),
    ]:
        r = await api.client.request(method, path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found", path
    task = (await api.client.post("/v1/tasks", json={"plan": PLAN})).json()
    r = await api.client.get(f"/v1/tasks/{task['id']}/events", params={"cursor": "yesterday"})
    assert r.status_code == 400 and "invalid cursor" in r.json()["error"]["message"]
    r = await api.client.get("/v1/memory/changes", params={"cursor": "x"})
    assert r.status_code == 400


async def test_a_failing_planner_check_is_a_500_body_not_a_crash(fleet, make_api) -> None:
    f = await fleet("r1")
    planner = ScriptedPlanner()

    async def broken(plan):
        raise RuntimeError("checker bug")

    planner.check = broken  # type: ignore[method-assign]
    api = await make_api(planner, f)
    r = await api.client.post("/v1/tasks", json={"plan": PLAN})
    assert r.status_code == 500 and r.json()["error"] == {
        "code": "internal",
        "message": "internal error: RuntimeError: checker bug",
    }
    assert (await api.client.get("/healthz")).status_code == 200


async def test_fleet_skills_and_memory_endpoints(fleet, make_api, memory: Memory) -> None:
    f = await fleet("r1", "r2")
    await memory.update_robot("r2", place="table")
    await memory.set_robot_skills(
        "r1",
        {
            "pick": {
                "name": "pick",
                "description": "pick it",
                "capabilities": ["manipulate"],
                "timeout_s": 30,
            }
        },
    )
    await memory.set_robot_skills(
        "r2", {"pick": {"name": "pick", "capabilities": ["manipulate"]}, "look": {"name": "look"}}
    )
    await memory.upsert_place(PlaceState(name="table", pose=Pose(x=2.0, y=1.0)))
    await memory.upsert_place(PlaceState(name="counter", pose=Pose(x=0.0, y=0.0)))
    await memory.upsert_object(
        ObjectState(name="apple", on="counter", pose=Pose(x=0.1, y=0.0, z=0.9))
    )
    await memory.upsert_object(ObjectState(name="cup", on="counter"))
    await memory.pick("r2", "cup")
    api = await make_api(ScriptedPlanner(), f)
    c = api.client
    robots = (await c.get("/v1/robots")).json()["robots"]
    assert [r["id"] for r in robots] == ["r1", "r2"]
    assert (await c.get("/v1/robots/r2")).json()["holding"] == "cup"
    skills = {s["name"]: s for s in (await c.get("/v1/skills")).json()["skills"]}
    assert skills["pick"]["robots"] == ["r1", "r2"] and skills["pick"]["timeout_s"] == 30
    assert skills["look"]["robots"] == ["r2"]
    apple = (await c.get("/v1/memory/objects/apple")).json()
    assert (apple["place"], apple["on"], apple["held_by"], apple["pose"]["z"]) == (
        "counter",
        "counter",
        None,
        0.9,
    )
    cup = (await c.get("/v1/memory/objects/cup")).json()
    assert (cup["held_by"], cup["place"]) == ("r2", "table")
    assert {o["name"] for o in (await c.get("/v1/memory/objects")).json()["objects"]} == {
        "apple",
        "cup",
    }
    assert [p["name"] for p in (await c.get("/v1/memory/places")).json()["places"]] == [
        "counter",
        "table",
    ]
    page = (await c.get("/v1/memory/changes", params={"kind": "object", "count": 1})).json()
    assert len(page["changes"]) == 1 and page["changes"][0]["name"] == "apple"
    rest = (
        await c.get("/v1/memory/changes", params={"kind": "object", "cursor": page["cursor"]})
    ).json()
    assert rest["changes"] and all(ch["kind"] == "object" for ch in rest["changes"])
    assert rest["changes"][0]["cursor"] != page["changes"][0]["cursor"]


async def test_app_resumes_active_tasks_on_start(fleet, make_api) -> None:
    f = await fleet("r1")
    first = await make_api(ScriptedPlanner(), f)
    task = (await first.client.post("/v1/tasks", json={"plan": PLAN})).json()
    a = await f["r1"].next_call()
    await first.lifespan.__aexit__(None, None, None)
    first.lifespan = _Noop()
    f["r1"].finish(a.call_id)
    f["r1"].auto = lambda c: SkillResult.success()
    second = await make_api(ScriptedPlanner(), f)
    done = (
        await second.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})
    ).json()
    assert done["status"] == "succeeded"
    assert f["r1"].log.count(("start", "r1", a.call_id)) == 1


class _Noop:
    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0)
