"""Robot cameras: TinyRenderer frames from a robot's mount, with the objects seen in the
segmentation mask, encoded as PNG."""

from __future__ import annotations

import numpy as np
import pybullet as p
from robo_os_memory.models import Pose

from ..skill.parts import CameraImage
from .png import encode_png
from .rigs import RobotRig
from .view import Scene

__all__ = ["MIN_PIXELS", "capture"]

MIN_PIXELS = 12
"""An object covering fewer pixels than this is not reported as seen."""


def _look_point(world: Scene, rig: RobotRig, target: str | None) -> tuple[float, float, float]:
    if target is not None:
        if target in world.objects:
            q = world.object_pose(target)
            return (q.x, q.y, q.z)
        if target in world.places:
            pb = world.places[target]
            return (pb.frame.x, pb.frame.y, pb.surface_z)
        if target in world.robots:
            q = world.robot_pose(target)
            return (q.x, q.y, 0.6)
    frame = rig.pose(world.client)
    x, y = frame.to_world(rig.camera.look[0], rig.camera.look[1])
    return (x, y, rig.camera.look[2])


def capture(world: Scene, rig: RobotRig, target: str | None, size: tuple[int, int]) -> CameraImage:
    """What `rig`'s camera sees, looking at `target` (or ahead), as a (width, height) frame."""
    w, h = size
    frame = rig.pose(world.client)
    ex, ey = frame.to_world(rig.camera.eye[0], rig.camera.eye[1])
    eye = (ex, ey, rig.camera.eye[2])
    look = _look_point(world, rig, target)
    view = p.computeViewMatrix(eye, look, (0.0, 0.0, 1.0))
    proj = p.computeProjectionMatrixFOV(fov=60.0, aspect=w / h, nearVal=0.05, farVal=12.0)
    _, _, rgba, _, seg = p.getCameraImage(
        w, h, view, proj, renderer=p.ER_TINY_RENDERER, shadow=0, physicsClientId=world.client
    )
    pixels = np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[:, :, :3]
    ids, counts = np.unique(np.asarray(seg, dtype=np.int64).reshape(-1), return_counts=True)
    by_body = {ob.body: name for name, ob in world.objects.items()}
    seen = sorted(
        (
            (int(n), by_body[int(i)])
            for i, n in zip(ids, counts, strict=True)
            if int(i) in by_body and n >= MIN_PIXELS
        ),
        reverse=True,
    )
    yaw = float(np.arctan2(look[1] - ey, look[0] - ex))
    return CameraImage(
        png=encode_png(pixels),
        width=w,
        height=h,
        visible=tuple(name for _, name in seen),
        eye=Pose(x=ex, y=ey, z=eye[2], yaw=yaw),
    )
