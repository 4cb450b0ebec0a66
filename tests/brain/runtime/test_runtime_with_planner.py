"""The runtime with the real planner (BrainPlanner, embedded search: no model) built by
the app's default factory over a live memory: plan an instruction, refuse a defective
explicit plan with the checker's problems, replan after a permanent failure."""

from __future__ import annotations

import httpx
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.app import create_app
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.registry import discover

from .runtime_fakes import WAIT_S
from .runtime_support import TOKEN, brain_settings


async def household(memory: Memory) -> None:
    await memory.upsert_place(
        PlaceState(name="kitchen_counter", kind="counter", pose=Pose(x=2.2, y=0.0))
    )
    await memory.upsert_place(
        PlaceState(name="dining_table", kind="table", pose=Pose(x=-1.8, y=1.6))
    )
    await memory.upsert_object(
        ObjectState(
            name="apple", type="apple", on="kitchen_counter", pose=Pose(x=2.05, y=0.25, z=0.8)
        )
    )
    robots = [
        RobotState(
            id="arm1",
            embodiment="fixed_arm",
            capabilities=("manipulate", "camera"),
            place="kitchen_counter",
            reach=("kitchen_counter",),
            pose=Pose(x=2.2, y=0.0),
        ),
        RobotState(
            id="mm1",
            embodiment="mobile_manipulator",
            capabilities=("navigate", "manipulate", "camera"),
            place="dining_table",
            pose=Pose(x=-1.8, y=1.6),
        ),
    ]
    skills = discover()
    for robot in robots:
        await memory.register_robot(robot)
        await memory.heartbeat(robot.id, ttl_s=600)
        offered = skills.for_capabilities(robot.capabilities)
        await memory.set_robot_skills(
            robot.id, {s.name: s.spec.model_dump(mode="json") for s in offered}
        )


async def test_real_planner_plans_checks_and_replans(
    fleet, memory: Memory, redis_url: str, key_prefix: str
) -> None:
    await household(memory)
    f = await fleet("arm1", "mm1")
    failed_once: set[str] = set()

    def answer(call):
        if call.skill == "pick" and not failed_once:
            failed_once.add(call.call_id)
            return SkillResult.failure(ErrorCode.not_found, "the apple is not where memory says")
        return SkillResult.success(f"{call.skill} done")

    for agent in f.agents.values():
        agent.auto = answer
    app = create_app(
        # the scripted agents move nothing in memory: success is not checked against it
        brain_settings(redis_url, key_prefix, verify_goal=False),
        memory=memory,
        dispatcher=LocalDispatcher(f.agents),
        watch_liveness=False,
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://brain",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as c:
            bad = await c.post(
                "/v1/tasks",
                json={
                    "plan": {"subtasks": [{"id": "s1", "robot": "mm1", "skill": "fly", "args": {}}]}
                },
            )
            assert bad.status_code == 422
            assert "unknown_skill" in {p["code"] for p in bad.json()["error"]["problems"]}

            task = (
                await c.post(
                    "/v1/tasks", json={"instruction": "bring the apple to the dining table"}
                )
            ).json()
            done = (await c.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": WAIT_S})).json()
            assert done["status"] == "succeeded", done["error"]
            assert done["replans"] == 1
            skills = [s["skill"] for s in done["subtasks"]]
            assert "pick" in skills and ("place" in skills or "deliver" in skills)
            first_pick = next(s for s in done["subtasks"] if s["skill"] == "pick")
            assert first_pick["status"] == "failed" and first_pick["result"]["error"] == "not_found"
            ids = [s["id"] for s in done["subtasks"]]
            assert len(ids) == len(set(ids))  # the replan's subtasks got fresh ids
            assert done["subtasks"][-1]["status"] == "succeeded"
