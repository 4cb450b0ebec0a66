"""The runtime side of a skill: validate arguments, inject the context, run it under its
deadline and cancel token, and always come back with a SkillResult.

    skill = Skill.from_function(pick)               # or as_skill(pick)
    result = await skill.run({"object": "apple"}, ctx)

A `Skill` wraps either a decorated function or any *runner* (an object with a `spec`
and `async run(args, ctx) -> SkillResult`, such as an MCP tool); both get the same
guarantees from `run`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from ..contracts import ErrorCode, SkillResult
from ..errors import SkillDefinitionError, UserError
from .context import SkillAborted, SkillContext
from .decorator import get_skill_meta
from .schema import SkillSignature, spec_and_signature
from .spec import SkillSpec

__all__ = [
    "DEFAULT_GRACE_S",
    "INFRASTRUCTURE",
    "Skill",
    "SkillArgsError",
    "SkillRunner",
    "as_skill",
    "is_infrastructure_error",
]

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 2.0
"""How long a cancelled or timed-out skill gets to stop before `run` returns anyway."""


class SkillArgsError(UserError):
    """Arguments that do not fit a skill's schema; `fields` names each offending one."""

    def __init__(self, skill: str, problems: list[tuple[str, str]]) -> None:
        text = "; ".join(f"{f}: {m}" if f else m for f, m in problems)
        super().__init__(f"invalid arguments for {skill}: {text}")
        self.skill = skill
        self.problems = problems

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.problems if f]


@runtime_checkable
class SkillRunner(Protocol):
    """Anything that runs as a skill without being a Python function (e.g. an MCP tool)."""

    @property
    def spec(self) -> SkillSpec: ...

    async def run(self, args: Mapping[str, Any], ctx: SkillContext) -> SkillResult: ...


