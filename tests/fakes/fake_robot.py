"""A fake robot for agent and skill tests: the `Robot` contract, a pose, an optional camera,
and gates a test opens to let a motion finish (so tests wait on events, never on sleeps).

    robot = FakeRobot("r1", capabilities={"navigate", "camera"}, camera=True)
    ctx = fake_context(robot, "wave", {"times": 2})
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib
from typing import Any

from robo_os_memory.models import Pose

from robo_os.contracts import SkillCall
from robo_os.fleet import RobotConfig
from robo_os.skill.context import CancelToken, SkillContext
from robo_os.skill.parts import CameraImage

__all__ = ["FakeCamera", "FakeRobot", "build_fake_robot", "fake_context", "tiny_png"]


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour (what a camera part returns)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class FakeCamera:
    def __init__(self, visible: tuple[str, ...] = ("apple",)) -> None:
        self.visible = visible
        self.captures = 0

    async def capture(self, target: str | None = None) -> CameraImage:
        self.captures += 1
        return CameraImage(png=tiny_png(), width=2, height=2, visible=self.visible)


class FakeRobot:
    """Implements `robo_os.skill.robot.Robot`; records its lifecycle calls."""

    def __init__(
        self,
        id: str = "fake1",
        *,
        embodiment: str = "fake",
        capabilities: frozenset[str] | set[str] = frozenset({"navigate", "manipulate"}),
        place: str | None = "kitchen",
        camera: bool = False,
        fail_connect: bool = False,
    ) -> None:
        self._id = id
        self._embodiment = embodiment
        self._capabilities = frozenset(capabilities)
        self.place = place
        self.camera = FakeCamera() if camera else None
        self.fail_connect = fail_connect
        self.connects = 0
        self.closes = 0
        self._pose = Pose(x=1.0, y=2.0, yaw=0.5)

    @property
    def id(self) -> str:
        return self._id

    @property
    def embodiment(self) -> str:
        return self._embodiment

    @property
    def capabilities(self) -> frozenset[str]:
        return self._capabilities

    async def connect(self) -> None:
        self.connects += 1
        if self.fail_connect:
            raise ConnectionError(f"{self._id}: the fake robot refuses to connect")

    async def close(self) -> None:
        self.closes += 1

    async def pose(self) -> Pose:
        return self._pose

    def move(self, x: float, y: float) -> None:
        self._pose = Pose(x=x, y=y)


def build_fake_robot(config: RobotConfig, **options: Any) -> FakeRobot:
    """A robot factory with the signature the agent actor calls (`factory(config, **kw)`)."""
    caps = config.options.get("capabilities", ["navigate", "manipulate"])
    return FakeRobot(
        config.id,
        embodiment=config.embodiment,
        capabilities=set(caps),
        place=config.at,
        camera=bool(config.options.get("camera", False)),
        **options,
    )


def fake_context(
    robot: Any = None,
    skill: str = "skill",
    args: dict[str, Any] | None = None,
    *,
    memory: Any = None,
    timeout_s: float = 30.0,
    cancel: CancelToken | None = None,
    progress: Any = None,
) -> SkillContext:
    """A skill context outside any agent (memory None unless given)."""
    robot = robot if robot is not None else FakeRobot()
    call = SkillCall(
        call_id=f"test-{skill}-{time.monotonic_ns()}", robot=robot.id, skill=skill, args=args or {}
    )
    return SkillContext(
        robot=robot,
        memory=memory,
        call=call,
        logger=logging.getLogger(f"test.skill.{skill}"),
        deadline=time.monotonic() + timeout_s,
        cancel=cancel or CancelToken(),
        progress_fn=progress,
    )


async def wait_for(event: asyncio.Event, timeout_s: float = 30.0) -> None:
    await asyncio.wait_for(event.wait(), timeout_s)
