"""A fake robot: the `Robot` contract and any of the part contracts, in memory, with no
physics. For testing a skill's logic (its checks, its handling of each motion outcome)
without the simulator; `robo_os.sim` is the twin to use when the physics matters.

    robot = FakeRobot("r1", parts={"base", "arm", "gripper"}, place="kitchen", places={"hall"})
    robot.objects["apple"] = "kitchen"            # what the fake world holds
    robot.script("pick", MotionOutcome.not_found)  # the next pick fails so
    result = await run_skill(pick, {"object": "apple"}, robot=robot)

Motions finish at once (or when the test opens a gate: `robot.gate("move_to")` then
`robot.open("move_to")`), so tests wait on events, never on sleeps. Every motion is
recorded in `robot.motions` as `(part method, target)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from robo_os_memory.models import Pose

from ..fleet import RobotConfig
from ..skill.context import CancelToken
from ..skill.parts import CameraImage, MotionOutcome, MotionResult, PoseCallback, ToolPose
from .png import tiny_png

__all__ = [
    "FakeArm",
    "FakeBase",
    "FakeCamera",
    "FakeGripper",
    "FakeRobot",
    "FakeTray",
    "build_fake_robot",
]

_CAPABILITY_OF = {
    "base": "navigate",
    "arm": "manipulate",
    "gripper": "manipulate",
    "camera": "camera",
    "tray": "carry",
}


class FakeCamera:
    def __init__(self, visible: tuple[str, ...] = ("apple",)) -> None:
        self.visible = visible
        self.captures = 0

    async def capture(self, target: str | None = None) -> CameraImage:
        self.captures += 1
        return CameraImage(png=tiny_png(), width=2, height=2, visible=self.visible)


class _Part:
    def __init__(self, robot: FakeRobot) -> None:
        self.robot = robot

    async def _motion(
        self, name: str, target: str | None, cancel: CancelToken | None
    ) -> MotionResult | None:
        """Record the motion, wait at its gate if any; a scripted or cancelled outcome
        (returned) replaces the normal one (None)."""
        self.robot.motions.append((name, target))
        self.robot.motion_started(name).set()
        gate = self.robot._gates.get(name)
        if gate is not None:
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(gate.wait())]
            if cancel is not None:
                waits.append(asyncio.ensure_future(cancel.wait()))
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for p in pending:
                p.cancel()
        if cancel is not None and cancel.cancelled:
            return MotionResult(outcome=MotionOutcome.cancelled, message="cancelled")
        scripted = self.robot._scripted.get(name)
        if scripted:
            outcome, message = scripted.pop(0)
            return MotionResult(outcome=outcome, message=message or f"{name}: {outcome}")
        return None


class FakeBase(_Part):
    async def pose(self) -> Pose:
        return self.robot._pose

    async def place(self) -> str | None:
        return self.robot.place

    async def move_to(
        self,
        goal: str | Pose,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        on_pose: PoseCallback | None = None,
        progress_interval_s: float = 0.15,
    ) -> MotionResult:
        target = goal if isinstance(goal, str) else f"({goal.x:.2f}, {goal.y:.2f})"
        stopped = await self._motion("move_to", target, cancel)
        if stopped is None:
            if isinstance(goal, str):
                if goal not in self.robot.places:
                    return MotionResult(
                        outcome=MotionOutcome.not_found, message=f"no place {goal!r}"
                    )
                self.robot.place = goal
                self.robot._pose = self.robot.places[goal]
            else:
                self.robot.place = None
                self.robot._pose = goal
        if on_pose is not None:
            await on_pose(self.robot._pose)
        return stopped or MotionResult(outcome=MotionOutcome.done, pose=self.robot._pose)


class FakeGripper(_Part):
    async def holding(self) -> str | None:
        return self.robot.held


class FakeArm(_Part):
    async def reaches(self, target: str) -> bool:
        return target == self.robot.place or self.robot.objects.get(target) == self.robot.place

    async def pick(
        self, obj: str, *, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> MotionResult:
        stopped = await self._motion("pick", obj, cancel)
        if stopped is not None:
            return stopped
        if self.robot.held is not None:
            return MotionResult(
                outcome=MotionOutcome.precondition_failed, message=f"holding {self.robot.held}"
            )
        if obj not in self.robot.objects:
            return MotionResult(outcome=MotionOutcome.not_found, message=f"no {obj} here")
        del self.robot.objects[obj]
        self.robot.held = obj
        return MotionResult(outcome=MotionOutcome.done, pose=self.robot._pose)

    async def place(
        self,
        obj: str,
        target: str,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        stopped = await self._motion("place", target, cancel)
        if stopped is not None:
            return stopped
        if self.robot.held != obj:
            return MotionResult(
                outcome=MotionOutcome.precondition_failed, message=f"not holding {obj}"
            )
        self.robot.held = None
        self.robot.objects[obj] = target
        return MotionResult(outcome=MotionOutcome.done, on=target, pose=self.robot._pose)

    async def operate(
        self,
        target: str,
        open: bool,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        stopped = await self._motion("operate", target, cancel)
        if stopped is not None:
            return stopped
        self.robot.opened[target] = open
        return MotionResult(outcome=MotionOutcome.done)

    async def move_tool(
        self,
        pose: ToolPose,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        return await self.follow([pose], cancel=cancel, deadline=deadline)

    async def follow(
        self,
        path: Sequence[ToolPose],
        *,
        speed: float = 0.15,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> MotionResult:
        """Records the path in `robot.tool_paths`; every waypoint is reached."""
        if not path:
            raise ValueError("an empty path")
        stopped = await self._motion("follow", f"{len(path)} waypoint(s)", cancel)
        if stopped is not None:
            return stopped
        self.robot.tool_paths.append(list(path))
        last = path[-1]
        return MotionResult(
            outcome=MotionOutcome.done,
            pose=Pose(x=last.x, y=last.y, z=last.z),
            data={"reached": len(path)},
        )


class FakeTray(_Part):
    async def contents(self) -> list[str]:
        return list(self.robot.tray_contents)

    async def unload(
        self, obj: str, *, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> MotionResult:
        stopped = await self._motion("unload", obj, cancel)
        if stopped is not None:
            return stopped
        if self.robot.place is None or obj not in self.robot.tray_contents:
            return MotionResult(
                outcome=MotionOutcome.precondition_failed,
                message="not docked" if self.robot.place is None else f"{obj} is not on the tray",
            )
        self.robot.tray_contents.remove(obj)
        self.robot.objects[obj] = self.robot.place
        return MotionResult(outcome=MotionOutcome.done, on=self.robot.place)


class FakeRobot:
    """Implements `robo_os.skill.robot.Robot` and the parts named in `parts` (`base`,
    `arm`, `gripper`, `camera`, `tray`; `camera=True` adds a camera); records its
    lifecycle calls. `capabilities` defaults to what `parts` stand for (navigate and
    manipulate when no part is named). The fake world is plain data the test sets:
    `places` (name → pose; the start `place` is one), `objects` (name → where it
    lies), `held`, `tray_contents`."""

    def __init__(
        self,
        id: str = "fake1",
        *,
        embodiment: str = "fake",
        capabilities: Iterable[str] | None = None,
        parts: Iterable[str] = (),
        place: str | None = "kitchen",
        places: Mapping[str, Pose] | Iterable[str] = (),
        camera: bool = False,
        fail_connect: bool = False,
    ) -> None:
        wanted = set(parts)
        unknown = wanted - set(_CAPABILITY_OF)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; known: {sorted(_CAPABILITY_OF)}")
        if capabilities is None:
            capabilities = {_CAPABILITY_OF[p] for p in wanted} or {"navigate", "manipulate"}
        wanted |= {"camera"} if camera else set()
        self._id = id
        self._embodiment = embodiment
        self._capabilities = frozenset(capabilities)
        self.place = place
        self.places: dict[str, Pose] = {place: Pose(x=1.0, y=2.0, yaw=0.5)} if place else {}
        if isinstance(places, Mapping):
            self.places.update(places)
        else:
            for name in places:  # a row of places 2 m apart, beyond the start
                self.places.setdefault(name, Pose(x=1.0 + 2.0 * len(self.places), y=2.0))
        self.objects: dict[str, str] = {}
        self.held: str | None = None
        self.tray_contents: list[str] = []
        self.opened: dict[str, bool] = {}
        self.tool_paths: list[list[ToolPose]] = []
        """The Cartesian paths the arm followed (`arm.follow` / `arm.move_tool`)."""
        self.motions: list[tuple[str, str | None]] = []
        self.base = FakeBase(self) if "base" in wanted else None
        self.arm = FakeArm(self) if "arm" in wanted else None
        self.gripper = FakeGripper(self) if "gripper" in wanted else None
        self.camera: FakeCamera | None = FakeCamera() if "camera" in wanted else None
        self.tray = FakeTray(self) if "tray" in wanted else None
        self.fail_connect = fail_connect
        self.connects = 0
        self.closes = 0
        self._pose = Pose(x=1.0, y=2.0, yaw=0.5)
        self._gates: dict[str, asyncio.Event] = {}
        self._started: dict[str, asyncio.Event] = {}
        self._scripted: dict[str, list[tuple[MotionOutcome, str]]] = {}

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

    # -- scripting -------------------------------------------------------------------------
    def script(self, motion: str, outcome: MotionOutcome, message: str = "") -> FakeRobot:
        """The next `motion` (`move_to`, `pick`, `place`, `operate`, `unload`) ends with
        `outcome` instead of succeeding; queue several by calling again."""
        self._scripted.setdefault(motion, []).append((outcome, message))
        return self

    def gate(self, motion: str) -> asyncio.Event:
        """From now on `motion` waits until the returned event is set (or it is cancelled)."""
        return self._gates.setdefault(motion, asyncio.Event())

    def open(self, motion: str) -> None:
        self._gates.pop(motion, asyncio.Event()).set()

    def motion_started(self, motion: str) -> asyncio.Event:
        """Set once `motion` has begun (await it instead of polling `motions`)."""
        return self._started.setdefault(motion, asyncio.Event())


def build_fake_robot(config: RobotConfig, **options: Any) -> FakeRobot:
    """A robot factory with the signature the agent actor calls (`factory(config, **kw)`):
    `options.capabilities`, `options.parts` and `options.camera` come from the fleet file."""
    caps = config.options.get("capabilities", ["navigate", "manipulate"])
    parts = config.options.get("parts", [])
    return FakeRobot(
        config.id,
        embodiment=config.embodiment,
        capabilities=set(caps),
        parts=list(parts) if isinstance(parts, list) else [],
        place=config.at,
        camera=bool(config.options.get("camera", False)),
        **options,
    )
