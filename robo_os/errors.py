"""One error tree for robo-os, grouped by who must act.

- ModelError: the language model answered something unusable; retry, repair or replan.
- UserError: the request is wrong; the caller must change it (REST: 4xx).
- DeveloperError: a skill or plug-in is defined wrongly; its author must fix it.
- OperatorError: configuration or an unreachable service; whoever runs robo-os must act.
- ExecutionError: the world or a robot did not cooperate at run time (the brain
  retries, reassigns or replans).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contracts import PlanProblem

__all__ = [
    "ConfigError",
    "ConflictError",
    "DeadlineExceeded",
    "DeveloperError",
    "ExecutionError",
    "InvalidGoalError",
    "InvalidPlanError",
    "ModelError",
    "ModelOutputError",
    "ModelRequestError",
    "ModelUnavailableError",
    "NotFoundError",
    "OperatorError",
    "OverloadedError",
    "PluginLoadError",
    "RoboOSError",
    "RobotUnavailableError",
    "ServiceUnavailableError",
    "SkillDefinitionError",
    "UnknownNameError",
    "UserError",
]


class RoboOSError(Exception):
    """Base of every error robo-os raises on purpose."""


# -- the model must act -------------------------------------------------------------
class ModelError(RoboOSError):
    """The model's answer cannot be used as it is."""


class ModelOutputError(ModelError):
    """The answer could not be parsed or checked; `problems` says what is wrong."""

    def __init__(self, message: str, problems: Sequence[PlanProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# -- the user must act --------------------------------------------------------------
class UserError(RoboOSError):
    """The request is wrong. REST maps this family to 4xx."""


class NotFoundError(UserError):
    """A task, robot, object or skill the request names does not exist (404)."""


class UnknownNameError(UserError):
    """A name that is not registered; the message carries "did you mean ...?"."""

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        import difflib

        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")
        self.kind = kind
        self.name = name
        self.suggestions = close


class ConflictError(UserError):
    """The request contradicts the resource's state, e.g. cancelling a task that already
    succeeded (409)."""


class OverloadedError(UserError):
    """The brain is at a configured limit (`limit`, its `value`); the caller should come
    back after `retry_after_s` (429 with Retry-After)."""

    def __init__(self, message: str, *, limit: str, value: int, retry_after_s: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.retry_after_s = retry_after_s


class InvalidPlanError(UserError):
    """A plan (explicit or planned) failed the checks; `problems` names each defect (422)."""

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        head = "; ".join(p.message for p in list(problems)[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"invalid plan: {head}{more}")
        self.problems = list(problems)


class InvalidGoalError(UserError):
    """A goal an app submitted is malformed, names what does not exist or contradicts
    itself; `problems` names each defect (422)."""

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        head = "; ".join(p.message for p in list(problems)[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"invalid goal: {head}{more}")
        self.problems = list(problems)


# -- the developer must act ---------------------------------------------------------
class DeveloperError(RoboOSError):
    """A skill, robot driver or plug-in is defined wrongly."""


class SkillDefinitionError(DeveloperError):
    """A skill's signature, metadata or symbolic conditions are invalid."""


class PluginLoadError(DeveloperError):
    """An entry-point plug-in failed to import or registered something invalid."""


# -- the operator must act ----------------------------------------------------------
class OperatorError(RoboOSError):
    """Configuration is wrong or a service is unreachable."""


class ConfigError(OperatorError):
    """Settings or the fleet/scene file are invalid."""


class ServiceUnavailableError(OperatorError):
    """Redis, Ray or another required service cannot be reached."""


class ModelUnavailableError(OperatorError):
    """No model endpoint answered (all replicas down, timed out, or refusing)."""


class ModelRequestError(ModelUnavailableError):
    """The model server answered, but rejected the request's format (a 4xx, or a 5xx
    naming validation errors): the server is up, the request must change."""


# -- execution ------------------------------------------------------------------------
class ExecutionError(RoboOSError):
    """The world or a robot did not cooperate at run time."""


class RobotUnavailableError(ExecutionError):
    """The robot's agent is gone (process died, node lost, heartbeat expired)."""


class DeadlineExceeded(ExecutionError):
    """An operation did not finish before its deadline."""
