"""Bearer-token auth and scopes for every /v1 route (settings.api.auth, on by default).

Every route declares the scope it needs with one of `ReadScope`, `OperatorScope`,
`AdminScope` (a dependency; the app adds `ReadScope` to every /v1 router, routes that
change state add theirs). No token or an unknown one is a 401; a known token whose
scope is too small a 403 naming the scope needed (see principals.py for the scopes).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ...errors import ServiceUnavailableError
from .handlers import Forbidden, Unauthorized
from .principals import ROOT, Principal, Scope

__all__ = [
    "AdminScope",
    "OperatorScope",
    "ReadScope",
    "RequireScope",
    "authenticate",
    "require_admin",
    "require_operator",
    "require_read",
    "require_token",
]

ANONYMOUS = Principal("anonymous", Scope.admin)
"""The caller of every request while auth is off."""

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token: the configured one (settings.api.token; `robo-os up`"
    " writes it to <state_dir>/api-token; scope admin) or one made with"
    " `robo-os token create` (its scope: read, operator or admin).",
)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The request's principal (kept in `request.state.principal`), or 401."""
    settings = request.app.state.settings
    if not settings.api.auth:
        request.state.principal = ANONYMOUS
        return ANONYMOUS
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
    presented = credentials.credentials
    expected = settings.api.token.get_secret_value() if settings.api.token else None
    # Constant-time comparison: the time taken must not tell how much of a guess was right.
    if expected is not None and hmac.compare_digest(presented.encode(), expected.encode()):
        principal = Principal(ROOT, Scope.admin)
    else:
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is None:
            raise ServiceUnavailableError("the brain is starting or stopping")
        # looked up by digest: the stored value never meets the presented one
        found = await runtime.tokens.lookup(presented)
        if found is None:
            raise Unauthorized("invalid bearer token")
        await runtime.tokens.touch(found.name)
        principal = found
    request.state.principal = principal
    return principal


class RequireScope:
    """A route dependency: the caller's principal when its scope allows `scope`."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.scope.allows(self.scope):
            raise Forbidden(
                f"this needs the {self.scope.value} scope;"
                f" token {principal.name!r} has {principal.scope.value}"
            )
        return principal

    def __repr__(self) -> str:
        return f"RequireScope({self.scope.value})"


require_read = RequireScope(Scope.read)
require_operator = RequireScope(Scope.operator)
require_admin = RequireScope(Scope.admin)
require_token = require_read
"""Kept for callers of the one-token API: any valid token."""

ReadScope = Annotated[Principal, Depends(require_read)]
OperatorScope = Annotated[Principal, Depends(require_operator)]
AdminScope = Annotated[Principal, Depends(require_admin)]
