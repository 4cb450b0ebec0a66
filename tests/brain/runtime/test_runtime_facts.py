"""A plug-in's own facts end to end over HTTP, with in-process agents (RegistryAgent on
FakeRobots running the real standard `navigate_to` and the example plug-in's surface
skills): a goal on the declared fact `clean(place)` and the instruction "wipe the ..."
both plan navigate -> wipe with the embedded planner and succeed; memory records the
fact (and a later `spill` unrecords it); a goal on a fact no skill declares is refused
with a 422 naming it; a fact memory does not record cannot be a task's goal (nothing could check it), though plans may use it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from robo_os_example_plugin.surfaces import CLEAN, wipe
from robo_os_example_plugin.surfaces import SKILLS as SURFACE_SKILLS
from robo_os_memory import Memory
from robo_os_memory.models import AttrValue, ObjectState, PlaceState, Pose, RobotState
from robo_os_skills import navigate_to

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import ErrorCode
from robo_os.skill import SkillRegistry, SkillResult, skill
from robo_os.skill.refs import PlaceName
from robo_os.testing import FakeRobot, RegistryAgent

from .runtime_fakes import WAIT_S
from .runtime_support import TOKEN, brain_settings

PLACES = {"dock": 0.0, "dining_table": 4.0, "kitchen_counter": 8.0}
# mm_a can drive and wipe; cam_b only looks (it cannot wipe); arm_c wipes only the counter
ROBOTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "mm_a": ("dock", ("navigate", "manipulate"), ()),
    "cam_b": ("dock", ("navigate", "camera"), ()),
    "arm_c": ("kitchen_counter", ("manipulate",), ("kitchen_counter",)),
}


@skill(
    name="wipe",
    capabilities={"manipulate"},
    facts=[CLEAN],
    preconditions=["at(robot, place)", "hand_empty(robot)"],
    effects=["clean(place)"],
)
async def botched_wipe(place: PlaceName) -> SkillResult:
    """A wipe whose sponge is gone: it fails every time.

    Args:
        place: The place it fails to wipe.
    """
    return SkillResult.failure(ErrorCode.internal, f"no sponge to wipe {place}")


@dataclass
class House:
    client: httpx.AsyncClient
    memory: Memory
    agents: dict[str, RegistryAgent]

    async def run(self, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.post("/v1/tasks", json=body)
        assert r.status_code == 202, r.text
        r = await self.client.get(f"/v1/tasks/{r.json()['id']}/wait", params={"timeout": WAIT_S})
        task: dict[str, Any] = r.json()
        assert task["status"] in ("succeeded", "failed", "cancelled"), task
        return task

    async def place_attrs(self, name: str) -> dict[str, Any]:
        r = await self.client.get("/v1/memory/places")
        assert r.status_code == 200, r.text
        (place,) = [p for p in r.json()["places"] if p["name"] == name]
        attrs: dict[str, Any] = place["attrs"]
        return attrs


MakeHouse = Callable[..., Awaitable[House]]


async def furnish(memory: Memory, registry: SkillRegistry, clean: set[str]) -> None:
    for name, x in PLACES.items():
        attrs: dict[str, AttrValue] = {"clean": True} if name in clean else {}
        await memory.upsert_place(
            PlaceState(name=name, kind="table", pose=Pose(x=x, y=0.0), attrs=attrs)
        )
    await memory.upsert_object(ObjectState(name="vase", type="vase", on="dining_table"))
    for rid, (at, caps, reach) in ROBOTS.items():
        await memory.register_robot(
            RobotState(
                id=rid,
                embodiment="test",
                capabilities=caps,
                place=at,
                reach=reach,
                pose=Pose(x=PLACES[at], y=0.0),
            )
        )
        await memory.heartbeat(rid, ttl_s=600)
        await memory.set_robot_skills(
            rid, {s.name: s.spec.model_dump(mode="json") for s in registry.for_capabilities(caps)}
        )


@pytest.fixture
async def make_house(memory: Memory, redis_url: str, key_prefix: str) -> AsyncIterator[MakeHouse]:
    stack: list[Any] = []

    async def make(clean: Collection[str] = (), wipe_fails: bool = False) -> House:
        surface = [botched_wipe if s is wipe and wipe_fails else s for s in SURFACE_SKILLS]
        registry = SkillRegistry([navigate_to, *surface])
        await furnish(memory, registry, set(clean))
        agents = {
            rid: RegistryAgent(
                registry,
                robot=FakeRobot(
                    rid,
                    capabilities=caps,
                    parts={"base"} if "navigate" in caps else set(),
                    place=at,
                    places={p: Pose(x=x, y=0.0) for p, x in PLACES.items()},
                ),
                memory=memory,
            )
            for rid, (at, caps, _reach) in ROBOTS.items()
        }
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
        return House(client, memory, agents)

    yield make
    for client, lifespan in stack:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


def steps(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["robot"], s["skill"]) for s in task["subtasks"]]


async def test_a_goal_on_a_declared_fact_plans_navigate_then_wipe_and_memory_records_it(
    make_house: MakeHouse,
) -> None:
    house = await make_house()
    assert "clean" not in await house.place_attrs("dining_table")
    task = await house.run({"goal": {"facts": [["clean", "dining_table"]]}})
    assert task["status"] == "succeeded", task["error"]
    assert steps(task) == [("mm_a", "navigate_to"), ("mm_a", "wipe")]
    assert task["goal"]["groups"] == [[["clean", "dining_table"]]]
    assert (await house.place_attrs("dining_table"))["clean"] is True
    # the other places are untouched, and the robot really drove there
    assert "clean" not in await house.place_attrs("kitchen_counter")
    robot = await house.memory.get_robot("mm_a")
    assert robot is not None and robot.place == "dining_table"
    facts = {
        f["signature"]: f for f in (await house.client.get("/v1/memory/facts")).json()["facts"]
    }
    assert set(facts) == {"clean(place)", "inspected(object)"}
    assert facts["clean(place)"]["holds"] == [["clean", "dining_table"]]
    assert facts["clean(place)"]["declared_by"] == ["spill", "wipe"]
    assert facts["inspected(object)"]["recorded"] is False


async def test_the_instruction_wipe_plans_the_skills_effect_and_succeeds(
    make_house: MakeHouse,
) -> None:
    house = await make_house()
    task = await house.run({"instruction": "wipe the dining table and the kitchen counter"})
    assert task["status"] == "succeeded", task["error"]

    assert task["goal"]["groups"] == [[["clean", "dining_table"], ["clean", "kitchen_counter"]]]
    assert set(steps(task)) == {("mm_a", "navigate_to"), ("mm_a", "wipe"), ("arm_c", "wipe")}
    assert (await house.place_attrs("dining_table"))["clean"] is True
    assert (await house.place_attrs("kitchen_counter"))["clean"] is True


async def test_a_fact_that_already_holds_needs_no_plan_and_a_spill_unrecords_it(
    make_house: MakeHouse,
) -> None:
    house = await make_house(clean={"kitchen_counter"})
    task = await house.run({"goal": {"facts": ["clean(kitchen_counter)"]}})
    assert task["status"] == "succeeded", task["error"]
    assert steps(task) == []  # the scene's `clean: true` is the fact's initial value
    spilt = await house.run(
        {"plan": {"subtasks": [{"id": "s1", "robot": "arm_c", "skill": "spill",
                                "args": {"place": "kitchen_counter"}, "depends_on": []}]}}
    )  # fmt: skip
    assert spilt["status"] == "succeeded", spilt["error"]
    assert (await house.place_attrs("kitchen_counter"))["clean"] is False
    again = await house.run({"instruction": "clean the kitchen counter"})  # the fact's verb
    assert again["status"] == "succeeded", again["error"]
    assert steps(again) == [("arm_c", "wipe")]
    assert (await house.place_attrs("kitchen_counter"))["clean"] is True


@pytest.mark.parametrize(
    ("goal", "says"),
    [
        ({"facts": [["polished", "dining_table"]]}, "unknown predicate 'polished'"),
        ({"facts": [["clean", "dining_table", "vase"]]}, "clean takes 1 argument"),
        ({"facts": [["clean", "dinning_table"]]}, "did you mean 'dining_table'?"),
        ({"facts": [["clean", "vase"]]}, "'vase' is object, not place"),
    ],
)
async def test_a_goal_on_an_undeclared_or_misused_fact_gets_a_422(
    make_house: MakeHouse, goal: dict[str, Any], says: str
) -> None:
    house = await make_house()
    r = await house.client.post("/v1/tasks", json={"goal": goal})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_goal" and says in err["message"], err
    assert (await house.client.get("/v1/tasks")).json()["tasks"] == []


async def test_an_unrecorded_fact_cannot_be_a_goal_but_plans_may_use_it(
    make_house: MakeHouse,
) -> None:
    house = await make_house()
    r = await house.client.post("/v1/tasks", json={"goal": {"facts": [["inspected", "vase"]]}})
    assert r.status_code == 422, r.text
    assert "memory does not record 'inspected'" in r.json()["error"]["message"]
    # an explicit plan may still run the skill; memory never holds the fact
    task = await house.run(
        {"plan": {"subtasks": [
            {"id": "s1", "robot": "cam_b", "skill": "navigate_to",
             "args": {"target": "dining_table"}, "depends_on": []},
            {"id": "s2", "robot": "cam_b", "skill": "inspect",
             "args": {"object": "vase"}, "depends_on": ["s1"]}]}}
    )  # fmt: skip
    assert task["status"] == "succeeded", task["error"]
    vase = await house.memory.get_object("vase")
    assert vase is not None and "inspected" not in vase.attrs


async def test_a_failing_wipe_fails_the_task_and_records_nothing(make_house: MakeHouse) -> None:
    house = await make_house(wipe_fails=True)
    task = await house.run({"instruction": "wipe the dining table"})
    assert task["status"] == "failed"
    wipes = [s for s in task["subtasks"] if s["skill"] == "wipe"]
    assert wipes and all(s["status"] == "failed" for s in wipes), task
    assert wipes[0]["result"]["message"] == "no sponge to wipe dining_table"
    assert "clean" not in await house.place_attrs("dining_table")


async def test_two_tasks_wiping_at_once_both_succeed(make_house: MakeHouse) -> None:
    house = await make_house()
    a, b = await asyncio.gather(
        house.run({"goal": {"facts": [["clean", "dining_table"]]}}),
        house.run({"goal": {"facts": [["clean", "kitchen_counter"]]}}),
    )
    assert a["status"] == "succeeded" and b["status"] == "succeeded", (a["error"], b["error"])
    assert (await house.place_attrs("dining_table"))["clean"] is True
    assert (await house.place_attrs("kitchen_counter"))["clean"] is True
