"""Nothing a model sends crashes parsing or checking: seeded random mutations of good
plans and random JSON shapes (thousands of cases, deterministic)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from robo_os.brain.planning.checker import check_plan_data
from robo_os.brain.planning.parsing import parse_answer
from robo_os.symbolic.state import symbolic_state

from .planning_world import household_catalogue

GOOD: dict[str, Any] = {
    "subtasks": [
        {
            "id": "s1",
            "robot": "arm1",
            "skill": "pick",
            "args": {"object": "apple"},
            "depends_on": [],
        },
        {
            "id": "s2",
            "robot": "carrier1",
            "skill": "navigate_to",
            "args": {"target": "kitchen_counter"},
            "depends_on": [],
        },
        {
            "id": "s3",
            "robot": "arm1",
            "skill": "place",
            "args": {"object": "apple", "target": "carrier1"},
            "depends_on": ["s1", "s2"],
        },
        {
            "id": "s4",
            "robot": "carrier1",
            "skill": "navigate_to",
            "args": {"target": "dining_table"},
            "depends_on": ["s3"],
        },
        {
            "id": "s5",
            "robot": "carrier1",
            "skill": "deliver",
            "args": {"object": "apple", "target": "dining_table"},
            "depends_on": ["s4"],
        },
    ]
}
VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    3.5,
    "",
    "s1",
    "s9",
    "mm1",
    "apple",
    "shelf",
    "pick",
    "<short reason>",
    [],
    [1],
    ["s1", "s1"],
    {},
    {"type": "string"},
    "x" * 500,
]
KEYS = [
    "id",
    "robot",
    "skill",
    "args",
    "depends_on",
    "object",
    "target",
    "subtasks",
    "error",
    "extra",
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.5:
        return rng.choice(VALUES)
    if r < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def mutate(rng: random.Random, plan: dict[str, Any]) -> Any:
    plan = copy.deepcopy(plan)
    for _ in range(rng.randint(1, 4)):
        subtasks = plan.get("subtasks") if isinstance(plan, dict) else None
        if not isinstance(subtasks, list) or not subtasks:
            return plan
        i = rng.randrange(len(subtasks))
        st = subtasks[i]
        op = rng.randrange(7)
        if op == 0 and isinstance(st, dict) and st:
            st.pop(rng.choice(list(st)))
        elif op == 1 and isinstance(st, dict):
            st[rng.choice(KEYS)] = random_value(rng)
        elif op == 2 and isinstance(st, dict) and isinstance(st.get("args"), dict):
            st["args"][rng.choice(KEYS)] = random_value(rng)
        elif op == 3:
            subtasks[i] = random_value(rng)
        elif op == 4:
            subtasks.insert(rng.randrange(len(subtasks) + 1), copy.deepcopy(rng.choice(subtasks)))
        elif op == 5 and isinstance(st, dict):
            st["depends_on"] = [
                rng.choice(["s1", "s2", "s3", "s4", "s5", "s6", st.get("id")])
                for _ in range(rng.randint(0, 3))
            ]
        else:
            plan[rng.choice(["error", "subtasks", "note"])] = random_value(rng)
    return plan


def test_random_mutations_never_crash() -> None:
    cat = household_catalogue()
    state = symbolic_state(cat)
    rng = random.Random(1234)
    outcomes = {"ok": 0, "refused": 0, "infeasible": 0}
    for _ in range(3000):
        data = mutate(rng, GOOD) if rng.random() < 0.8 else random_value(rng)
        report = check_plan_data(data, cat, state)
        if report.ok:
            outcomes["ok"] += 1
        elif report.infeasible:
            outcomes["infeasible"] += 1
        else:
            assert report.problems and all(p.message for p in report.problems), data
            outcomes["refused"] += 1
    assert outcomes["refused"] > 2000 and outcomes["ok"] > 0


def test_random_text_never_crashes_the_parser() -> None:
    rng = random.Random(99)
    good = json.dumps(GOOD)
    alphabet = '{}[]":,. \nabcs12_-`json'
    for _ in range(2000):
        r = rng.random()
        if r < 0.4:
            cut = rng.randrange(len(good))
            text = (
                good[:cut]
                + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
                + good[cut:]
            )
        elif r < 0.7:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        else:
            text = good[: rng.randrange(len(good))]
        got = parse_answer(text, finish_reason=rng.choice([None, "stop", "length"]))
        assert got.data is not None or got.problems
