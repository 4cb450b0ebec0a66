"""Skills the agent tests run: each is steered by a key the test picks, through gates
the test opens (no sleeps: the skill waits on an event, the test waits on another)."""

from __future__ import annotations

import asyncio
from collections import Counter

from robo_os.contracts import ErrorCode, SkillResult
from robo_os.skill import SkillContext, skill

RUNS: Counter[str] = Counter()
_GATES: dict[str, asyncio.Event] = {}
_STARTED: dict[str, asyncio.Event] = {}


def gate(key: str) -> asyncio.Event:
    """Set it to let the `hold` call with this key finish."""
    return _GATES.setdefault(key, asyncio.Event())


def started(key: str) -> asyncio.Event:
    """Set once the `hold`/`progress` call with this key is running."""
    return _STARTED.setdefault(key, asyncio.Event())


async def _hold(ctx: SkillContext, key: str) -> SkillResult:
    RUNS[key] += 1
    started(key).set()
    stop = asyncio.ensure_future(ctx.cancel.wait())
    go = asyncio.ensure_future(gate(key).wait())
    try:
        await asyncio.wait({stop, go}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        go.cancel()
    if ctx.cancel.cancelled:
        return SkillResult.failure(ErrorCode.cancelled, f"stopped holding {key}")
    return SkillResult.success(f"held {key}", data={"key": key})


@skill(capabilities={"manipulate"}, timeout_s=60)
async def hold(ctx: SkillContext, key: str) -> SkillResult:
    """Hold still until the test opens the gate (or the call is cancelled).

    Args:
        key: Names the gate.
    """
    return await _hold(ctx, key)


@skill(capabilities={"manipulate"}, timeout_s=60)
async def progress(ctx: SkillContext, key: str) -> SkillResult:
    """Report half-way progress, then hold.

    Args:
        key: Names the gate.
    """
    await ctx.report_progress(0.5, "half way")
    return await _hold(ctx, key)


@skill(capabilities={"camera"}, concurrent=True, timeout_s=10)
async def glance(ctx: SkillContext) -> SkillResult:
    """A concurrent skill: look while something else runs."""
    RUNS["glance"] += 1
    return SkillResult.success("glanced")


@skill(capabilities={"manipulate"}, timeout_s=10)
async def noop() -> None:
    """Do nothing (the dispatch benchmark's skill)."""


@skill(capabilities={"navigate"}, timeout_s=10)
async def drive(place: str) -> None:
    """Drive somewhere (the test robot has no base).

    Args:
        place: Where to.
    """


AGENT_SKILLS = [hold, progress, glance, noop, drive]
