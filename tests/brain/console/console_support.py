"""Helpers of the console tests: a brain app with one in-test robot, and what the tests
read out of the console's own files (kept out of conftest.py: test modules import them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
from robo_os_memory import Memory

from robo_os.contracts import (
    Plan,
    SkillResult,
    Subtask,
)
from robo_os.testing import ScriptedAgent, ScriptedPlanner

TOKEN = "console-test-token-0123456789"
WAIT_S = 20.0
"""Generous deadline for anything a test waits on (the machine is shared)."""

TWO_STEPS = "pick the apple then place it"
"""An instruction the planner below turns into s1 (pick) -> s2 (place) on robot r1."""


@dataclass
class Brain:
    """The brain app with its lifespan running and an in-process client on it."""

    app: Any
    client: httpx.AsyncClient
    """Sends no token by default: each test says what it sends."""
    agent: GatedAgent
    memory: Memory


def console_text(name: str) -> str:
    return resources.files("robo_os.brain.api.console").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class JsRoute:
    name: str
    method: str
    path: str
    query: tuple[str, ...]


_ROUTE = re.compile(
    r'(\w+):\s*\{\s*method:\s*"(\w+)",\s*path:\s*"([^"]+)"'
    r"(?:,\s*query:\s*\[([^\]]*)\])?\s*\}"
)


def js_routes(js: str) -> list[JsRoute]:
    """The console's API table (`export const API = {...}` in console.js)."""
    table = js[js.index("export const API") : js.index("});", js.index("export const API"))]
    return [
        JsRoute(m[1], m[2], m[3], tuple(re.findall(r'"([^"]+)"', m[4] or "")))
        for m in _ROUTE.finditer(table)
    ]


def js_string_constant(js: str, name: str) -> str:
    m = re.search(rf'const {name} = "([^"]*)";', js)
    assert m is not None, f"console.js has no string constant {name}"
    return m[1]


class GatedAgent(ScriptedAgent):
    """The public scripted agent for robot r1, whose calls finish with a note carrying
    HTML (the console must show it as text)."""

    def __init__(self) -> None:
        super().__init__("r1")

    def finish(self, call_id: str, result: SkillResult | None = None) -> None:
        super().finish(
            call_id, result or SkillResult.success(f"{call_id} done", data={"note": "<b>ok</b>"})
        )

    @property
    def cancelled(self) -> list[str]:
        return [call_id for call_id, _ in self.cancels]


def one_plan_planner() -> ScriptedPlanner:
    """Plans TWO_STEPS (any other instruction is infeasible); checks nothing."""
    return ScriptedPlanner(
        plans={
            TWO_STEPS: Plan(
                subtasks=[
                    Subtask(id="s1", robot="r1", skill="pick", args={"obj": "apple"}),
                    Subtask(
                        id="s2",
                        robot="r1",
                        skill="place",
                        args={"obj": "apple", "on": "table"},
                        depends_on=["s1"],
                    ),
                ]
            )
        }
    )


__all__ = [
    "TOKEN",
    "TWO_STEPS",
    "WAIT_S",
    "Brain",
    "GatedAgent",
    "JsRoute",
    "console_text",
    "js_routes",
    "js_string_constant",
    "one_plan_planner",
]
