"""Recovery that learns and ends cleanly, over real Redis with in-test agents: failed
calls are remembered and not planned again, a repeated failure ends the task naming it,
and a failed or cancelled task sets down what its robots still hold and says where every
object it touched ended."""

from __future__ import annotations

import asyncio

import httpx
from robo_os_memory import Memory
from robo_os_memory.models import ObjectState, PlaceState, Pose

from robo_os.brain.app import create_app
from robo_os.brain.planning.interface import FailedCall, PlanningOutcome
from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.contracts import (
    TERMINAL_TASK_STATUSES,
    ErrorCode,
    ObjectEnd,
    Plan,
    SkillResult,
    Subtask,
    SubtaskStatus,
    TaskEventKind,
    TaskStatus,
)

from .runtime_fakes import WAIT_S, ScriptedPlanner, plan
from .runtime_support import TOKEN, MakeBrain, brain_settings
from .test_runtime_with_planner import household

APPLE = {"obj": "apple"}


def one(sid: str, robot: str, skill: str = "pick", **args: str) -> PlanningOutcome:
    return PlanningOutcome(
        Plan(subtasks=[Subtask(id=sid, robot=robot, skill=skill, args=args or dict(APPLE))])
    )


async def test_a_call_that_failed_for_good_is_passed_to_the_replan_as_not_to_repeat(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2")

    def answer(call):  # r1 cannot reach the apple; r2 can
        if call.robot == "r1":
            return SkillResult.failure(ErrorCode.unreachable, "out of the arm's workspace")
        return SkillResult.success("picked")

    for agent in f.agents.values():
        agent.auto = answer
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "pick"))}, replans=[one("b", "r2")])
    brain = await make_brain(planner, f, max_attempts=1)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded, done.error
    (call,) = planner.replan_calls
    assert call["avoid"] == [
        FailedCall("r1", "pick", APPLE, "unreachable", "out of the arm's workspace")
    ]
    # the meta keeps it (a restarted brain avoids it too)
    _, meta = await brain.store.get_with_meta(task.id)
    assert meta.failed_calls[0]["robot"] == "r1" and meta.failed_calls[0]["count"] == 1


async def test_a_changeable_failure_may_be_replanned_once_then_is_avoided(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.not_found, "no apple there")
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"))}, replans=[one("b", "r1"), one("c", "r1")]
    )
    brain = await make_brain(planner, f, max_attempts=1, max_replans=5)
    task = await brain.scheduler.submit(instruction="go")
    await brain.store.wait_terminal(task.id, WAIT_S)
    # the first replan may try the same pick (the world may have changed); the second
    # is told not to
    assert planner.replan_calls[0]["avoid"] == []
    assert planner.replan_calls[1]["avoid"] == [
        FailedCall("r1", "pick", APPLE, "not_found", "no apple there", count=2)
    ]


async def test_the_same_failure_on_several_robots_fails_the_task_naming_it(
    fleet, make_brain: MakeBrain
) -> None:
    f = await fleet("r1", "r2", "r3", "r4")
    for agent in f.agents.values():
        agent.auto = lambda call: SkillResult.failure(ErrorCode.not_found, "no apple there")
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"))},
        replans=[one("b", "r2"), one("c", "r3"), one("d", "r4")],
    )
    brain = await make_brain(planner, f, max_attempts=1, max_replans=10, max_identical_failures=3)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert len(planner.replan_calls) == 2  # the third failure ends it; r4 is never tried
    msg = done.error.message
    assert 'pick {"obj":"apple"} failed 3 times with not_found (on r1, r2, r3' in msg, msg
    assert "max_identical_failures=3" in msg
    assert not any(c.robot == "r4" for c in f["r4"].runs)


async def test_replans_are_bounded_with_a_clear_message(fleet, make_brain: MakeBrain) -> None:
    f = await fleet("r1", "r2", "r3")
    for agent in f.agents.values():
        agent.auto = lambda call: SkillResult.failure(ErrorCode.not_found, f"{call.robot} saw none")
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"))}, replans=[one("b", "r2"), one("c", "r3")]
    )
    brain = await make_brain(planner, f, max_attempts=1, max_replans=1, max_identical_failures=9)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed and done.replans == 1
    assert "r2 saw none" in done.error.message and "max_replans=1" in done.error.message


async def _scene(memory: Memory, holder: str) -> None:
    await memory.upsert_place(PlaceState(name="counter", kind="counter", pose=Pose(x=1.0, y=0.0)))
    await memory.upsert_place(PlaceState(name="shelf", kind="shelf", pose=Pose(x=-1.0, y=0.0)))
    await memory.upsert_object(ObjectState(name="apple", type="apple", on="shelf"))
    await memory.upsert_object(ObjectState(name="pear", type="apple", on="counter"))


