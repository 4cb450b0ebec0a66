"""The correction policy as a table: facts of a failure and a task view -> the action."""

from __future__ import annotations

from dataclasses import replace

import pytest

from robo_os.brain.planning.interface import FailedCall
from robo_os.brain.runtime.policy import (
    NOT_REASSIGNABLE,
    Action,
    Fail,
    Failure,
    Reassign,
    Replan,
    Retry,
    Stop,
    TaskView,
    avoided,
    decide,
    remember,
    repeated_failure,
    settle,
)
from robo_os.contracts import TRANSIENT_ERRORS, ErrorCode

TASK = TaskView(replans=0, max_replans=2, max_attempts=3, retry_backoff_s=0.2)
NO_REPLANS = replace(TASK, replans=2)
CANCELLED = replace(TASK, cancelled=True)


def failed(
    error: ErrorCode,
    attempts: int = 1,
    *,
    excluded: frozenset[str] = frozenset(),
    equivalent_free: bool | None = None,
    placement: bool = False,
    infrastructure: bool = False,
) -> Failure:
    return Failure(
        "s1",
        "r1",
        error,
        attempts,
        placement=placement,
        excluded=excluded,
        equivalent_free=equivalent_free,
        infrastructure=infrastructure,
    )


CASES: list[tuple[str, Failure, TaskView, Action]] = [
    # transient errors retry on the same robot, the backoff growing with the attempts
    ("timeout, first attempt", failed(ErrorCode.timeout), TASK, Retry(0.2)),
    ("collision, second attempt", failed(ErrorCode.collision, 2), TASK, Retry(0.4)),
    ("held_by_other, no attempt counted yet", failed(ErrorCode.held_by_other, 0), TASK, Retry(0.2)),
    ("retry with no backoff", failed(ErrorCode.timeout), replace(TASK, retry_backoff_s=0), Retry(0)),
    # a retry ignores whether another robot is free: it stays where it is
    ("retry, no equivalent", failed(ErrorCode.timeout, equivalent_free=False), TASK, Retry(0.2)),
    # the retry limit: max_attempts used up -> replan
    ("timeout, retry limit reached", failed(ErrorCode.timeout, 3), TASK, Replan()),
    ("timeout, past the limit", failed(ErrorCode.timeout, 4), TASK, Replan()),
    ("timeout, limit reached, no replans", failed(ErrorCode.timeout, 3), NO_REPLANS,
     Fail("no replans left: max_replans=2")),
    # other errors reassign, excluding the robot that failed (and those that failed before)
    ("unreachable", failed(ErrorCode.unreachable), TASK, Reassign(frozenset({"r1"}))),
    ("robot offline", failed(ErrorCode.robot_offline), TASK, Reassign(frozenset({"r1"}))),
    ("internal, robots excluded before", failed(ErrorCode.internal, 2, excluded=frozenset({"r0"})),
     TASK, Reassign(frozenset({"r0", "r1"}))),
    ("cancelled by someone else", failed(ErrorCode.cancelled), TASK, Reassign(frozenset({"r1"}))),
    ("reassign, looked for: robot free", failed(ErrorCode.precondition_failed, equivalent_free=True),
     TASK, Reassign(frozenset({"r1"}))),
    # no equivalent robot -> replan, or fail without replans
    ("robot offline, no equivalent", failed(ErrorCode.robot_offline, equivalent_free=False), TASK,
     Replan()),
    ("no equivalent, no replans", failed(ErrorCode.unreachable, equivalent_free=False), NO_REPLANS,
     Fail("no replans left: max_replans=2")),
    ("robot offline, retry limit reached", failed(ErrorCode.robot_offline, 3), TASK, Replan()),
    # the plan is wrong: replan at once
    ("not_found", failed(ErrorCode.not_found), TASK, Replan()),
    ("invalid_args", failed(ErrorCode.invalid_args), TASK, Replan()),
    ("not_found, no replans", failed(ErrorCode.not_found), NO_REPLANS,
     Fail("no replans left: max_replans=2")),
    ("replans set to zero", failed(ErrorCode.not_found), replace(TASK, max_replans=0),
     Fail("no replans left: max_replans=0")),
    ("one replan left", failed(ErrorCode.not_found), replace(TASK, replans=1), Replan()),
    # at placement (nothing ran, no attempt counts): reassign whatever the attempts
    ("placement: robot unavailable", failed(ErrorCode.robot_offline, 0, placement=True), TASK,
     Reassign(frozenset())),
    ("placement: attempts used up", failed(ErrorCode.robot_offline, 3, placement=True), TASK,
     Reassign(frozenset())),
    ("placement: keeps the exclusions", failed(ErrorCode.robot_offline, 1, placement=True,
     excluded=frozenset({"r1"})), TASK, Reassign(frozenset({"r1"}))),
    ("placement: no equivalent", failed(ErrorCode.robot_offline, placement=True,
     equivalent_free=False), TASK, Replan()),
    ("placement: no equivalent, no replans", failed(ErrorCode.robot_offline, placement=True,
     equivalent_free=False), NO_REPLANS, Fail("no replans left: max_replans=2")),
    # cancelled mid-failure: nothing more is tried, whatever the error
    ("cancelled, transient", failed(ErrorCode.timeout), CANCELLED, Stop()),
    ("cancelled, reassignable", failed(ErrorCode.robot_offline), CANCELLED, Stop()),
    ("cancelled, wrong plan, no replans", failed(ErrorCode.not_found),
     replace(NO_REPLANS, cancelled=True), Stop()),
    ("cancelled at placement", failed(ErrorCode.robot_offline, placement=True), CANCELLED, Stop()),
    # a service the skill needs was gone (Redis restarting, a Ray actor lost): the same
    # robot tries again, with max_attempts + infrastructure_retries tries, never another
    # robot or a new plan
    ("infrastructure, first attempt", failed(ErrorCode.internal, infrastructure=True), TASK,
     Retry(0.2)),
    ("infrastructure, past max_attempts", failed(ErrorCode.internal, 4, infrastructure=True), TASK,
     Retry(0.8)),
    ("infrastructure, no equivalent free", failed(ErrorCode.internal, infrastructure=True,
     equivalent_free=False), TASK, Retry(0.2)),
    ("infrastructure, whatever the code", failed(ErrorCode.not_found, infrastructure=True), TASK,
     Retry(0.2)),
    ("infrastructure, extra tries used up", failed(ErrorCode.internal, 6, infrastructure=True),
     TASK, Replan()),
    ("infrastructure, no extra tries", failed(ErrorCode.internal, 3, infrastructure=True),
     replace(TASK, infrastructure_retries=0), Replan()),
    ("infrastructure, used up, no replans", failed(ErrorCode.internal, 6, infrastructure=True),
     NO_REPLANS, Fail("no replans left: max_replans=2")),
    ("infrastructure, cancelled", failed(ErrorCode.internal, infrastructure=True), CANCELLED,
     Stop()),
]  # fmt: skip


