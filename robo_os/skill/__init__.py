"""The skill SDK: what a skill author writes against.

    from robo_os.skill import SkillContext, SkillResult, skill
    from robo_os.skill.parts import Arm, Gripper
    from robo_os.skill.refs import ObjectName

    @skill(preconditions=["hand_empty(robot)"])   # the arm and gripper imply `manipulate`
    async def pick(
        ctx: SkillContext, object: ObjectName, arm: Arm, gripper: Gripper
    ) -> SkillResult: ...

docs/writing-skills.md walks through it.
"""

from __future__ import annotations

from ..contracts import ErrorCode, SkillCall, SkillResult, StateChange
from ..symbolic.facts import Fact
from .checker import CheckProblem, check_registry, check_skill
from .context import CancelToken, SkillAborted, SkillContext
from .decorator import SkillMeta, get_skill_meta, skill
from .discovery import ENTRY_POINT_GROUP, PluginProblem, load_plugins
from .invoke import Skill, SkillArgsError, SkillRunner, as_skill
from .refs import ObjectName, PlaceName, PlaceOrRobotName, RobotName, TargetName
from .registry import SkillRegistry, discover
from .schema import build_spec, parse_docstring
from .spec import SkillSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "CancelToken",
    "CheckProblem",
    "ErrorCode",
    "Fact",
    "ObjectName",
    "PlaceName",
    "PlaceOrRobotName",
    "PluginProblem",
    "RobotName",
    "Skill",
    "SkillAborted",
    "SkillArgsError",
    "SkillCall",
    "SkillContext",
    "SkillMeta",
    "SkillRegistry",
    "SkillResult",
    "SkillRunner",
    "SkillSpec",
    "StateChange",
    "TargetName",
    "as_skill",
    "build_spec",
    "check_registry",
    "check_skill",
    "discover",
    "get_skill_meta",
    "load_plugins",
    "parse_docstring",
    "skill",
]
