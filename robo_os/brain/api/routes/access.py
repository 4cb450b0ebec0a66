"""Who may do what, and what they did: /v1/tokens and /v1/audit (scope admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ..audit import AuditPage, audit_note
from ..auth import AdminScope, require_admin
from ..deps import BrainRuntime, get_runtime
from ..events import parse_cursor
from ..principals import TOKEN_NAME_PATTERN, CreatedToken, Scope, TokenInfo
from ..schemas import ErrorBody

__all__ = ["router"]

Runtime = Annotated[BrainRuntime, Depends(get_runtime)]
_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token."},
    403: {"model": ErrorBody, "description": "Only an admin token may."},
}
router = APIRouter(
    prefix="/v1", tags=["access"], responses=_errors, dependencies=[Depends(require_admin)]
)


class NewToken(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "line-app", "scope": "operator"}]}
    )

    name: str = Field(pattern=TOKEN_NAME_PATTERN, description="Unique; letters, digits, _.@-")
    scope: Scope


class TokenList(BaseModel):
    tokens: list[TokenInfo]


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedToken,
    responses={409: {"model": ErrorBody, "description": "The name is taken."}},
)
async def create_token(
    body: NewToken, rt: Runtime, who: AdminScope, request: Request
) -> CreatedToken:
    """Make a named token with a scope. The answer carries the secret, once: only its
    SHA-256 digest is stored."""
    audit_note(request, name=body.name, scope=body.scope.value)
    return await rt.tokens.create(body.name, body.scope, by=who.name)


@router.get("/tokens", response_model=TokenList)
async def list_tokens(rt: Runtime) -> TokenList:
    """The named tokens: name, scope, created, last used (never the secret)."""
    return TokenList(tokens=await rt.tokens.list())


@router.delete(
    "/tokens/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"model": ErrorBody, "description": "No token of that name."}},
)
async def revoke_token(
    rt: Runtime, name: Annotated[str, Path(pattern=TOKEN_NAME_PATTERN)]
) -> Response:
    """Revoke a named token: its next request is a 401, at once."""
    await rt.tokens.revoke(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/audit",
    response_model=AuditPage,
    responses={400: {"model": ErrorBody, "description": "The cursor is not an entry id."}},
)
async def read_audit(
    rt: Runtime,
    cursor: Annotated[
        str | None,
        Query(description="Entries after this one (the `cursor` of the previous page)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """The audit stream, oldest first: every state-changing request, who made it, what it
    was, when and what it answered. Page on with the returned `cursor`."""
    return await rt.audit.page(parse_cursor(cursor), limit)