@pytest.mark.parametrize(("failure", "task", "action"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_decide(failure: Failure, task: TaskView, action: Action) -> None:
    assert decide(failure, task) == action


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_has_a_rule_and_the_last_attempt_never_stays(code: ErrorCode) -> None:
    first = decide(failed(code), TASK)
    if code in TRANSIENT_ERRORS:
        assert first == Retry(0.2)
    elif code in NOT_REASSIGNABLE:
        assert first == Replan()
    else:
        assert first == Reassign(frozenset({"r1"}))
    # the last attempt used: the subtask leaves the robot's hands for a replan
    assert decide(failed(code, TASK.max_attempts), TASK) == Replan()


def test_a_failed_reassignment_asked_again_settles() -> None:
    # How the runner applies Reassign: it looks for a robot, and asks again when none.
    failure = failed(ErrorCode.unreachable)
    assert isinstance(decide(failure, TASK), Reassign)
    assert decide(replace(failure, equivalent_free=False), TASK) == settle(TASK) == Replan()
    assert settle(NO_REPLANS) == Fail("no replans left: max_replans=2")


def test_actions_are_frozen_values() -> None:
    with pytest.raises(AttributeError):
        Retry(0.2).delay_s = 1.0  # type: ignore[misc]
    assert Reassign(frozenset({"a"})) == Reassign(frozenset({"a"}))
    assert hash(Failure("s", "r", ErrorCode.timeout, 1)) == hash(
        Failure("s", "r", ErrorCode.timeout, 1)
    )


# -- recovery that learns: remembered calls, which a replan avoids, one that repeats ------
PICK = {"object": "cup"}


def test_remember_counts_the_same_call_and_error_and_skips_what_says_nothing() -> None:
    calls = remember([], "r1", "pick", PICK, ErrorCode.not_found, "no cup")
    calls = remember(calls, "r1", "pick", PICK, ErrorCode.not_found, "still no cup")
    calls = remember(calls, "r1", "pick", PICK, ErrorCode.unreachable, "too far")
    calls = remember(calls, "r2", "pick", PICK, ErrorCode.not_found, "no cup")
    assert calls == [
        FailedCall("r1", "pick", PICK, "not_found", "still no cup", count=2),
        FailedCall("r1", "pick", PICK, "unreachable", "too far"),
        FailedCall("r2", "pick", PICK, "not_found", "no cup"),
    ]
    for code in (ErrorCode.cancelled, ErrorCode.robot_offline, ErrorCode.held_by_other):
        assert remember(calls, "r3", "pick", PICK, code, "x") == calls


def test_a_place_found_full_is_remembered_with_the_call() -> None:
    place = {"object": "cup", "target": "shelf"}
    calls = remember([], "r1", "place", place, ErrorCode.unreachable, "no room", full="shelf")
    assert calls == [FailedCall("r1", "place", place, "unreachable", "no room", full="shelf")]
    assert avoided(calls) == calls and "shelf has no room" in calls[0].describe()


def test_avoided_at_once_for_lasting_reasons_else_after_repeats() -> None:
    once = FailedCall("r1", "pick", PICK, "not_found")
    twice = replace(once, robot="r2", count=2)
    lasting = FailedCall("r3", "pick", PICK, "unreachable")
    assert avoided([once, twice, lasting]) == [twice, lasting]


def test_repeated_failure_counts_over_robots_per_call_and_error() -> None:
    calls = [
        FailedCall("r1", "pick", PICK, "not_found", "a", count=2),
        FailedCall("r2", "pick", PICK, "unreachable", "b"),
        FailedCall("r3", "pick", {"object": "mug"}, "not_found", "c"),
    ]
    assert repeated_failure(calls, 3) is None
    calls.append(FailedCall("r4", "pick", PICK, "not_found", "d"))
    assert repeated_failure(calls, 3) == (
        'pick {"object":"cup"} failed 3 times with not_found (on r1, r4;'
        " limit max_identical_failures=3): d"
    )


@pytest.mark.parametrize(
    "failure",
    [failed(ErrorCode.timeout), failed(ErrorCode.unreachable), failed(ErrorCode.not_found)],
)
def test_a_repeated_failure_fails_the_task_whatever_else_is_left(failure: Failure) -> None:
    view = replace(TASK, repeated="pick failed 3 times")
    assert decide(failure, view) == Fail("pick failed 3 times")
    assert settle(view) == Fail("pick failed 3 times")
    # a cancel still wins; a robot unavailable at placement is still moved
    assert decide(failure, replace(view, cancelled=True)) == Stop()
    assert isinstance(decide(replace(failure, placement=True), view), Reassign)
