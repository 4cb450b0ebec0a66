"""What the brain runtime tests share besides the public doubles (`robo_os.testing`):
a compact way to write plans."""

from __future__ import annotations

from robo_os.contracts import Plan, Subtask
from robo_os.testing import WAIT_S, ScriptedAgent, ScriptedPlanner

__all__ = ["WAIT_S", "ScriptedAgent", "ScriptedPlanner", "plan"]


def plan(*subtasks: tuple[str, str, str] | tuple[str, str, str, list[str]]) -> Plan:
    """plan(("a", "r1", "pick"), ("b", "r1", "place", ["a"]))"""
    out = []
    for s in subtasks:
        sid, robot, skill = s[0], s[1], s[2]
        deps = list(s[3]) if len(s) > 3 else []  # type: ignore[misc]
        out.append(
            Subtask(id=sid, robot=robot, skill=skill, args={"obj": "apple"}, depends_on=deps)
        )
    return Plan(subtasks=out)
