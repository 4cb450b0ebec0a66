"""look: a camera image from the robot's viewpoint and the objects seen in it."""

from __future__ import annotations

import base64

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill.context import SkillContext
from robo_os.skill.decorator import skill
from robo_os.skill.parts import Camera
from robo_os.skill.refs import TargetName

__all__ = ["look"]


@skill(capabilities={"camera"}, timeout_s=15.0, concurrent=True)
async def look(ctx: SkillContext, camera: Camera, target: TargetName | None = None) -> SkillResult:
    """Take a camera image looking at a place, object or robot (or straight ahead) and
    report which objects are visible. The PNG comes back base64-encoded in `image_png`.

    Args:
        target: What to point the camera at; omit to look straight ahead.
    """
    if target is not None:
        known = (
            await ctx.memory.get_place(target)
            or await ctx.memory.get_object(target)
            or await ctx.memory.get_robot(target)
        )
        if known is None:
            return SkillResult.failure(ErrorCode.not_found, f"nothing named {target!r} to look at")
    image = await camera.capture(target)
    seen = ", ".join(image.visible) or "no objects"
    return SkillResult.success(
        f"{ctx.robot_id} sees {seen}",
        data={
            "image_png": base64.b64encode(image.png).decode("ascii"),
            "width": image.width,
            "height": image.height,
            "visible": list(image.visible),
            "target": target,
        },
    )
