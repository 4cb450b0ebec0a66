"""Which of a robot's skills answers a call, or why none does (as a failed result the
brain can act on: a wrong robot or unknown name is `invalid_args`, a skill the robot
lacks the capability for is `precondition_failed`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..contracts import ErrorCode, SkillCall, SkillResult
from ..errors import UnknownNameError
from ..skill.invoke import Skill
from ..skill.registry import SkillRegistry

__all__ = ["resolve_skill", "wants_instruction"]


def resolve_skill(
    call: SkillCall,
    robot_id: str,
    skills: Mapping[str, Skill],
    registry: SkillRegistry,
    capabilities: frozenset[str],
    extra_names: Sequence[str] = (),
) -> Skill | SkillResult:
    """The skill of `call` among the robot's `skills`, else a failed result naming why."""
    if call.robot != robot_id:
        return SkillResult.failure(
            ErrorCode.invalid_args,
            f"call {call.call_id} is for robot {call.robot!r}, not {robot_id!r}",
        )
    skill = skills.get(call.skill)
    if skill is not None:
        return skill
    if call.skill in registry:
        missing = sorted(set(registry.get(call.skill).spec.capabilities) - capabilities)
        return SkillResult.failure(
            ErrorCode.precondition_failed,
            f"robot {robot_id} cannot run {call.skill}: it lacks capability {', '.join(missing)}",
            data={"missing_capabilities": missing},
        )
    known = sorted([*skills, *extra_names])
    return SkillResult.failure(
        ErrorCode.invalid_args, f"robot {robot_id}: {UnknownNameError('skill', call.skill, known)}"
    )


def wants_instruction(call: SkillCall, skills: Mapping[str, Skill], instruct: str) -> bool:
    """A natural-language subtask: the `instruct` skill, or a call whose only argument is
    `instruction` to a skill that takes no such argument (the skill name is then a hint)."""
    if call.skill == instruct:
        return True
    skill = skills.get(call.skill)
    takes_it = skill is not None and "instruction" in skill.spec.args_schema.get("properties", {})
    return set(call.args) == {"instruction"} and not takes_it
