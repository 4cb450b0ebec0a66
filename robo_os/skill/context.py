"""What a running skill gets from its agent, injected by type."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..contracts import ErrorCode, SkillCall

if TYPE_CHECKING:
    from robo_os_memory import Memory

    from .robot import Robot

__all__ = ["CancelToken", "SkillAborted", "SkillContext"]


class SkillAborted(Exception):
    """Raised inside a skill to stop it with a structured error (cancelled, timeout, ...).
    The agent turns it into a failed SkillResult with this code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CancelToken:
    """Cooperative cancellation: set by the agent, checked or awaited by the skill."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise SkillAborted(ErrorCode.cancelled, self.reason or "cancelled")


ProgressFn = Callable[[float, str], Awaitable[None] | None]


@dataclass
class SkillContext:
    """Injected into any skill parameter annotated `SkillContext`; never part of the
    argument schema the model sees."""

    robot: Robot
    memory: Memory
    call: SkillCall
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    deadline: float
    """time.monotonic() value after which the skill has timed out."""
    cancel: CancelToken = field(default_factory=CancelToken)
    progress_fn: ProgressFn | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def robot_id(self) -> str:
        return self.call.robot

    def remaining(self) -> float:
        """Seconds left before the deadline (may be negative)."""
        return self.deadline - time.monotonic()

    def check(self) -> None:
        """Raise SkillAborted if cancelled or past the deadline; call it between steps."""
        self.cancel.raise_if_cancelled()
        if self.remaining() <= 0:
            raise SkillAborted(ErrorCode.timeout, f"{self.call.skill} passed its deadline")

    async def report_progress(self, fraction: float, message: str = "") -> None:
        """Report progress in [0, 1]; the brain turns it into a task event."""
        if self.progress_fn is None:
            return
        out = self.progress_fn(min(max(fraction, 0.0), 1.0), message)
        if out is not None:
            await out