class Skill:
    """A skill ready to run: its spec, how to validate its arguments and how to call it.
    Build it with `from_function`, `from_runner` or `as_skill`."""

    def __init__(
        self,
        spec: SkillSpec,
        call: Callable[[dict[str, Any], SkillContext], Awaitable[Any]],
        validate: Callable[[Mapping[str, Any]], dict[str, Any]],
        *,
        fn: Any = None,
        signature: SkillSignature | None = None,
    ) -> None:
        self.spec = spec
        self._call = call
        self._validate = validate
        self.fn = fn
        """The decorated function or the runner this skill wraps."""
        self.signature = signature
        """For function skills: how parameters map to arguments and context."""

    def __repr__(self) -> str:
        return f"Skill({self.spec.name!r}, source={self.spec.source!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, source: str = "") -> Skill:
        """A `@skill` function (sync or async). SkillDefinitionError if it is not one."""
        spec, sig = spec_and_signature(fn, source=source)
        model = sig.args_model

        def validate(args: Mapping[str, Any]) -> dict[str, Any]:
            try:
                obj = model.model_validate(dict(args))
            except ValidationError as e:
                raise SkillArgsError(spec.name, _pydantic_problems(e)) from e
            return {pname: getattr(obj, f"p_{i}") for i, pname in enumerate(sig.args)}

        if sig.is_async:

            async def call(kwargs: dict[str, Any], ctx: SkillContext) -> Any:
                return await fn(**kwargs, **sig.inject(ctx))

        else:

            async def call(kwargs: dict[str, Any], ctx: SkillContext) -> Any:
                # sync skills run in a worker thread: the agent's loop (heartbeats, cancel
                # requests) keeps running; they stop cooperatively through ctx.check()
                return await asyncio.to_thread(fn, **kwargs, **sig.inject(ctx))

        return cls(spec, call, validate, fn=fn, signature=sig)

    @classmethod
    def from_runner(cls, runner: SkillRunner, *, source: str | None = None) -> Skill:
        """Any object with a `spec` and `async run(args, ctx)`; arguments are validated
        against the spec's JSON schema before the runner sees them."""
        spec = runner.spec
        if not isinstance(spec, SkillSpec):
            raise SkillDefinitionError(
                f"{runner!r}: `spec` is a {type(spec).__name__}, not a SkillSpec"
            )
        if source is not None and not spec.source:
            spec = spec.model_copy(update={"source": source})
        try:
            Draft202012Validator.check_schema(spec.args_schema)
        except SchemaError as e:
            raise SkillDefinitionError(
                f"skill {spec.name!r}: args_schema is not a JSON schema: {e.message}"
            ) from e
        validator = Draft202012Validator(spec.args_schema)

        def validate(args: Mapping[str, Any]) -> dict[str, Any]:
            errors = sorted(validator.iter_errors(dict(args)), key=lambda e: list(e.absolute_path))
            if errors:
                raise SkillArgsError(
                    spec.name,
                    [(".".join(str(p) for p in e.absolute_path), e.message) for e in errors],
                )
            return dict(args)

        async def call(kwargs: dict[str, Any], ctx: SkillContext) -> Any:
            return await runner.run(kwargs, ctx)

        return cls(spec, call, validate, fn=runner)

    # -- running -----------------------------------------------------------------------
    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validated (and coerced) arguments; SkillArgsError names each bad field."""
        return self._validate(args)

    async def run(
        self, args: Mapping[str, Any], ctx: SkillContext, *, grace_s: float = DEFAULT_GRACE_S
    ) -> SkillResult:
        """Run once and return its result; never raises for a skill's failure.

        Invalid arguments -> `invalid_args`; past `ctx.deadline` -> `timeout`; the
        context's cancel token set -> `cancelled`; `SkillAborted` -> its code; any other
        exception -> `internal` with its text. A skill that does not stop within
        `grace_s` of a cancel or timeout is cancelled (async) or abandoned to finish in
        its thread (sync), and the result comes back anyway.
        """
        started = time.time()
        try:
            kwargs = self._validate(args)
        except SkillArgsError as e:
            return _stamp(
                SkillResult.failure(ErrorCode.invalid_args, str(e), data={"fields": e.fields}),
                started,
            )
        job = asyncio.ensure_future(self._call(kwargs, ctx))
        cancelled = asyncio.ensure_future(ctx.cancel.wait())
        try:
            done, _ = await asyncio.wait(
                {job, cancelled},
                timeout=max(0.0, ctx.remaining()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if job in done:
                result = self._outcome(job, ctx)
                if ctx.cancel.cancelled and not result.ok:
                    # it stopped because it was cancelled, whatever the motion reported
                    result = result.model_copy(update={"error": ErrorCode.cancelled})
                return _stamp(result, started)
            if cancelled in done:
                code, why = ErrorCode.cancelled, ctx.cancel.reason or "cancelled"
            else:
                code, why = ErrorCode.timeout, f"{self.name} did not finish within its deadline"
                ctx.cancel.cancel(why)
            return _stamp(await self._stop(job, ctx, code, why, grace_s), started)
        except asyncio.CancelledError:
            # the caller (the agent) is going away: stop the skill with it
            job.cancel()
            raise
        finally:
            cancelled.cancel()

    async def _stop(
        self, job: asyncio.Future[Any], ctx: SkillContext, code: ErrorCode, why: str, grace_s: float
    ) -> SkillResult:
        # first let the skill stop itself (motions honour the token and leave the robot
        # still, leases get released), then cancel it hard
        done, _ = await asyncio.wait({job}, timeout=grace_s / 2)
        if not done:
            job.cancel()
            done, _ = await asyncio.wait({job}, timeout=grace_s / 2)
        if not done:
            log.warning(
                "skill %s (%s) did not stop within %.1fs of %s",
                self.name,
                ctx.call.call_id,
                grace_s,
                code,
            )
            job.add_done_callback(_consume)
            return SkillResult.failure(
                code, f"{why} (the skill did not stop within {grace_s:.1f}s)"
            )
        exc = None if job.cancelled() else job.exception()
        if not job.cancelled() and (exc is None or isinstance(exc, SkillAborted)):
            got = self._outcome(job, ctx)
            # a failure after the stop request is the stop's doing, whatever the motion
            # reported (a cut-off drive may say "unreachable"); a success stands
            return got if got.ok else got.model_copy(update={"error": code})
        return SkillResult.failure(code, why)

    def _outcome(self, job: asyncio.Future[Any], ctx: SkillContext) -> SkillResult:
        if job.cancelled():
            return SkillResult.failure(
                ErrorCode.cancelled, ctx.cancel.reason or f"{self.name} was cancelled"
            )
        exc = job.exception()
        if exc is None:
            return _normalise(self.name, job.result())
        if isinstance(exc, SkillAborted):
            return SkillResult.failure(exc.code, exc.message)
        if isinstance(exc, asyncio.CancelledError):
            return SkillResult.failure(ErrorCode.cancelled, ctx.cancel.reason or "cancelled")
        ctx.logger.warning(
            "skill %s raised %s: %s", self.name, type(exc).__name__, exc, exc_info=exc
        )
        if is_infrastructure_error(exc):
            return SkillResult.failure(
                ErrorCode.internal,
                f"{self.name} lost a service it needs: {type(exc).__name__}: {exc}",
                data={INFRASTRUCTURE: True},
            )
        return SkillResult.failure(
            ErrorCode.internal, f"{self.name} raised {type(exc).__name__}: {exc}"
        )


def _consume(job: asyncio.Future[Any]) -> None:
    # an abandoned skill's late exception is already reported as the call's result
    if not job.cancelled():
        job.exception()


def _pydantic_problems(e: ValidationError) -> list[tuple[str, str]]:
    return [
        (".".join(str(p) for p in err["loc"]), err["msg"]) for err in e.errors(include_url=False)
    ]


def _normalise(name: str, value: Any) -> SkillResult:
    if isinstance(value, SkillResult):
        return value
    if value is None:
        return SkillResult.success()
    if isinstance(value, dict):
        try:
            return SkillResult.success(data=value)
        except ValidationError as e:
            return SkillResult.failure(
                ErrorCode.internal, f"{name} returned data that is not JSON: {e}"
            )
    return SkillResult.failure(
        ErrorCode.internal,
        f"{name} returned a {type(value).__name__}; a skill returns a SkillResult, a dict or None",
    )


def _stamp(result: SkillResult, started: float) -> SkillResult:
    update: dict[str, float] = {}
    if result.started_at is None:
        update["started_at"] = started
    if result.finished_at is None:
        update["finished_at"] = time.time()
    return result.model_copy(update=update) if update else result


def as_skill(obj: object, *, source: str = "") -> Skill:
    """A Skill from a `@skill` function, a runner, or a Skill (returned as is)."""
    if isinstance(obj, Skill):
        return obj
    if get_skill_meta(obj) is not None and callable(obj):
        return Skill.from_function(obj, source=source)
    if isinstance(obj, SkillRunner):
        return Skill.from_runner(obj, source=source or None)
    raise SkillDefinitionError(
        f"{obj!r} is not a skill: expected a @skill function, a Skill,"
        " or an object with `spec` and `run(args, ctx)`"
    )


INFRASTRUCTURE = "infrastructure"
"""`SkillResult.data` key set on a failure caused by the infrastructure (Redis, Ray, the
world service) rather than by the skill or the world: agents do not keep such a result
as the call's answer, so a re-dispatch of the same call id runs it again."""

_INFRASTRUCTURE_NAMES = frozenset(
    {
        # Ray's, matched by name: the skill SDK does not import Ray
        "RayActorError",
        "ActorDiedError",
        "ActorUnavailableError",
        "OwnerDiedError",
        "ObjectLostError",
        "RaySystemError",
        "NodeDiedError",
        # the memory's and robo-os's own "a service is gone"
        "StoreUnavailableError",
        "ServiceUnavailableError",
    }
)


def is_infrastructure_error(exc: BaseException) -> bool:
    """Whether `exc` says a service the skill needs is gone (a Ray actor or node, Redis,
    a connection), not that the skill or the world failed."""
    if isinstance(exc, ConnectionError):
        return True
    return any(cls.__name__ in _INFRASTRUCTURE_NAMES for cls in type(exc).__mro__)

