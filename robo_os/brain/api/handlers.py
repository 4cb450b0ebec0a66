"""Every error the API can answer, as `{"error": {"code", "message", "problems"?}}`.

The robo-os error tree maps by who must act: the caller (UserError: 400/404/422), the
operator (OperatorError: 503); anything unexpected is a 500 with the same body shape and
a log line with the traceback. Nothing an endpoint raises takes the app down.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from robo_os_memory import errors as mem_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...errors import (
    ConflictError,
    DeveloperError,
    ExecutionError,
    InvalidGoalError,
    InvalidPlanError,
    ModelError,
    NotFoundError,
    OperatorError,
    OverloadedError,
    RoboOSError,
    UnknownNameError,
    UserError,
)
from .schemas import ErrorBody

__all__ = [
    "CatchAllMiddleware",
    "Forbidden",
    "Unauthorized",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger(__name__)


class Unauthorized(UserError):
    """Missing or wrong bearer token (401)."""


class Forbidden(UserError):
    """A valid token whose scope does not allow the request (403, naming the scope)."""


def error_response(
    status: int,
    code: str,
    message: str,
    problems: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if problems is not None:
        body["problems"] = problems
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _robo_os_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, Unauthorized):
        return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, Forbidden):
        return error_response(403, "forbidden", str(exc))
    if isinstance(exc, InvalidPlanError):
        return error_response(
            422, "invalid_plan", str(exc), [p.model_dump(mode="json") for p in exc.problems]
        )
    if isinstance(exc, InvalidGoalError):
        return error_response(
            422, "invalid_goal", str(exc), [p.model_dump(mode="json") for p in exc.problems]
        )
    if isinstance(exc, ConflictError):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, OverloadedError):  # back-pressure: the limit named, when to retry
        return JSONResponse(
            {
                "error": {
                    "code": "overloaded",
                    "message": str(exc),
                    "limit": {"name": exc.limit, "value": exc.value},
                    "retry_after_s": exc.retry_after_s,
                }
            },
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if isinstance(exc, UnknownNameError):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, NotFoundError):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, UserError):
        return error_response(400, "bad_request", str(exc))
    if isinstance(exc, OperatorError):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "service_unavailable", str(exc))
    if isinstance(exc, ModelError):
        return error_response(502, "model_error", str(exc))
    if isinstance(exc, ExecutionError | DeveloperError):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(500, type(exc).__name__, str(exc))
    return _unexpected(request, exc)


def _memory_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, mem_errors.NotFoundError):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, mem_errors.StoreUnavailableError | mem_errors.SchemaMismatchError):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "service_unavailable", str(exc))
    return _unexpected(request, exc)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems: list[dict[str, Any]] = []
    messages: list[str] = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            msg = _json_error(err, exc.body)
            messages.append(msg)
            problems.append({"code": "json_invalid", "message": msg, "field": None})
            continue
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        where = ".".join(loc)
        msg = str(err.get("msg", "invalid"))
        messages.append(f"{where}: {msg}" if where else msg)
        problems.append(
            {
                "code": str(err.get("type", "invalid")),
                "message": f"{where}: {msg}" if where else msg,
                "field": where or None,
            }
        )
    summary = "; ".join(messages[:5])
    return error_response(422, "invalid_request", f"invalid request: {summary}", problems)


def _json_error(err: Any, body: Any) -> str:
    """'malformed JSON at line 3, column 7: Expecting value' (FastAPI gives a character
    offset where the field name would be)."""
    reason = str((err.get("ctx") or {}).get("error", "not valid JSON"))
    loc = err.get("loc", ())
    offset = loc[-1] if loc and isinstance(loc[-1], int) else None
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    if offset is None or not isinstance(text, str):
        return f"malformed JSON: {reason}"
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"malformed JSON at line {line}, column {column}: {reason}"


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    return error_response(
        exc.status_code, code, str(exc.detail), headers=dict(exc.headers) if exc.headers else None
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", f"internal error: {type(exc).__name__}: {exc}")


API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or unknown bearer token."},
    403: {"model": ErrorBody, "description": "The token's scope does not allow this route."},
    500: {"model": ErrorBody, "description": "A bug in the brain (logged with a traceback)."},
    503: {
        "model": ErrorBody,
        "description": "A service the brain needs (Redis, Ray, an agent) cannot be reached;"
        " retry later.",
    },
}
"""Statuses any authenticated /v1 route may answer (app.py adds them to every router)."""

BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON, or a value is out of range."},
    413: {"model": ErrorBody, "description": "The body is over `api.max_body_bytes`."},
}
"""Statuses of routes that take a request body."""


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RoboOSError, _robo_os_error)
    app.add_exception_handler(mem_errors.MemoryStoreError, _memory_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)


class CatchAllMiddleware:
    """Turns an unexpected exception into a logged 500 with the usual error body.

    Starlette's own last-resort handler re-raises after answering (so that servers log
    it); this one answers and stops there. An exception after the response started (a
    broken event stream) can only end that response: it is logged and the stream closed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            path = scope.get("path", "?")
            log.error("%s %s failed", scope.get("method", "?"), path, exc_info=exc)
            if started:
                return
            response = error_response(
                500, "internal", f"internal error: {type(exc).__name__}: {exc}"
            )
            await response(scope, receive, send)
