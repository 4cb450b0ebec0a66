"""An example third-party skill plug-in: two skills a robot with an arm or a camera can run.

It imports only robo-os's public SDK, as an outside author would.
"""

from __future__ import annotations

from robo_os.skill import ErrorCode, SkillContext, SkillResult, skill
from robo_os.skill.refs import TargetName

__all__ = ["SKILLS", "count_objects", "wave"]


@skill(capabilities={"manipulate"}, timeout_s=10.0)
async def wave(ctx: SkillContext, times: int = 2) -> SkillResult:
    """Wave the arm to greet someone.

    Args:
        times: How many times to wave (1-5).
    """
    if not 1 <= times <= 5:
        return SkillResult.failure(ErrorCode.invalid_args, f"times must be 1-5, not {times}")
    for i in range(times):
        ctx.check()
        await ctx.report_progress((i + 1) / times, f"wave {i + 1}/{times}")
    return SkillResult.success(f"waved {times} times", data={"waves": times})


@skill(capabilities={"camera"}, timeout_s=5.0, concurrent=True)
def count_objects(ctx: SkillContext, target: TargetName) -> dict[str, int]:
    """Count the objects the memory says rest on a place (a sync skill: it runs in a
    worker thread).

    Args:
        target: The place to count objects on.
    """
    ctx.check()
    known = ctx.extras.get("contents", {})
    return {"count": len(known.get(target, []))}


SKILLS = [wave, count_objects]
