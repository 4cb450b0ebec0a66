"""Bearer-token auth for every /v1 route (settings.api.auth, on by default)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .handlers import Unauthorized

__all__ = ["require_token"]

_bearer = HTTPBearer(
    auto_error=False,
    description="The API token (settings.api.token;"
    " `robo-os up` writes it to <state_dir>/api-token).",
)


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reject the request unless it carries `Authorization: Bearer <token>`."""
    settings = request.app.state.settings
    if not settings.api.auth:
        return
    expected = settings.api.token.get_secret_value() if settings.api.token else None
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
    # Constant-time comparison: the time taken must not tell how much of a guess was right.
    if expected is None or not hmac.compare_digest(
        credentials.credentials.encode(), expected.encode()
    ):
        raise Unauthorized("invalid bearer token")
