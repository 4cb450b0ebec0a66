"""The cerebellum: what runs on or near each robot (agent, Ray actor, robot interface).

Names are imported on first use, so importing a driver or the robot protocol does not
pull in the agent, Ray or the LLM client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..agent_protocol import AgentHandle, Dispatcher, agent_actor_name
    from ..skill.robot import Robot
    from .actor import AgentActor, AgentConfig, robot_resource, spawn_agent, start_agent
    from .agent import INSTRUCT, CerebellumAgent
    from .robot_llm import RobotLLM

__all__ = [
    "INSTRUCT",
    "AgentActor",
    "AgentConfig",
    "AgentHandle",
    "CerebellumAgent",
    "Dispatcher",
    "Robot",
    "RobotLLM",
    "agent_actor_name",
    "robot_resource",
    "spawn_agent",
    "start_agent",
]

_WHERE = {
    "INSTRUCT": "agent",
    "CerebellumAgent": "agent",
    "AgentActor": "actor",
    "AgentConfig": "actor",
    "robot_resource": "actor",
    "spawn_agent": "actor",
    "start_agent": "actor",
    "AgentHandle": "protocol",
    "Dispatcher": "protocol",
    "agent_actor_name": "protocol",
    "Robot": "robot",
    "RobotLLM": "robot_llm",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
