"""Goals over HTTP with the real planner (BrainPlanner's embedded search over live
memory): a goal submitted directly plans and runs; malformed ones get a 422 naming the
part; use/avoid/keep hold; every task shows its goal; and success is decided against
memory: a task whose subtasks all succeed but whose goal does not hold afterwards
replans once, then fails naming the fact.

The agents here run each call by writing its effect to memory, as the standard skills
do (no physics); a `lazy` skill reports success and changes nothing, an `undo` one
puts the object back where it was (a fault after the fact)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import SkillCall, SkillResult
from robo_os.testing.world import EMBODIMENT_CAPABILITIES

from ..planning.planning_world import STANDARD_SKILLS
from .runtime_fakes import WAIT_S
from .runtime_support import TOKEN, brain_settings

PLACES = {"bench_a": 0.0, "rack": 4.0, "bench_b": 8.0, "shelf": 12.0}
ROBOTS = {"mm_a": "bench_a", "mm_b": "rack", "mm_c": "bench_b"}
OBJECTS = {"drill": "bench_a", "saw": "rack", "glue": "bench_a", "tape": "bench_b"}


@dataclass
class WorldAgent:
    """An AgentHandle that does what a call says to memory (navigate_to, pick, place,
    put_in); one result per call id."""

    robot: str
    memory: Memory
    lazy: set[str] = field(default_factory=set)
    """Skills that report success but change nothing."""
    undo: set[str] = field(default_factory=set)
    """Skills whose object is put back where it was picked up once they succeeded."""
    undo_once: set[str] = field(default_factory=set)
    """As `undo`, but each skill only once (the set may be shared by several agents)."""
    calls: list[SkillCall] = field(default_factory=list)
    picked_from: dict[str, str] = field(default_factory=dict)
    done: dict[str, SkillResult] = field(default_factory=dict)

    async def run(self, call: SkillCall) -> SkillResult:
        if call.call_id in self.done:
            return self.done[call.call_id]
        self.calls.append(call)
        if call.skill not in self.lazy:
            await self._apply(call)
        result = SkillResult.success(f"{call.skill} done")
        self.done[call.call_id] = result
        return result

    async def _apply(self, call: SkillCall) -> None:
        a = {k: str(v) for k, v in call.args.items()}
        m = self.memory
        if call.skill == "navigate_to":
            await m.update_robot(
                self.robot, place=a["target"], pose=Pose(x=PLACES[a["target"]], y=0.0)
            )
        elif call.skill == "pick":
            obj = await m.get_object(a["object"])
            assert obj is not None and obj.on is not None
            self.picked_from[a["object"]] = obj.on
            await m.pick(self.robot, a["object"])
        elif call.skill in ("place", "put_in"):
            where = a.get("target") or a["container"]
            await m.place(self.robot, a["object"], where)
            if call.skill in self.undo or call.skill in self.undo_once:
                self.undo_once.discard(call.skill)
                await m.update_object(a["object"], on=self.picked_from[a["object"]])

    async def cancel(self, call_id: str, reason: str = "cancelled") -> bool:
        return False


async def workshop(memory: Memory) -> None:
    for name, x in PLACES.items():
        await memory.upsert_place(PlaceState(name=name, kind="table", pose=Pose(x=x, y=0.0)))
    for name, on in OBJECTS.items():
        await memory.upsert_object(ObjectState(name=name, type="tool", on=on))
    await memory.upsert_object(ObjectState(name="bin", type="bin", on="shelf"))
    caps = EMBODIMENT_CAPABILITIES["mobile_manipulator"]
    for rid, at in ROBOTS.items():
        await memory.register_robot(
            RobotState(
                id=rid,
                embodiment="mobile_manipulator",
                capabilities=caps,
                place=at,
                pose=Pose(x=PLACES[at], y=0.0),
            )
        )
        await memory.heartbeat(rid, ttl_s=600)
        await memory.set_robot_skills(
            rid,
            {
                n: s.model_dump(mode="json")
                for n, s in STANDARD_SKILLS.items()
                if set(s.capabilities) <= set(caps)
            },
        )


@dataclass
class Shop:
    client: httpx.AsyncClient
    agents: dict[str, WorldAgent]
    memory: Memory

    async def submit(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/v1/tasks", json=body)

    async def done(self, task_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/tasks/{task_id}/wait", params={"timeout": WAIT_S})
        task: dict[str, Any] = r.json()
        assert task["status"] in ("succeeded", "failed", "cancelled"), task
        return task

    async def events(self, task_id: str) -> list[dict[str, Any]]:
        r = await self.client.get(f"/v1/tasks/{task_id}/events")
        return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]

    async def where(self, obj: str) -> str | None:
        o = await self.memory.get_object(obj)
        assert o is not None
        return o.on


MakeShop = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def make_shop(memory: Memory, redis_url: str, key_prefix: str) -> AsyncIterator[MakeShop]:
    stack: list[Any] = []

    async def make(**agent_kw: Any) -> Shop:
        await workshop(memory)
        agents = {r: WorldAgent(r, memory, **agent_kw) for r in ROBOTS}
        app = create_app(
            brain_settings(redis_url, key_prefix),
            memory=memory,
            dispatcher=LocalDispatcher(agents),
            watch_liveness=False,
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://brain",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=WAIT_S + 10,
        )
        stack.append((client, lifespan))
        return Shop(client, agents, memory)

    yield make
    for client, lifespan in stack:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


def robots_of(task: dict[str, Any]) -> set[str]:
    return {s["robot"] for s in task["subtasks"]}


async def test_a_goal_submitted_over_http_plans_runs_and_is_shown(make_shop: MakeShop) -> None:
    shop = await make_shop()
    r = await shop.submit(
        {"goal": {"facts": ["on(drill, bench_b)", ["on", "saw", "shelf"]], "instruction": "tidy"}}
    )
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["goal"]["groups"] == [[["on", "drill", "bench_b"], ["on", "saw", "shelf"]]]
    assert created["goal_source"] == "app" and created["instruction"] == "tidy"
    task = await shop.done(created["id"])
    assert task["status"] == "succeeded", task["error"]
    assert await shop.where("drill") == "bench_b" and await shop.where("saw") == "shelf"
    got = (await shop.client.get(f"/v1/tasks/{created['id']}")).json()
    assert got["goal"] == created["goal"] and got["goal_source"] == "app"
    kinds = [e["kind"] for e in await shop.events(created["id"])]
    assert "goal_unmet" not in kinds and kinds[-1] == "succeeded"


async def test_an_instruction_task_shows_the_goal_the_parser_read(make_shop: MakeShop) -> None:
    shop = await make_shop()
    created = (await shop.submit({"instruction": "bring the glue to the shelf"})).json()
    assert created["goal"] is None  # not planned yet
    task = await shop.done(created["id"])
    assert task["status"] == "succeeded", task["error"]
    assert task["goal"]["groups"] == [[["on", "glue", "shelf"]]]
    assert task["goal_source"] == "embedded"


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"goal": {"facts": [["on", "drill"]]}}, "invalid_request", "on takes 2 argument(s)"),
    # an unknown predicate is checked against the fleet's vocabulary (plug-ins add some)
    ({"goal": {"facts": ["under(drill, rack)"]}}, "invalid_goal", "unknown predicate 'under'"),
    ({"goal": {"facts": []}}, "invalid_request", "facts is empty"),
    ({"goal": {"groups": "x"}}, "invalid_request", "groups must be a list"),
    ({"goal": {"facts": ["held(saw)"], "deadline_s": -1}}, "invalid_request", "deadline_s"),
    ({"goal": {"facts": ["held(saw)"], "avoidd": ["mm_a"]}}, "invalid_request", "'avoid'?"),
    ({"goal": {"facts": ["held(saw)"]}, "instruction": "x"}, "invalid_request", "not both"),
    ({"goal": "on(drill, rack)"}, "invalid_request", "goal"),
    ({"goal": {"facts": ["on(dril, rack)"]}}, "invalid_goal", "did you mean 'drill'?"),
    ({"goal": {"facts": ["on(drill, rakc)"]}}, "invalid_goal", "did you mean 'rack'?"),
    ({"goal": {"facts": ["held(saw)"], "avoid": ["mm_z"]}}, "invalid_goal", "unknown robot"),
    ({"goal": {"facts": ["held(saw)"], "use": ["mm_aa"]}}, "invalid_goal", "'mm_a'"),
    ({"goal": {"facts": ["on(drill, mm_b)"]}}, "invalid_goal", "mm_b has no tray"),
    ({"goal": {"facts": ["on(drill, saw)"]}}, "invalid_goal", "saw is not a receptacle"),
    (
        {"goal": {"facts": ["on(drill, rack)", "on(drill, shelf)"]}},
        "invalid_goal",
        "contradicts itself",
    ),
    ({"goal": {"facts": ["at(mm_a, rack)"], "avoid": ["mm_a"]}}, "invalid_goal", "rules out"),
]


@pytest.mark.parametrize(("body", "code", "says"), BAD)
async def test_a_bad_goal_gets_a_422_naming_the_part(
    make_shop: MakeShop, body: dict[str, Any], code: str, says: str
) -> None:
    shop = await make_shop()
    r = await shop.submit(body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code and says in err["message"], err
    listed = (await shop.client.get("/v1/tasks")).json()["tasks"]
    assert listed == []  # nothing was created


async def test_avoid_use_and_keep_hold_over_http(make_shop: MakeShop) -> None:
    shop = await make_shop()
    free = await shop.done(
        (await shop.submit({"goal": {"facts": ["on(drill, rack)"]}})).json()["id"]
    )
    assert free["status"] == "succeeded" and "mm_a" in robots_of(free)  # the drill's neighbour
    back = {"goal": {"facts": ["on(drill, bench_a)"], "avoid": ["mm_a"]}}
    avoided = await shop.done((await shop.submit(back)).json()["id"])
    assert avoided["status"] == "succeeded", avoided["error"]
    assert "mm_a" not in robots_of(avoided) and await shop.where("drill") == "bench_a"
    assert not [c for c in shop.agents["mm_a"].calls if c.call_id.startswith(avoided["id"])]
    only = {"goal": {"facts": ["on(glue, rack)"], "use": ["mm_c"], "keep": ["drill", "tape"]}}
    used = await shop.done((await shop.submit(only)).json()["id"])
    assert used["status"] == "succeeded", used["error"]
    assert robots_of(used) == {"mm_c"}
    assert await shop.where("drill") == "bench_a" and await shop.where("tape") == "bench_b"


async def test_a_goal_already_true_succeeds_with_nothing_to_do(make_shop: MakeShop) -> None:
    shop = await make_shop()
    task = await shop.done((await shop.submit({"goal": {"facts": ["on(saw, rack)"]}})).json()["id"])
    assert task["status"] == "succeeded" and task["subtasks"] == []
    assert not any(a.calls for a in shop.agents.values())


async def test_subtasks_that_succeed_without_reaching_the_goal_fail_the_task(
    make_shop: MakeShop,
) -> None:
    shop = await make_shop(lazy={"place"})  # place says done and moves nothing
    created = (await shop.submit({"goal": {"facts": ["on(drill, rack)"]}})).json()
    task = await shop.done(created["id"])
    assert task["status"] == "failed"
    assert task["error"]["message"].startswith(
        "goal not met: on(drill, rack) does not hold (drill is"
    ), task["error"]
    assert [p["code"] for p in task["error"]["problems"]] == ["goal_unmet"]
    assert all(s["status"] in ("succeeded", "skipped") for s in task["subtasks"])
    assert task["replans"] == 1  # one replan toward the goal, then it fails
    unmet = [e for e in await shop.events(created["id"]) if e["kind"] == "goal_unmet"]
    assert [e["data"]["replanning"] for e in unmet] == [True, False]
    assert unmet[0]["data"]["unmet"][0].startswith("on(drill, rack) does not hold")


async def test_an_instruction_task_is_checked_against_memory_too(make_shop: MakeShop) -> None:
    shop = await make_shop(undo={"place"})  # the object is back where it was afterwards
    created = (await shop.submit({"instruction": "bring the glue to the shelf"})).json()
    task = await shop.done(created["id"])
    assert task["status"] == "failed"
    assert "on(glue, shelf) does not hold (glue is on bench_a)" in task["error"]["message"]


async def test_a_replan_after_an_unmet_goal_can_finish_the_task(make_shop: MakeShop) -> None:
    once: set[str] = {"place"}  # shared by the agents: the first place is undone, once
    shop = await make_shop(undo_once=once)
    created = (await shop.submit({"goal": {"facts": ["on(tape, shelf)"]}})).json()
    task = await shop.done(created["id"])
    assert task["status"] == "succeeded", task["error"]
    assert task["replans"] == 1 and not once
    assert await shop.where("tape") == "shelf"
    unmet = [e for e in await shop.events(created["id"]) if e["kind"] == "goal_unmet"]
    assert [e["data"]["replanning"] for e in unmet] == [True]


async def test_several_goal_tasks_at_once(make_shop: MakeShop) -> None:
    shop = await make_shop()
    bodies = [
        {"goal": {"facts": ["on(drill, shelf)"]}},
        {"goal": {"facts": ["on(saw, bench_a)"], "avoid": ["mm_b"]}},
        {"goal": {"facts": ["on(tape, rack)"], "use": ["mm_c"]}},
        {"goal": {"facts": ["on(glue, bench_b)"]}},
    ]
    created = await asyncio.gather(*(shop.submit(b) for b in bodies))
    assert [r.status_code for r in created] == [202] * 4
    tasks = await asyncio.gather(*(shop.done(r.json()["id"]) for r in created))
    assert [t["status"] for t in tasks] == ["succeeded"] * 4, [t["error"] for t in tasks]
    assert "mm_b" not in robots_of(tasks[1]) and robots_of(tasks[2]) == {"mm_c"}
    for obj, place in (
        ("drill", "shelf"),
        ("saw", "bench_a"),
        ("tape", "rack"),
        ("glue", "bench_b"),
    ):
        assert await shop.where(obj) == place
