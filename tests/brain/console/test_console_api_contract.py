"""The console against the API it calls: every call it can make exists in the app's
OpenAPI schema (so the two cannot drift apart), still needs the token, and the change-feed
behaviour it relies on holds. Plus what console.js must never do with data."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from robo_os_memory.models import ObjectState

from .console_support import TOKEN, Brain, console_text, js_routes, js_string_constant

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JS = console_text("console.js")
ROUTES = js_routes(JS)


def test_the_api_table_is_read_whole() -> None:
    # A parse that silently found nothing would make the drift checks below vacuous.
    names = {r.name for r in ROUTES}
    assert {
        "health",
        "robots",
        "objects",
        "changes",
        "tasks",
        "task",
        "submit",
        "cancel",
        "events",
    } <= names
    # Every API path written anywhere in console.js is one of the table's.
    literals = set(re.findall(r'["`](/(?:v1/|healthz)[^"`]*)["`]', JS))
    assert literals == {r.path for r in ROUTES}


def _parameters(operation: dict[str, Any], where: str) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == where}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
async def test_every_call_exists_in_the_openapi_schema(brain: Brain, route: Any) -> None:
    paths = brain.app.openapi()["paths"]
    assert route.path in paths, f"console.js calls {route.path}, which the API does not have"
    operation = paths[route.path].get(route.method.lower())
    assert operation is not None, f"{route.method} {route.path} is not in the API"
    assert set(re.findall(r"\{(\w+)\}", route.path)) == _parameters(operation, "path")
    missing = set(route.query) - _parameters(operation, "query")
    assert not missing, f"{route.path} has no query parameter(s) {missing}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.path != "/healthz"], ids=lambda r: r.name)
async def test_every_api_call_still_needs_the_token(brain: Brain, route: Any) -> None:
    path = route.path.replace("{task_id}", "no-such-task")
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
        r = await brain.client.request(route.method, path, headers=headers, json=None)
        assert r.status_code == 401, (route.path, headers, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "unauthorized"


async def test_health_is_open(brain: Brain) -> None:
    r = await brain.client.get("/healthz")
    assert r.status_code in (200, 503)
    assert {"status", "redis", "dispatcher", "planner", "scheduler"} <= set(r.json())


async def test_the_change_feed_starts_at_its_newest_change(brain: Brain) -> None:
    """The console follows the feed from `cursor=latest`: no changes, the newest cursor;
    then exactly what changed after it."""
    mem = brain.memory
    for i in range(5):
        await mem.upsert_object(ObjectState(name=f"cup{i}"))
    latest = js_string_constant(JS, "LATEST")
    r = await brain.client.get(
        "/v1/memory/changes", params={"cursor": latest, "count": 1}, headers=AUTH
    )
    assert r.status_code == 200
    tail = r.json()
    assert tail["changes"] == []
    assert tail["cursor"] == await mem.latest_cursor()

    await mem.update_robot("r1", activity="pick apple: lifting", progress=0.5)
    await mem.upsert_object(ObjectState(name="apple"))
    query = [("cursor", tail["cursor"]), ("count", "1000")]
    query += [("kind", k) for k in ("robot", "object", "place")]
    page = (await brain.client.get("/v1/memory/changes", params=query, headers=AUTH)).json()
    assert [(c["kind"], c["name"]) for c in page["changes"]] == [
        ("robot", "r1"),
        ("object", "apple"),
    ]
    again = await brain.client.get(
        "/v1/memory/changes", params=[("cursor", page["cursor"]), *query[1:]], headers=AUTH
    )
    assert again.json()["changes"] == []


async def test_the_change_feed_long_polls(brain: Brain) -> None:
    """With `wait_s`, a read that finds nothing new blocks until the next change (of the
    kinds asked for) instead of answering empty; with nothing happening it answers empty
    when the wait is over."""
    mem = brain.memory
    tail = (
        await brain.client.get("/v1/memory/changes", params={"cursor": "latest"}, headers=AUTH)
    ).json()
    query = {"cursor": tail["cursor"], "kind": "object", "wait_s": 30}
    waiting = asyncio.create_task(
        brain.client.get("/v1/memory/changes", params=query, headers=AUTH)
    )
    await mem.update_robot("r1", activity="not an object: the long poll keeps waiting")
    await mem.upsert_object(ObjectState(name="kettle"))
    page = (await asyncio.wait_for(waiting, 30)).json()
    assert [(c["kind"], c["name"]) for c in page["changes"]] == [("object", "kettle")]

    quiet = {"cursor": page["cursor"], "kind": "place", "wait_s": 0.2}
    empty = (await brain.client.get("/v1/memory/changes", params=quiet, headers=AUTH)).json()
    assert empty["changes"] == [] and empty["cursor"] == page["cursor"]


FORBIDDEN = {
    "innerHTML": "HTML built from data",
    "outerHTML": "HTML built from data",
    "insertAdjacentHTML": "HTML built from data",
    "document.write": "HTML built from data",
    "eval(": "code from strings",
    "new Function": "code from strings",
    'setTimeout("': "code from strings",
    "new EventSource": "the token would have to go into the URL",
    "localStorage": "the token must not outlive the tab",
}


@pytest.mark.parametrize("needle", sorted(FORBIDDEN))
def test_console_js_never_does(needle: str) -> None:
    assert needle not in JS, FORBIDDEN[needle]


def test_every_request_carries_the_token() -> None:
    # One place builds request headers; every fetch goes through it.
    assert "Authorization: `Bearer ${this.token}`" in JS
    # JSON calls, the event stream and camera images: each fetch builds its headers there
    assert JS.count("this.fetchFn(") == JS.count("headers: this.headers(") == 3
    assert JS.count("fetch(") == 1  # the default fetchFn; nothing else calls fetch directly
    assert "sessionStorage" in JS
