"""A model as the planner: goal mode next to plan mode, on instructions with known goals.

    scripts/model-server &                                   # SmolLM2-135M (pip install -e '.[model]')
    .venv/bin/python benchmarks/model_bench.py --base-url http://127.0.0.1:8081/v1
    .venv/bin/python benchmarks/model_bench.py --scripted    # the harness itself, no model

Two scenes of our own (the household demo and a workshop with two mobile manipulators, a
cart and a fixed arm), 31 instructions with the goal each means (several objects,
"then", "without R", "only R", "except X", German and French). Each instruction is
planned by `BrainPlanner` against any OpenAI-compatible `--base-url`, in goal mode (the
model writes the goal, the embedded planner plans it) and in plan mode (the model writes
the goal and the plan, the checker verifies it), with no fallback to the embedded
planner. Per task it prints: whether the plan reaches the instruction's goal and keeps
its constraints (symbolic simulation: "success"), whether the model's goal is the
expected one, model calls, prompt + completion tokens and seconds; then per mode the
success rate and the means.

`--scripted` answers every request from a scripted OpenAI-compatible server with the
expected goal (and, in plan mode, the embedded planner's plan for it): every figure but
the model's own is exercised, and success is 100 % by construction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from robo_os_memory.models import ObjectState, PlaceState, Pose, RobotState
from robo_os_skills import SKILLS

from robo_os.brain.planning.catalogue import Catalogue
from robo_os.brain.planning.checker import check_plan
from robo_os.brain.planning.embedded import EmbeddedPlanner
from robo_os.brain.planning.goals import constraint_problems
from robo_os.brain.planning.planner import BrainPlanner
from robo_os.settings import LLMSettings
from robo_os.skill.schema import build_spec
from robo_os.symbolic.goal import Goal
from robo_os.symbolic.state import symbolic_state
from robo_os.testing import RecordedRequest, Reply, ScriptedModelServer
from robo_os.testing.world import (
    EMBODIMENT_CAPABILITIES,
    StaticWorld,
    fleet_records,
    offered_skills,
)

SPECS = {s.name: s for s in (build_spec(fn, source="robo-os-skills") for fn in SKILLS)}
MODES = ("goal", "plan")


def household() -> StaticWorld:
    robots, objects, places = fleet_records(SPECS)
    return StaticWorld(robots, objects, places, offered_skills(robots, SPECS))


def workshop() -> StaticWorld:
    spots = {
        "workbench": (0.0, 0.0),
        "tool_rack": (3.0, 0.0),
        "bin": (3.0, 3.0),
        "loading_dock": (-3.0, 3.0),
        "shelf_a": (-3.0, -2.0),
    }
    places = [
        PlaceState(name=n, kind="table", pose=Pose(x=x, y=y), size=(0.8, 0.8, 0.75))
        for n, (x, y) in spots.items()
    ]
    where = {
        "wrench": "workbench",
        "hammer": "workbench",
        "tape": "workbench",
        "screwdriver": "tool_rack",
        "box": "shelf_a",
    }
    objects = [ObjectState(name=o, type=o, on=p) for o, p in where.items()]

    def robot(rid: str, embodiment: str, at: str) -> RobotState:
        x, y = spots[at]
        return RobotState(
            id=rid,
            embodiment=embodiment,
            capabilities=EMBODIMENT_CAPABILITIES[embodiment],
            place=at,
            pose=Pose(x=x, y=y),
            reach=(at,) if embodiment == "fixed_arm" else (),
        )

    robots = [
        robot("arm1", "fixed_arm", "workbench"),
        robot("cart1", "carrier", "tool_rack"),
        robot("mm1", "mobile_manipulator", "loading_dock"),
        robot("mm2", "mobile_manipulator", "bin"),
    ]
    return StaticWorld(robots, objects, places, offered_skills(robots, SPECS))


SCENES = {"household": household, "workshop": workshop}


@dataclass(frozen=True)
class Case:
    scene: str
    instruction: str
    goal: dict[str, Any]
    """The goal the instruction means (the goal language's JSON, `facts`/`groups`)."""


def _on(*pairs: str) -> list[list[str]]:
    return [["on", pairs[i], pairs[i + 1]] for i in range(0, len(pairs), 2)]


CASES: list[Case] = [
    Case(
        "household", "Bring the apple to the dining table.", {"facts": _on("apple", "dining_table")}
    ),
    Case("household", "Put the cup in the sink.", {"facts": _on("cup", "sink")}),
    Case(
        "household",
        "Move the book to the kitchen counter.",
        {"facts": _on("book", "kitchen_counter")},
    ),
    Case(
        "household", "Take the mug over to the dining table.", {"facts": _on("mug", "dining_table")}
    ),
    Case("household", "Put the sponge on the shelf.", {"facts": _on("sponge", "shelf")}),
    Case(
        "household",
        "Bring the bowl to the kitchen counter.",
        {"facts": _on("bowl", "kitchen_counter")},
    ),
    Case(
        "household",
        "Put the apple and the cup on the dining table.",
        {"facts": _on("apple", "dining_table", "cup", "dining_table")},
    ),
    Case(
        "household",
        "Move the mug to the sink, then the book to the dining table.",
        {"groups": [_on("mug", "sink"), _on("book", "dining_table")]},
    ),
    Case(
        "household",
        "Bring the apple to the dining table without using mm1.",
        {"facts": _on("apple", "dining_table"), "avoid": ["mm1"]},
    ),
    Case(
        "household",
        "Put the sponge on the kitchen counter.",
        {"facts": _on("sponge", "kitchen_counter")},
    ),
    Case(
        "household",
        "Clear the shelf: the mug and the book go to the dining table.",
        {"facts": _on("mug", "dining_table", "book", "dining_table")},
    ),
    Case(
        "household", "Serve the apple at the dining table.", {"facts": _on("apple", "dining_table")}
    ),
    Case("household", "Could you put the cup on the shelf?", {"facts": _on("cup", "shelf")}),
    Case("household", "Stell die Tasse in die Spüle.", {"facts": _on("cup", "sink")}),
    Case(
        "household", "Mets la pomme sur la table à manger.", {"facts": _on("apple", "dining_table")}
    ),
    Case(
        "household",
        "Everything on the kitchen counter to the dining table except the cup.",
        {"facts": _on("apple", "dining_table"), "keep": ["cup"]},
    ),
    Case(
        "workshop",
        "Bring the wrench to the loading dock.",
        {"facts": _on("wrench", "loading_dock")},
    ),
    Case("workshop", "Put the hammer in the bin.", {"facts": _on("hammer", "bin")}),
    Case(
        "workshop",
        "Move the screwdriver to the workbench.",
        {"facts": _on("screwdriver", "workbench")},
    ),
    Case("workshop", "Take the tape to the tool rack.", {"facts": _on("tape", "tool_rack")}),
    Case("workshop", "Put the box on the workbench.", {"facts": _on("box", "workbench")}),
    Case(
        "workshop",
        "Bring the wrench and the hammer to the tool rack.",
        {"facts": _on("wrench", "tool_rack", "hammer", "tool_rack")},
    ),
    Case(
        "workshop",
        "Put the tape in the bin, then the box on the loading dock.",
        {"groups": [_on("tape", "bin"), _on("box", "loading_dock")]},
    ),
    Case(
        "workshop",
        "Bring the screwdriver to the loading dock, using only mm2.",
        {"facts": _on("screwdriver", "loading_dock"), "use": ["mm2"]},
    ),
    Case(
        "workshop",
        "Move the box to the bin without mm1.",
        {"facts": _on("box", "bin"), "avoid": ["mm1"]},
    ),
    Case(
        "workshop",
        "Everything on the workbench to shelf a, except the tape.",
        {"facts": _on("wrench", "shelf_a", "hammer", "shelf_a"), "keep": ["tape"]},
    ),
    Case("workshop", "Take the wrench to the bin.", {"facts": _on("wrench", "bin")}),
    Case("workshop", "Lege den Hammer auf das Regal a.", {"facts": _on("hammer", "shelf_a")}),
    Case(
        "workshop",
        "Can you get the tape to the loading dock?",
        {"facts": _on("tape", "loading_dock")},
    ),
    Case("workshop", "Drop the screwdriver in the bin.", {"facts": _on("screwdriver", "bin")}),
    Case("workshop", "Return the box to the tool rack.", {"facts": _on("box", "tool_rack")}),
]


def expected(case: Case) -> Goal:
    return Goal.parse({**case.goal, "instruction": case.instruction})


@dataclass
class Result:
    case: Case
    mode: str
    success: bool
    goal_ok: bool
    calls: int
    tokens: int
    seconds: float
    note: str


def _same_goal(got: dict[str, Any] | None, want: Goal) -> bool:
    goal = Goal.from_json(got) if got is not None else None
    if goal is None:
        return False
    return (
        set(goal.final) == set(want.final)
        and goal.use == want.use
        and goal.avoid == want.avoid
        and goal.keep == want.keep
    )


async def run_case(
    planner: BrainPlanner, world: StaticWorld, case: Case, mode: str, n: int
) -> Result:
    cat = Catalogue.build(world.robots, world.skills, world.objects, world.places)
    state = symbolic_state(cat)
    want = expected(case)
    before = planner.llm_metrics.snapshot() if planner.llm_metrics else {}
    t0 = time.perf_counter()
    out = await planner.plan(f"bench-{n}", case.instruction, mode=mode)
    seconds = time.perf_counter() - t0
    after = planner.llm_metrics.snapshot() if planner.llm_metrics else {}
    tokens = sum(after.get(k, 0) - before.get(k, 0) for k in ("prompt_tokens", "completion_tokens"))
    success = False
    if out.plan is not None:
        report = check_plan(out.plan, cat, state, goal=want.final, allowed_holding=want.held)
        calls = [(s.id, s.robot, s.skill, s.args) for s in out.plan.subtasks]
        success = report.ok and not constraint_problems(calls, want, cat, state, report.final_state)
    note = "" if out.plan is not None else (out.message or "no plan")[:120]
    return Result(
        case, mode, success, _same_goal(out.goal, want), out.model_calls, tokens, seconds, note
    )


def scripted_responder(worlds: dict[str, StaticWorld]) -> Any:
    """Answers each request with the instruction's expected goal (and, for a plan, the
    embedded planner's plan for it): the harness without a model."""
    by_text = {c.instruction: c for c in CASES}
    search = EmbeddedPlanner()

    def respond(rec: RecordedRequest) -> Reply:
        body = rec.body
        user = next(m for m in body["messages"] if m["role"] == "user")
        text = user["content"] if isinstance(user["content"], str) else user["content"][0]["text"]
        case = by_text[re.sub(r"^Instruction: ", "", text)]
        goal = dict(case.goal)
        if "groups" in goal:
            first, *then = goal.pop("groups")
            goal = {**goal, "facts": first, "then": then}
        tools = body.get("tools") or []
        name = tools[0]["function"]["name"] if tools else ""
        wants_plan = name == "submit_plan" or "SKILLS" in body["messages"][0]["content"]
        answer: dict[str, Any] = goal
        if wants_plan:
            world = worlds[case.scene]
            cat = Catalogue.build(world.robots, world.skills, world.objects, world.places)
            want = expected(case)
            res = search.plan(cat, symbolic_state(cat), want)
            assert res.plan is not None, case.instruction
            subtasks = [
                {
                    k: v
                    for k, v in s.model_dump(mode="json").items()
                    if k in ("id", "robot", "skill", "args", "depends_on")
                }
                for s in res.plan.subtasks
            ]
            answer = {"goal": goal, "subtasks": subtasks}
        if tools:
            return Reply.tool_call(answer, name=name)
        return Reply.text(json.dumps(answer))

    return respond


async def bench(args: argparse.Namespace) -> list[Result]:
    worlds = {name: make() for name, make in SCENES.items()}
    cases = [c for c in CASES if c.scene in args.scenes][: args.limit or None]
    server = None
    base_url = args.base_url
    if args.scripted:
        server = ScriptedModelServer(strict=True, responder=scripted_responder(worlds)).start()
        base_url = server.base_url
    if not base_url:
        sys.exit("give --base-url of an OpenAI-compatible server, or --scripted")
    results: list[Result] = []
    try:
        for mode in args.modes:
            for scene, world in worlds.items():
                settings = LLMSettings(
                    base_url=base_url,
                    model=args.model,
                    api_key=args.api_key,
                    mode=mode,
                    tool_calling=not args.text,
                    max_tokens=args.max_tokens,
                    timeout_s=args.timeout,
                    repair_attempts=args.repairs,
                    max_retries=0,
                )
                planner = BrainPlanner(world, settings, fallback_to_embedded=False)
                try:
                    for case in (c for c in cases if c.scene == scene):
                        r = await run_case(planner, world, case, mode, len(results))
                        results.append(r)
                        print(
                            f"{mode:4} {scene:9} {'ok  ' if r.success else 'FAIL'} goal={'=' if r.goal_ok else 'x'}"
                            f" calls={r.calls} tokens={r.tokens:5d} {r.seconds:6.2f} s  {case.instruction}"
                            + (f"  [{r.note}]" if r.note else ""),
                            flush=True,
                        )
                finally:
                    await planner.close()
    finally:
        if server is not None:
            server.stop()
    print()
    print(
        f"model {args.model} at {base_url} ({'text' if args.text else 'tool'} mode, {len(cases)} instructions)"
    )
    print("mode  success  goal right  calls/task  tokens/task  s/task")
    for mode in args.modes:
        rs = [r for r in results if r.mode == mode]
        if not rs:
            continue
        print(
            f"{mode:4}  {sum(r.success for r in rs):3d}/{len(rs):<3d}  {sum(r.goal_ok for r in rs):4d}/{len(rs):<3d}"
            f"   {statistics.fmean(r.calls for r in rs):8.2f}  {statistics.fmean(r.tokens for r in rs):11.0f}"
            f"  {statistics.fmean(r.seconds for r in rs):6.2f}"
        )
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8081/v1")
    ap.add_argument("--model", default="smollm2-135m", help="model name to request")
    ap.add_argument("--api-key", default=None)
    ap.add_argument(
        "--scripted", action="store_true", help="answer from a scripted server (no model)"
    )
    ap.add_argument("--modes", default="goal,plan", type=lambda s: tuple(s.split(",")))
    ap.add_argument("--scenes", default="household,workshop", type=lambda s: tuple(s.split(",")))
    ap.add_argument("--limit", type=int, default=0, help="only the first N instructions")
    ap.add_argument(
        "--text", action="store_true", help="JSON text answers instead of a forced tool call"
    )
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per model request")
    ap.add_argument("--repairs", type=int, default=2, help="repair turns per task")
    args = ap.parse_args(argv)
    bad = set(args.modes) - set(MODES)
    if bad:
        ap.error(f"unknown mode(s) {', '.join(sorted(bad))}; use {', '.join(MODES)}")
    return args


if __name__ == "__main__":
    asyncio.run(bench(parse_args()))