async def test_cancel_mid_carry_sets_the_object_down_and_records_where(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await _scene(memory, "r1")
    put_down = Subtask(
        id="p1", robot="r1", skill="place", args={"object": "apple", "target": "shelf"}
    )
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))},
        put_aways=[PlanningOutcome(Plan(subtasks=[put_down]))],
    )
    brain = await make_brain(planner, f)
    task = await brain.scheduler.submit(instruction="go")
    pick = await f["r1"].next_call()
    await memory.pick("r1", "apple")
    f["r1"].finish(
        pick.call_id,
        SkillResult.success("r1 holds apple", data={"object": "apple", "from": "shelf"}),
    )
    carry = await f["r1"].next_call()
    assert carry.subtask_id == "b"
    cancelling = asyncio.create_task(brain.scheduler.cancel(task.id, "changed my mind"))
    put = await f["r1"].next_call()  # the put-down, after the carry was cancelled
    assert put.skill == "place" and put.subtask_id == "putaway-p1", put
    # the task ends only once the object is down
    assert (await brain.store.get(task.id)).status not in TERMINAL_TASK_STATUSES
    await memory.place("r1", "apple", "shelf")
    f["r1"].finish(put.call_id)
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    await cancelling
    assert done.status == TaskStatus.cancelled
    assert planner.put_away_calls[0]["object"] == "apple"
    assert planner.put_away_calls[0]["prefer"] == ["shelf"]  # back where it was picked up
    assert done.objects == [
        ObjectEnd(name="apple", on="shelf", note="apple left on shelf by r1"),
    ]
    last = (await brain.store.events(task.id))[-1]
    assert last.kind == TaskEventKind.cancelled
    assert last.message == "changed my mind; apple left on shelf by r1"
    by_id = {s.id: s for s in done.subtasks}
    assert by_id["b"].status == SubtaskStatus.cancelled
    assert by_id["putaway-p1"].status == SubtaskStatus.succeeded


async def test_a_put_down_that_fails_marks_the_robot_and_says_so(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await _scene(memory, "r1")
    await memory.pick("r1", "apple")

    def answer(call):
        if call.subtask_id.startswith("putaway-"):
            return SkillResult.failure(ErrorCode.collision, "the shelf is blocked")
        return SkillResult.failure(ErrorCode.invalid_args, "bad grip")

    f["r1"].auto = answer
    tries = [
        Subtask(id=f"p{n}", robot="r1", skill="place", args={"object": "apple", "target": "shelf"})
        for n in (1, 2)
    ]
    planner = ScriptedPlanner(
        plans={"go": plan(("a", "r1", "place"))},
        put_aways=[PlanningOutcome(Plan(subtasks=[t])) for t in tries],
    )
    brain = await make_brain(planner, f, max_replans=0)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.failed
    assert len(planner.put_away_calls) == 2  # tried twice, then reported
    (apple,) = done.objects
    assert apple.held_by == "r1" and apple.attention == "r1"
    assert "apple still held by r1: could not be set down" in apple.note
    assert "the shelf is blocked" in apple.note
    assert "apple still held by r1" in done.error.message
    robot = await memory.get_robot("r1")
    assert robot is not None and robot.activity is not None
    assert robot.activity.startswith("needs attention: still holds apple")


async def test_keep_leaves_held_objects_and_still_records_them(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await _scene(memory, "r1")
    await memory.pick("r1", "apple")
    f["r1"].auto = lambda call: SkillResult.failure(ErrorCode.invalid_args, "bad grip")
    planner = ScriptedPlanner(plans={"go": plan(("a", "r1", "place"))})
    brain = await make_brain(planner, f, max_replans=0, held_on_end="keep")
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert planner.put_away_calls == []
    assert done.objects == [ObjectEnd(name="apple", held_by="r1", note="apple still held by r1")]


async def test_a_succeeded_task_lists_every_object_it_touched(
    fleet, make_brain: MakeBrain, memory: Memory
) -> None:
    f = await fleet("r1")
    await _scene(memory, "r1")
    f["r1"].auto = lambda call: SkillResult.success("done")
    two = Plan(
        subtasks=[
            Subtask(id="a", robot="r1", skill="look", args={"obj": "apple"}),
            Subtask(id="b", robot="r1", skill="look", args={"obj": "pear", "at": "counter"}),
        ]
    )
    brain = await make_brain(ScriptedPlanner(plans={"go": two}), f)
    task = await brain.scheduler.submit(instruction="go")
    done = await brain.store.wait_terminal(task.id, WAIT_S)
    assert done.status == TaskStatus.succeeded
    assert [(o.name, o.on) for o in done.objects] == [("apple", "shelf"), ("pear", "counter")]


async def test_the_real_planner_does_not_plan_an_unreachable_pick_again(
    fleet, memory: Memory, redis_url: str, key_prefix: str
) -> None:
    """Before: `unreachable` on mm1's pick was replanned as the identical pick until the
    replans ran out. Now the replan avoids it and, with no other way, says so."""
    await household(memory)
    f = await fleet("arm1", "mm1")

    def answer(call):
        if call.skill == "pick" and call.robot == "mm1":
            return SkillResult.failure(ErrorCode.unreachable, "the apple is out of reach")
        return SkillResult.success(f"{call.skill} done")

    for agent in f.agents.values():
        agent.auto = answer
    app = create_app(
        brain_settings(redis_url, key_prefix, max_replans=3),
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
            r = await c.post(
                "/v1/tasks", json={"instruction": "bring the apple to the dining table"}
            )
            task_id = r.json()["id"]
            done = (await c.get(f"/v1/tasks/{task_id}/wait", params={"timeout": WAIT_S})).json()
    assert done["status"] == "failed", done
    picks = [s for s in done["subtasks"] if s["skill"] == "pick"]
    assert [(s["robot"], s["status"]) for s in picks] == [("mm1", "failed")], picks
    msg = done["error"]["message"]
    assert 'not repeating: mm1 pick {"object":"apple"} (unreachable' in msg, msg
