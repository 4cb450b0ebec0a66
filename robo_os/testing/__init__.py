"""Test doubles for robo-os users: skill authors and app developers test their own code
with these, without the whole stack (the project's own tests use the same ones).

- `FakeRobot`, `FakeCamera`: the robot contract with gates a test opens (robot.py);
- `skill_context`, `run_skill`: run one skill outside any agent (skills.py);
- `ScriptedModelServer`, `Reply`: an OpenAI-compatible HTTP server whose every answer
  the test scripts, for the real `openai` client and the brain's planner; `strict=True`
  refuses what llama.cpp's server refuses (`validate_chat_request`) (model.py);
- `ScriptedAgent`, `RegistryAgent`: agent handles for testing the brain's runtime or an
  app (agents.py); `ScriptedPlanner`: a planner that returns given plans (planners.py);
- `tiny_png`, `decode_png`: camera-frame helpers (png.py).

Nothing here is imported by the rest of robo-os.
"""

from __future__ import annotations

from .agents import WAIT_S, RegistryAgent, ScriptedAgent
from .model import RecordedRequest, Reply, ScriptedModelServer, validate_chat_request
from .planners import ScriptedPlanner
from .png import decode_png, tiny_png
from .robot import FakeArm, FakeBase, FakeCamera, FakeGripper, FakeRobot, FakeTray, build_fake_robot
from .skills import run_skill, skill_context

__all__ = [
    "WAIT_S",
    "FakeArm",
    "FakeBase",
    "FakeCamera",
    "FakeGripper",
    "FakeRobot",
    "FakeTray",
    "RecordedRequest",
    "RegistryAgent",
    "Reply",
    "ScriptedAgent",
    "ScriptedModelServer",
    "ScriptedPlanner",
    "build_fake_robot",
    "decode_png",
    "run_skill",
    "skill_context",
    "tiny_png",
    "validate_chat_request",
]
