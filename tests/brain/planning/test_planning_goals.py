"""Goals an app gives, planned by the embedded planner (BrainPlanner.resolve_goal,
plan_goal, prepare with a goal, unmet): names resolved against the live world with
"did you mean", constraints honoured (use, avoid, keep), deadlines noted, and success
read off memory. On scenes of our own (a workshop, generated fleets) and the demo one."""

from __future__ import annotations

from typing import Any

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState

from robo_os.brain.api.schemas import SubmitTask
from robo_os.brain.planning.goal_resolution import resolve_goal
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.contracts import Plan, Subtask
from robo_os.testing.scenes import generated_scene
from robo_os.testing.world import EMBODIMENT_CAPABILITIES, StaticWorld, offered_skills

from .planning_world import STANDARD_SKILLS, household_catalogue


def _robot(rid: str, embodiment: str, at: str, x: float, **kw: Any) -> RobotState:
    return RobotState(
        id=rid,
        embodiment=embodiment,
        capabilities=EMBODIMENT_CAPABILITIES[embodiment],
        place=at,
        pose=Pose(x=x, y=0.0),
        reach=(at,) if embodiment == "fixed_arm" else (),
        **kw,
    )


def workshop() -> StaticWorld:
    """Three benches in a row; three mobile manipulators and a carrier. The drill lies
    on bench_a where mm_a stands, so mm_a is the obvious robot for it."""
    places = [
        PlaceState(name="bench_a", kind="table", pose=Pose(x=0.0, y=0.0)),
        PlaceState(name="rack", kind="shelf", pose=Pose(x=4.0, y=0.0)),
        PlaceState(name="bench_b", kind="table", pose=Pose(x=8.0, y=0.0)),
    ]
    robots = [
        _robot("mm_a", "mobile_manipulator", "bench_a", 0.0),
        _robot("mm_b", "mobile_manipulator", "rack", 4.0),
        _robot("mm_c", "mobile_manipulator", "bench_b", 8.0),
        _robot("cart", "carrier", "rack", 4.0),
    ]
    objects = [
        ObjectState(name="drill", type="drill", on="bench_a"),
        ObjectState(name="saw", type="saw", on="rack"),
        ObjectState(name="crate", type="crate", on="bench_b"),
        ObjectState(name="rag", type="rag", on="bench_b", attrs={"receptacle": False}),
    ]
    return StaticWorld(robots, objects, places, offered_skills(robots, STANDARD_SKILLS))


def robots_of(plan: Plan | None) -> set[str]:
    assert plan is not None
    return {s.robot for s in plan.subtasks}


BAD_GOALS: list[tuple[dict[str, Any], str, str]] = [
    ({"facts": [["on", "dril", "bench_b"]]}, "unknown_object", "did you mean 'drill'?"),
    ({"facts": ["on(drill, bench_bb)"]}, "unknown_place", "did you mean 'bench_b'"),
    ({"facts": ["at(mm_z, rack)"]}, "unknown_robot", "unknown robot 'mm_z'"),
    ({"facts": ["on(drill, rack)"], "avoid": ["mm_d"]}, "unknown_robot", "goal constraint avoid"),
    ({"facts": ["on(drill, rack)"], "use": ["cartt"]}, "unknown_robot", "did you mean 'cart'?"),
    ({"facts": ["on(drill, rack)"], "keep": ["sawz"]}, "unknown_object", "did you mean 'saw'?"),
    ({"facts": ["at(mm_a, drill)"]}, "unknown_place", "'drill' is object, not place"),
    ({"facts": ["on(drill, mm_b)"]}, "invalid_destination", "robot mm_b has no tray"),
    ({"facts": ["on(drill, rag)"]}, "invalid_destination", "rag is not a receptacle"),
    ({"facts": ["on(drill, rack)", "on(drill, bench_b)"]}, "contradictory_goal", "cannot both"),
    ({"facts": ["on(drill, rack)"], "keep": ["drill"]}, "contradictory_goal", "keeps where"),
    ({"facts": ["held(saw)"], "use": ["mm_a"], "avoid": ["mm_a"]}, "contradictory_goal", "both"),
    ({"facts": ["on(drill, rack)"], "avoidd": ["mm_a"]}, "invalid_goal", "did you mean 'avoid'?"),
    ({"facts": []}, "invalid_goal", "facts is empty"),
]


