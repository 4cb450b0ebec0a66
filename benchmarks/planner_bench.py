"""The planner's own overhead (everything but the model's time), and model calls per task.

    .venv/bin/python benchmarks/planner_bench.py            # about 30 s
    .venv/bin/python benchmarks/planner_bench.py --quick    # about 10 s

World: 10 robots (3 fixed arms, 3 carriers, 4 mobile manipulators) x 30 skills (the 7
standard ones and 23 more with arguments, preconditions and effects) x 200 objects on
20 places. Prints the median time of each step of a planning round:

1. catalogue: from plain data, and from a live memory snapshot (own redis-server);
2. symbolic state; the prompt (system prompt + forced-tool schema) and its size;
3. parsing a model's answer (a 12-subtask plan inside prose) and checking it (structure,
   names, argument schemas, dependencies, symbolic simulation, conflicts); next to the
   baseline measured in the same run: json.loads + jsonschema validation against the
   plan schema alone (what a schema-only validator costs);
4. a whole planning round through `BrainPlanner.plan` with an instantly answering model
   (scripted OpenAI-compatible server on localhost: real HTTP and openai client);
5. the embedded planner (instruction parsing + search + partial order + check);
6. model calls per task on the demo scene, next to a RoboOS-style loop (1 planning call
   + 2 model calls per skill call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState
from robo_os_skills import SKILLS

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan_data
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.instructions import parse_instruction
from robo_os.brain.planning.parsing import parse_answer
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.brain.planning.prompts import planning_messages
from robo_os.brain.planning.rebalance import rebalance
from robo_os.contracts import Plan
from robo_os.settings import LLMSettings
from robo_os.skill.refs import ENTITY_KEY
from robo_os.skill.schema import build_spec
from robo_os.skill.spec import SkillSpec
from robo_os.symbolic.state import symbolic_state
from robo_os.testing import Reply, ScriptedModelServer
from robo_os.testing.world import StaticWorld, offered_skills

STANDARD_SKILLS: dict[str, SkillSpec] = {
    spec.name: spec for spec in (build_spec(fn, source="robo-os-skills") for fn in SKILLS)
}

N_PLACES, N_OBJECTS = 20, 200
KINDS = ["cup", "mug", "apple", "book", "bowl", "sponge", "plate", "box"]


def obj(i: int) -> str:
    """The name of object i (it starts on place i % 20)."""
    return f"{KINDS[i % len(KINDS)]}_{i:03d}"


def big_world() -> StaticWorld:
    places = [
        PlaceState(
            name=f"place_{i:02d}", kind="table", pose=Pose(x=float(i % 5) * 2, y=float(i // 5) * 2)
        )
        for i in range(N_PLACES)
    ]
    objects = [
        ObjectState(
            name=obj(i),
            type=KINDS[i % len(KINDS)],
            on=places[i % N_PLACES].name,
            attrs={"colour": "red"},
        )
        for i in range(N_OBJECTS)
    ]
    extra: dict[str, SkillSpec] = {}
    for k in range(23):
        kind = ["inspect", "wipe", "scan", "tag", "weigh"][k % 5]
        extra[f"{kind}_{k}"] = SkillSpec(
            name=f"{kind}_{k}",
            description=f"{kind.capitalize()} an object where it lies (variant {k}).",
            capabilities=("camera",) if k % 2 else ("manipulate",),
            args_schema={
                "type": "object",
                "properties": {
                    "object": {"type": "string", ENTITY_KEY: ["object"]},
                    "where": {"type": "string", ENTITY_KEY: ["place"]},
                },
                "required": ["object", "where"],
            },
            preconditions=("on(object, where)", "reaches(robot, where)"),
            effects=(f"{kind}ed_{k}(object)",) if k % 3 == 0 else (),
        )
    specs = {**STANDARD_SKILLS, **extra}
    robots = []
    for i in range(10):
        if i < 3:
            robots.append(
                RobotState(
                    id=f"arm{i}",
                    embodiment="fixed_arm",
                    capabilities=("manipulate", "camera"),
                    place=places[i * 6].name,
                    reach=(places[i * 6].name,),
                )
            )
        elif i < 6:
            robots.append(
                RobotState(
                    id=f"carrier{i}",
                    embodiment="carrier",
                    capabilities=("navigate", "carry"),
                    place=places[i].name,
                )
            )
        else:
            robots.append(
                RobotState(
                    id=f"mm{i}",
                    embodiment="mobile_manipulator",
                    capabilities=("navigate", "manipulate", "camera"),
                    place=places[i + 3].name,
                )
            )
    skills = offered_skills(robots, specs)
    return StaticWorld(robots, objects, places, skills)


def answer_plan() -> dict[str, Any]:
    """12 subtasks over 4 robots: two relays (arm + carrier) and a mobile manipulator."""
    s: list[dict[str, Any]] = []

    def add(robot: str, skill: str, deps: list[str], **args: str) -> str:
        sid = f"s{len(s) + 1}"
        s.append({"id": sid, "robot": robot, "skill": skill, "args": args, "depends_on": deps})
        return sid

    # arm0 is mounted at place_00, arm1 at place_06; mm6 stands at place_09
    for arm, carrier, thing, src, dst in [
        ("arm0", "carrier3", obj(0), "place_00", "place_04"),
        ("arm1", "carrier4", obj(6), "place_06", "place_08"),
    ]:
        a = add(arm, "pick", [], object=thing)
        b = add(carrier, "navigate_to", [], target=src)
        c = add(arm, "place", [a, b], object=thing, target=carrier)
        d = add(carrier, "navigate_to", [c], target=dst)
        add(carrier, "deliver", [d], object=thing, target=dst)
    n = add("mm6", "pick", [], object=obj(9))
    add(
        "mm6",
        "place",
        [add("mm6", "navigate_to", [n], target="place_02")],
        object=obj(9),
        target="place_02",
    )
    return {"subtasks": s}


def timeit(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def atimeit(fn: Callable[[], Any], repeats: int, *, cpu: bool = False) -> float:
    """Median seconds of `await fn()`; `cpu`: this thread's CPU time instead of the wall
    clock (the planner's own work, steady on a loaded machine; the scripted model
    server answers from another thread and is not counted)."""
    clock = time.thread_time if cpu else time.perf_counter
    await fn()
    samples = []
    for _ in range(repeats):
        t0 = clock()
        await fn()
        samples.append(clock() - t0)
    return statistics.median(samples)


def ms(x: float) -> str:
    return f"{x * 1000:8.2f} ms"


async def memory_catalogue(world: StaticWorld, repeats: int) -> float | None:
    try:
        from robo_os_memory import Memory

        from robo_os.services import EmbeddedRedis
    except ImportError:
        return None
    try:
        server = EmbeddedRedis().start()
    except Exception as e:  # no redis-server binary: skip this line
        print(f"   (live memory skipped: {e})")
        return None
    try:
        mem = await Memory.connect(server.url, prefix="planner-bench", writer="bench")
        try:
            for p in world.places:
                await mem.upsert_place(p)
            for r in world.robots:
                await mem.register_robot(r)
            for o in world.objects:
                await mem.upsert_object(o)
            for rid, specs in world.skills.items():
                await mem.set_robot_skills(rid, specs)
            return await atimeit(lambda: Catalogue.from_memory(mem), repeats)
        finally:
            await mem.close()
    finally:
        server.stop()


async def main(quick: bool) -> None:
    repeats = 20 if quick else 100
    world = big_world()
    robots, objects, places = await world.snapshot()
    skills = await world.robot_skills()
    n_skills = len({s for v in skills.values() for s in v})
    print(
        f"world: {len(robots)} robots x {n_skills} skills x {len(objects)} objects on {len(places)} places\n"
    )

    print("1. catalogue and state")
    t_cat = timeit(lambda: Catalogue.build(robots, skills, objects, places), repeats)
    print(f"   catalogue from plain data        {ms(t_cat)}")
    t_mem = await memory_catalogue(world, repeats)
    if t_mem is not None:
        print(
            f"   catalogue from live memory       {ms(t_mem)}   (snapshot + robot_skills over Redis, then build)"
        )
    cat = Catalogue.build(robots, skills, objects, places)
    t_state = timeit(lambda: symbolic_state(cat), repeats)
    print(f"   symbolic state                   {ms(t_state)}")

    print("2. prompt")
    instruction = f"bring {obj(0)} to place_04"

    def prompt() -> tuple[Any, Any]:
        fresh = Catalogue.build(robots, skills, objects, places)
        return planning_messages(fresh, instruction, tool_calling=True), fresh.submit_plan_tool()

    t_prompt = timeit(prompt, repeats)
    msgs, tool = prompt()
    print(
        f"   system prompt + submit_plan tool {ms(t_prompt)}   ({len(msgs[0]['content']) / 1024:.1f} KiB prompt, {len(json.dumps(tool)) / 1024:.1f} KiB tool schema)"
    )

    print("3. parse and check a 12-subtask answer")
    plan = answer_plan()
    text = "Here is the plan.\n" + json.dumps(plan) + "\nHope this helps."
    state = symbolic_state(cat)
    t_parse = timeit(lambda: parse_answer(text), repeats)
    report = check_plan_data(plan, cat, state)
    assert report.ok, report.problems
    t_check = timeit(lambda: check_plan_data(parse_answer(text).data, cat, state), repeats)
    validator = Draft202012Validator(cat.plan_schema())
    t_base = timeit(
        lambda: validator.validate(json.loads(text[text.index("{") : text.rindex("}") + 1])),
        repeats,
    )
    print(f"   parse                            {ms(t_parse)}")
    print(f"   parse + check + simulate         {ms(t_check)}")
    print(
        f"   baseline: json + schema only     {ms(t_base)}   -> full check costs {t_check / t_base:.1f}x a schema-only validation"
    )
    answered = Plan.model_validate(plan)
    t_rebalance = timeit(lambda: rebalance(answered, cat, state), repeats)
    moved = rebalance(answered, cat, state)
    print(
        f"   rebalance onto free robots       {ms(t_rebalance)}   ({len(moved.moves)} moves help)"
    )

    print("4. a planning round with an instant model (real HTTP to a local scripted server)")
    server = ScriptedModelServer(default=Reply.tool_call(plan)).start()
    try:
        planner = BrainPlanner(
            world, LLMSettings(base_url=server.base_url, model="fake-model", timeout_s=30)
        )
        try:
            t_round = await atimeit(
                lambda: planner.plan("bench", instruction), max(5, repeats // 5)
            )
            t_cpu = await atimeit(
                lambda: planner.plan("bench", instruction), max(5, repeats // 5), cpu=True
            )
            metrics = planner.llm_metrics
            http = (
                statistics.median([r.latency_s for r in metrics.recent])
                if metrics and metrics.recent
                else 0.0
            )
        finally:
            await planner.close()
    finally:
        server.stop()
    print(
        f"   BrainPlanner.plan                {ms(t_round)}   (of which the HTTP call itself {ms(http).strip()})"
    )
    print(
        f"   planner overhead without HTTP    {ms(t_round - http)}   = {100 * (t_round - http) / 1.0:.1f}% of a 1 s model call"
    )
    print(
        f"   planner CPU time (this thread)   {ms(t_cpu)}   (the openai client's side of the call included)"
    )

    print("5. embedded planner (parse instruction + search + partial order + check)")
    embedded = EmbeddedPlanner()
    cases = {
        "one object, nearby": f"put {obj(9)} on place_02",
        "one object, across the room": f"bring {obj(0)} to place_19",
        "three objects, then": f"put {obj(0)} on place_04 and {obj(6)} on place_08, then put {obj(9)} on place_02",
    }
    for label, instr in cases.items():

        def run(instr: str = instr) -> Any:
            parsed = parse_instruction(instr, cat)
            assert parsed.goal is not None, parsed.problems
            res = embedded.plan(cat, state, parsed.goal)
            assert res.plan is not None, res.problems
            return res

        t = timeit(run, max(3, repeats // 10))
        res = run()
        assert res.plan is not None
        robots_used = sorted({s.robot for s in res.plan.subtasks})
        print(
            f"   {label:<30}   {ms(t)}   ({len(res.plan.subtasks)} subtasks on {', '.join(robots_used)}; {res.expansions} states expanded)"
        )

    print("6. model calls per task on the demo scene (a model that answers right the first time)")
    demo = StaticWorld.from_fleet(STANDARD_SKILLS)
    demo_cat = await Catalogue.from_memory(demo)
    tasks = [
        "bring the apple to the dining table",
        "move the cup and the apple from the kitchen counter to the sink",
        "put the mug on the dining table, then put the book on the kitchen counter",
    ]
    total_ours = total_roboos = 0
    print(f"   {'task':<76} {'skills':>6} {'robo-os':>8} {'RoboOS-style':>13}")
    for instr in tasks:
        parsed = parse_instruction(instr, demo_cat)
        assert parsed.goal is not None
        reference = embedded.plan(demo_cat, symbolic_state(demo_cat), parsed.goal).plan
        assert reference is not None
        answer = {"subtasks": [s.model_dump(mode="json") for s in reference.subtasks]}
        server = ScriptedModelServer(default=Reply.tool_call(answer)).start()
        try:
            planner = BrainPlanner(
                demo, LLMSettings(base_url=server.base_url, model="fake-model", timeout_s=30)
            )
            out = await planner.plan("demo", instr)
            await planner.close()
        finally:
            server.stop()
        assert out.plan is not None
        skills_run = len(out.plan.subtasks)
        roboos = 1 + 2 * skills_run
        total_ours += out.model_calls
        total_roboos += roboos
        print(f"   {instr:<76} {skills_run:>6} {out.model_calls:>8} {roboos:>13}")
    print(
        f"   {'total':<76} {'':>6} {total_ours:>8} {total_roboos:>13}   -> {total_roboos / total_ours:.1f}x fewer model calls"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    asyncio.run(main(ap.parse_args().quick))
