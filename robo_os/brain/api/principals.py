"""Who may call the API: scopes, principals and the named tokens kept (hashed) in Redis.

Three scopes, each including the one below it:

    read      every GET (tasks, fleet, memory, metrics, e-stop state)
    operator  + submit, cancel, approve and reject subtasks, engage the e-stop,
                restart a robot's agent
    admin     + tokens, the audit stream, releasing the e-stop

The configured token (`settings.api.token`, or the one `robo-os up` writes to
`<state_dir>/api-token`) is the principal `root` with the admin scope. Further tokens are
made by an admin (`robo-os token create`, `POST /v1/tokens`) and stored under the brain's
key prefix (`robo_os.keys.AccessKeys`) as their SHA-256 digest only: a token is 256 random
bits, so a fast digest cannot be reversed, and a lookup by digest answers in one round trip.
Revoking deletes the digest: the next request with that token is a 401, in every brain
that shares the Redis.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from ...errors import ConflictError, NotFoundError, ServiceUnavailableError
from ...keys import AccessKeys

__all__ = [
    "LAST_USED_EVERY_S",
    "ROOT",
    "TOKEN_NAME_PATTERN",
    "CreatedToken",
    "Principal",
    "Scope",
    "TokenInfo",
    "TokenStore",
    "digest",
]

ROOT = "root"
"""The principal of the configured token (admin); no created token may take the name."""
TOKEN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
LAST_USED_EVERY_S = 10.0
"""A token's `last_used_at` is written at most this often (not on every request)."""


class Scope(StrEnum):
    read = "read"
    operator = "operator"
    admin = "admin"

    def allows(self, needed: Scope) -> bool:
        """Whether a token of this scope may do what `needed` guards."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Scope.read: 0, Scope.operator: 1, Scope.admin: 2}


@dataclass(frozen=True)
class Principal:
    """The caller of one request: the token's name and scope."""

    name: str
    scope: Scope


class TokenInfo(BaseModel):
    """A named token as `GET /v1/tokens` lists it (never the secret)."""

    name: str
    scope: Scope
    created_at: float
    created_by: str | None = None
    last_used_at: float | None = None


class CreatedToken(TokenInfo):
    token: str = Field(description="The secret. Shown once: only its digest is stored.")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# KEYS: tokens, names; ARGV: name, digest, record json
_CREATE = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""
# KEYS: tokens, names, used; ARGV: name
_REVOKE = """
local d = redis.call('HGET', KEYS[2], ARGV[1])
if not d then return 0 end
redis.call('HDEL', KEYS[1], d)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""


class TokenStore:
    """The named tokens of one brain's key prefix. `redis` must decode responses."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._r: Any = redis
        self.keys = AccessKeys(prefix)
        self._create = redis.register_script(_CREATE)
        self._revoke = redis.register_script(_REVOKE)
        self._touched: dict[str, float] = {}

    async def create(self, name: str, scope: Scope, *, by: str | None = None) -> CreatedToken:
        """A new token named `name` (ConflictError when the name is taken)."""
        if name == ROOT:
            raise ConflictError(f"the name {ROOT!r} is the configured token's; choose another")
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(name=name, scope=scope, created_at=round(time.time(), 3), created_by=by)
        record = info.model_dump_json(include={"name", "scope", "created_at", "created_by"})
        keys = [self.keys.tokens, self.keys.token_names]
        try:
            made = await self._create(keys=keys, args=[name, digest(secret), record])
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot store the token: {e}") from e
        if int(made) != 1:
            raise ConflictError(f"a token named {name!r} exists; revoke it first")
        return CreatedToken(**info.model_dump(), token=secret)

    async def lookup(self, token: str) -> Principal | None:
        """The principal of a presented token, or None when no stored token matches."""
        try:
            raw = await self._r.hget(self.keys.tokens, digest(token))
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot check the token: {e}") from e
        if raw is None:
            return None
        data = json.loads(raw)
        return Principal(name=str(data["name"]), scope=Scope(data["scope"]))

    async def touch(self, name: str) -> None:
        """Record that `name` was used now (at most every LAST_USED_EVERY_S; best effort)."""
        now = time.time()
        if now - self._touched.get(name, 0.0) < LAST_USED_EVERY_S:
            return
        self._touched[name] = now
        try:
            # only while the token exists: a revoke racing this must not leave a field
            if await self._r.hexists(self.keys.token_names, name):
                await self._r.hset(self.keys.tokens_used, name, repr(round(now, 3)))
        except (RedisError, OSError):
            pass

    async def list(self) -> list[TokenInfo]:
        """Every named token, by name."""
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hvals(self.keys.tokens)
                pipe.hgetall(self.keys.tokens_used)
                records, used = await pipe.execute()
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot read the tokens: {e}") from e
        out = []
        for raw in records:
            info = TokenInfo.model_validate_json(raw)
            last = used.get(info.name)
            out.append(info.model_copy(update={"last_used_at": float(last) if last else None}))
        return sorted(out, key=lambda t: t.name)

    async def revoke(self, name: str) -> None:
        """Delete the token named `name` (NotFoundError when there is none)."""
        keys = [self.keys.tokens, self.keys.token_names, self.keys.tokens_used]
        try:
            gone = await self._revoke(keys=keys, args=[name])
        except (RedisError, OSError) as e:
            raise ServiceUnavailableError(f"cannot revoke the token: {e}") from e
        self._touched.pop(name, None)
        if int(gone) != 1:
            raise NotFoundError(f"no token named {name!r}")