@pytest.mark.parametrize(("goal", "code", "says"), BAD_GOALS)
async def test_a_bad_goal_is_refused_naming_the_problem(
    goal: dict[str, Any], code: str, says: str
) -> None:
    planner = BrainPlanner(workshop())
    resolved, problems = await planner.resolve_goal(goal)
    assert resolved is None
    assert any(p.code == code and says in p.message for p in problems), problems
    planned = await planner.plan_goal("t", goal)  # planning refuses it the same way
    assert planned.plan is None and any(says in p.message for p in planned.problems)


async def test_avoid_and_use_move_the_work_to_the_allowed_robots() -> None:
    planner = BrainPlanner(workshop())
    goal = {"facts": ["on(drill, bench_b)"]}
    free = await planner.plan_goal("t", goal)
    picked = robots_of(free.plan)
    assert "mm_a" in picked  # standing at the drill: the obvious choice
    avoided = await planner.plan_goal("t", {**goal, "avoid": sorted(picked)})
    assert avoided.plan is not None and avoided.plan.subtasks
    assert not robots_of(avoided.plan) & picked
    only = await planner.plan_goal("t", {**goal, "use": ["mm_c"]})
    assert robots_of(only.plan) == {"mm_c"}
    none_left = await planner.plan_goal("t", {**goal, "use": ["cart"]})  # no gripper
    assert none_left.plan is None and none_left.problems


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_avoid_holds_on_generated_fleets(seed: int) -> None:
    robots, objects, places, goals = generated_scene(seed, robots=5, places=6, objects=3)
    world = StaticWorld(robots, objects, places, offered_skills(robots, STANDARD_SKILLS))
    planner = BrainPlanner(world)
    facts = [["on", o, p] for o, p in goals]
    free = await planner.plan_goal("t", {"facts": facts})
    used = robots_of(free.plan)
    for robot in sorted(used):
        out = await planner.plan_goal("t", {"facts": facts, "avoid": [robot]})
        if out.plan is None:  # the only robot that can do some goal: refused, not broken
            assert out.problems
            continue
        assert robot not in robots_of(out.plan), (robot, out.plan)


async def test_kept_objects_never_move_and_a_plan_that_needs_them_is_refused() -> None:
    world = workshop()
    planner = BrainPlanner(world)
    kept = await planner.plan_goal("t", {"facts": ["on(drill, bench_b)"], "keep": ["saw", "crate"]})
    assert kept.plan is not None
    moved = {str(v) for s in kept.plan.subtasks for v in s.args.values()}
    assert not moved & {"saw", "crate"}
    # mm_c holds the saw, and only mm_c may act: the drill needs its hand free
    world.move_object("saw", None, held_by="mm_c")
    world.update_robot("mm_c", holding="saw")
    refused = await planner.plan_goal(
        "t", {"facts": ["on(drill, bench_b)"], "use": ["mm_c"], "keep": ["saw"]}
    )
    assert refused.plan is None
    assert any(
        "without moving saw, which the goal says to keep" in p.message for p in refused.problems
    ), refused.problems
    allowed = await planner.plan_goal("t", {"facts": ["on(drill, bench_b)"], "use": ["mm_c"]})
    assert allowed.plan is not None and "saw" in {
        str(v) for s in allowed.plan.subtasks for v in s.args.values()
    }


async def test_a_goal_already_true_plans_nothing() -> None:
    out = await BrainPlanner(workshop()).plan_goal("t", {"facts": ["on(saw, rack)"]})
    assert out.plan is not None and out.plan.subtasks == []


async def test_a_deadline_shorter_than_the_expected_time_is_noted() -> None:
    planner = BrainPlanner(workshop())
    late = await planner.plan_goal("t", {"facts": ["on(drill, bench_b)"], "deadline_s": 1})
    assert late.plan is not None and late.plan.expected_duration_s is not None
    assert late.plan.expected_duration_s > 1
    assert "longer than the goal's deadline of 1 s" in late.message
    easy = await planner.plan_goal("t", {"facts": ["on(drill, bench_b)"], "deadline_s": 3600})
    assert "deadline" not in easy.message


