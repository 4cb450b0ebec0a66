"""Error correction as data: what to do about a failed subtask, decided by pure functions
from the facts of the failure and a read-only view of its task.

The runner (executor.py) gathers the facts, calls `decide`, and applies the action it
gets back (`Corrector` does the writes); nothing here touches Redis, Ray, the planner or
the clock, so every rule is a row in tests/brain/runtime/test_policy.py.

    task being cancelled                                -> Stop
    robot unavailable before the subtask started        -> Reassign (no attempt counts)
    infrastructure failure (Redis/Ray gone), tries left -> Retry on the same robot
      (max_attempts + infrastructure_retries: the skill did not fail, a service did)
    transient error (timeout, collision, held_by_other) -> Retry on the same robot
    any other error but not_found / invalid_args        -> Reassign to an equivalent robot
    otherwise, max_attempts used up, or no equivalent   -> Replan the rest of the task
    ... with max_replans used up                        -> Fail the task
    the same call (skill, args) failed with the same error
      max_identical_failures times, on any robots        -> Fail the task, naming it

A replan does not plan again a call that failed in the task (same robot, skill and
arguments) for a reason that will not change (`WILL_NOT_CHANGE`), nor one that failed
`AVOID_AFTER` times for another reason (the world may have changed after the first: a
dropped object is picked up again); `remember` keeps them, `avoided` says which to
avoid, `repeated_failure` finds the one that repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...contracts import TRANSIENT_ERRORS, ErrorCode
from ..planning.interface import FailedCall, call_key

__all__ = [
    "NOT_REASSIGNABLE",
    "Action",
    "Fail",
    "Failure",
    "Reassign",
    "Replan",
    "Retry",
    "Stop",
    "TaskView",
    "avoided",
    "decide",
    "remember",
    "repeated_failure",
    "settle",
    "unmet_goal",
]

WILL_NOT_CHANGE = frozenset({ErrorCode.unreachable, ErrorCode.invalid_args, ErrorCode.rejected})
"""A call that failed for one of these fails again from any state: never planned again."""
AVOID_AFTER = 2
"""Failures of the same call, for any other reason, after which a replan avoids it."""

NOT_REMEMBERED = frozenset({ErrorCode.cancelled, ErrorCode.robot_offline, ErrorCode.held_by_other})
"""Failures that say nothing about the call itself (a cancel, a dead robot, another
robot's lease): a replan may plan the same call again."""

NOT_REASSIGNABLE = frozenset({ErrorCode.not_found, ErrorCode.invalid_args})
"""The plan itself is wrong about the world or the call: another robot will not help."""


@dataclass(frozen=True)
class Failure:
    """The facts of one subtask's failure."""

    subtask: str
    robot: str
    """The robot it failed on (or, at placement, the robot the plan names)."""
    error: ErrorCode
    attempts: int
    """Attempts the subtask has used so far, as stored (this one included when it started)."""
    placement: bool = False
    """True when nothing ran: the robot was unavailable (offline, stopped, or already
    failed this subtask) as the subtask became ready. No attempt is used up by it."""
    excluded: frozenset[str] = frozenset()
    """Robots already ruled out for this subtask."""
    equivalent_free: bool | None = None
    """Whether an equivalent robot can take the subtask: None until looked for (the
    runner looks only when told to Reassign), False once none could."""
    infrastructure: bool = False
    """The skill lost a service it needs (Redis, Ray) rather than failing in the world
    (`SkillResult.data["infrastructure"]`): another robot or plan would not help."""


@dataclass(frozen=True)
class TaskView:
    """What the policy may know about the failed subtask's task."""

    replans: int
    """Replans the task has used."""
    max_replans: int
    max_attempts: int
    retry_backoff_s: float
    cancelled: bool = False
    """A cancel was requested: nothing more is tried for any subtask."""
    infrastructure_retries: int = 3
    """Attempts beyond `max_attempts` a subtask may use on infrastructure failures."""
    repeated: str | None = None
    """The failure that repeated `max_identical_failures` times (`repeated_failure`):
    nothing more is tried for it."""


@dataclass(frozen=True)
class Retry:
    """Run the subtask again on the same robot, after `delay_s`."""

    delay_s: float


@dataclass(frozen=True)
class Reassign:
    """Move the subtask (with its chain) to an equivalent robot not in `exclude`; when
    there is none, ask again with `equivalent_free=False`."""

    exclude: frozenset[str]


@dataclass(frozen=True)
class Replan:
    """The subtask fails; once the task's running subtasks end, its rest is replanned."""


@dataclass(frozen=True)
class Fail:
    """The subtask fails and the task fails with it once its running subtasks end."""

    reason: str


@dataclass(frozen=True)
class Stop:
    """The task is being cancelled: record the attempt as cancelled, try nothing more."""


Action = Retry | Reassign | Replan | Fail | Stop


def decide(failure: Failure, task: TaskView) -> Action:
    """The action for one failed subtask (see the module docstring for the rules)."""
    if task.cancelled:
        return Stop()
    if task.repeated is not None and not failure.placement:
        return settle(task)
    if failure.placement:
        if failure.equivalent_free is not False:
            return Reassign(failure.excluded)
        return settle(task)
    if failure.infrastructure:
        if failure.attempts < task.max_attempts + task.infrastructure_retries:
            return Retry(task.retry_backoff_s * max(1, failure.attempts))
        return settle(task)
    tries_left = failure.attempts < task.max_attempts
    if failure.error in TRANSIENT_ERRORS and tries_left:
        return Retry(task.retry_backoff_s * max(1, failure.attempts))
    if (
        failure.error not in NOT_REASSIGNABLE
        and tries_left
        and failure.equivalent_free is not False
    ):
        return Reassign(failure.excluded | {failure.robot})
    return settle(task)


def settle(task: TaskView) -> Replan | Fail:
    """What a task does about subtasks that failed for good: replan while it has
    replans left and no failure repeats, else fail."""
    if task.repeated is not None:
        return Fail(task.repeated)
    if task.replans < task.max_replans:
        return Replan()
    return Fail(f"no replans left: max_replans={task.max_replans}")


def unmet_goal(task: TaskView, checks: int) -> Replan | Fail:
    """What a task does when every subtask succeeded but its goal does not hold in
    memory (`checks`: how often that was found before): replan toward the goal once,
    while a replan is left; a second time (the plan did not do what its skills said),
    fail naming the facts."""
    if checks > 0:
        return Fail("still not met after a replan toward the goal")
    step = settle(task)
    return Replan() if isinstance(step, Replan) else step


def remember(
    calls: Sequence[FailedCall],
    robot: str,
    skill: str,
    args: dict[str, Any],
    error: ErrorCode,
    message: str,
    *,
    full: str | None = None,
) -> list[FailedCall]:
    """`calls` with one more failure of this call (its count raised when the same robot,
    call and error failed before); unchanged for failures in `NOT_REMEMBERED`. `full`:
    the place it found no room on (a replan then puts nothing on it, by any robot)."""
    if error in NOT_REMEMBERED:
        return list(calls)
    out, seen = [], False
    for c in calls:
        if not seen and c.error == error.value and c.matches(robot, skill, args):
            c, seen = replace(c, count=c.count + 1, message=message), True
        out.append(c)
    if not seen:
        out.append(FailedCall(robot, skill, dict(args), error.value, message, full=full))
    return out


def avoided(calls: Sequence[FailedCall]) -> list[FailedCall]:
    """The failed calls a replan must not plan again."""
    lasting = {e.value for e in WILL_NOT_CHANGE}
    return [c for c in calls if c.error in lasting or c.count >= AVOID_AFTER]


def repeated_failure(calls: Sequence[FailedCall], limit: int) -> str | None:
    """The first call (skill, arguments, error) that failed `limit` times or more,
    counted over every robot, in words; None when none did."""
    by_call: dict[tuple[str, str], list[FailedCall]] = {}
    for c in calls:
        by_call.setdefault((call_key(c.skill, c.args), c.error), []).append(c)
    for (key, error), same in by_call.items():
        times = sum(c.count for c in same)
        if times >= limit:
            robots = ", ".join(sorted({c.robot for c in same}))
            return (
                f"{key} failed {times} times with {error} (on {robots}; limit"
                f" max_identical_failures={limit}): {same[-1].message}"
            )
    return None