async def test_an_explicit_plan_must_reach_its_goal_and_keep_its_constraints() -> None:
    planner = BrainPlanner(workshop())
    steps = [
        Subtask(id="s1", robot="mm_a", skill="pick", args={"object": "drill"}),
        Subtask(
            id="s2", robot="mm_a", skill="navigate_to", args={"target": "rack"}, depends_on=["s1"]
        ),
        Subtask(
            id="s3",
            robot="mm_a",
            skill="place",
            args={"object": "drill", "target": "rack"},
            depends_on=["s2"],
        ),
    ]
    plan = Plan(subtasks=steps)
    ok = await planner.prepare(plan, goal={"facts": ["on(drill, rack)"]})
    assert ok.plan is not None and ok.goal is not None
    avoided = await planner.prepare(plan, goal={"facts": ["on(drill, rack)"], "avoid": ["mm_a"]})
    assert avoided.plan is None
    assert any("avoid mm_a" in p.message for p in avoided.problems), avoided.problems
    elsewhere = await planner.prepare(plan, goal={"facts": ["on(drill, bench_b)"]})
    assert elsewhere.plan is None and elsewhere.problems  # does not reach the goal


async def test_a_replan_that_would_use_an_avoided_robot_is_refused() -> None:
    world = workshop()
    planner = BrainPlanner(world)
    goal = {"kind": "goal", "groups": [[["on", "drill", "bench_b"]]], "avoid": ["mm_a"]}
    out = await planner.replan("t", None, goal, [], "the first try failed")
    assert out.plan is not None and "mm_a" not in robots_of(out.plan)


async def test_unmet_reads_the_goal_off_the_world() -> None:
    world = workshop()
    planner = BrainPlanner(world)
    goal = {"kind": "goal", "groups": [[["on", "drill", "bench_b"], ["at", "mm_b", "rack"]]]}
    assert await planner.unmet(goal) == ["on(drill, bench_b) does not hold (drill is on bench_a)"]
    world.move_object("drill", "bench_b")
    assert await planner.unmet(goal) == []
    assert await planner.unmet({"instruction": "not a goal"}) == []


def test_the_documented_goal_request_resolves_on_the_demo_scene() -> None:
    extra = SubmitTask.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    goals = [e["goal"] for e in examples if isinstance(e, dict) and "goal" in e]
    assert goals
    cat = household_catalogue()
    for goal in goals:
        resolved, problems = resolve_goal(goal, cat)
        assert resolved is not None, problems


async def test_a_models_replan_that_breaks_the_goals_constraints_is_refused(
    openai_server_factory: Any,
) -> None:
    from robo_os.settings import LLMSettings
    from robo_os.testing import Reply

    server = openai_server_factory(strict=True)
    by_mm_a = {
        "subtasks": [
            {"id": "r1", "robot": "mm_a", "skill": "pick", "args": {"object": "drill"}},
            {
                "id": "r2",
                "robot": "mm_a",
                "skill": "navigate_to",
                "args": {"target": "bench_b"},
                "depends_on": ["r1"],
            },
            {
                "id": "r3",
                "robot": "mm_a",
                "skill": "place",
                "args": {"object": "drill", "target": "bench_b"},
                "depends_on": ["r2"],
            },
        ]
    }
    server.script(*[Reply.tool_call(by_mm_a)] * 6)
    settings = LLMSettings(
        base_url=server.base_url, model="fake-model", timeout_s=10.0, max_retries=0
    )
    planner = BrainPlanner(workshop(), settings, fallback_to_embedded=False)
    goal = {"kind": "goal", "groups": [[["on", "drill", "bench_b"]]], "avoid": ["mm_a"]}
    try:
        out = await planner.replan("t", "the drill to bench b", goal, [], "a pick failed")
    finally:
        await planner.close()
    assert out.plan is None
    assert any("mm_a" in p.message and "avoid" in p.message for p in out.problems), out.problems


async def test_a_goal_whose_allowed_robots_are_all_offline_says_so() -> None:
    from robo_os_memory.models import RobotStatusValue

    world = workshop()
    world.update_robot("mm_b", status=RobotStatusValue.offline)
    planner = BrainPlanner(world)
    out = await planner.plan_goal("t", {"facts": ["on(drill, rack)"], "use": ["mm_b"]})
    assert out.plan is None
    assert [p.message for p in out.problems] == [
        "no available robot is left by the goal's use (mm_b)"
    ]
    held = await planner.plan_goal("t", {"facts": ["on(saw, rack)"], "use": ["mm_b"]})
    assert held.plan is not None and held.plan.subtasks == []  # already true: nothing to do
