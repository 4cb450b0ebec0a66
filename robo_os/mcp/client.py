"""MCP tools offered as robo-os skills.

`McpSkillSource` owns one connection to one MCP server (a stdio subprocess or a
streamable-HTTP URL). `skills()` lists the server's tools and returns an `McpSkill` per
tool: a SkillSpec (the tool's input schema as the argument schema) and a runtime that
calls the tool and turns its result into a SkillResult. A lost server never raises out
of a skill: the call comes back failed (`robot_offline`) with the reason, and the next
call starts or reaches the server again.

    async with McpSkillSource(config) as source:
        for s in await source.skills():
            result = await s.run({"joint": 2, "angle": 0.5}, ctx)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from ..contracts import ErrorCode, SkillResult
from ..errors import ServiceUnavailableError
from ..skill.refs import ENTITY_KEY
from ..skill.spec import SkillSpec
from .config import McpServerConfig
from .results import SKILL_META_KEY, skill_result_from_tool
from .transport import describe, http_transport, watched

if TYPE_CHECKING:
    from ..skill.context import SkillContext

__all__ = ["McpSkill", "McpSkillSource"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class McpSkill:
    """One MCP tool as a robo-os skill: a spec for the brain and a runtime for the agent."""

    spec: SkillSpec
    tool: str
    """The tool's name on the server (the skill's name may carry a prefix)."""
    source: McpSkillSource
    robo_os: bool = False
    """The server is robo-os: results are SkillResults, passed through unchanged."""

    @property
    def name(self) -> str:
        return self.spec.name

    async def run(self, args: Mapping[str, Any], ctx: SkillContext | None = None) -> SkillResult:
        """Call the tool. The deadline is the context's (else the spec's timeout); the
        context's cancel token cancels the call on the server too. Never raises for a
        tool, transport or server failure: those come back as failed results."""
        timeout_s = ctx.remaining() if ctx is not None else self.spec.timeout_s
        started = time.time()
        result = await self.source.call_tool(
            self.tool, dict(args), timeout_s=timeout_s, ctx=ctx, robo_os=self.robo_os
        )
        if result.started_at is None:
            result = result.model_copy(update={"started_at": started, "finished_at": time.time()})
        return result


class McpSkillSource:
    """One connection to one MCP server, whose tools it offers as skills.

    The lifecycle is explicit: `connect()`/`close()` or `async with`. The MCP client
    lives in a task of its own (its transport's task groups must be entered and left in
    one task), so calls may come from any task of the same event loop.
    """

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self._client: Client | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lost: str | None = None
        """Why the connection is gone (None while it is up or never opened)."""
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def connected(self) -> bool:
        return self._client is not None and self._lost is None

    async def __aenter__(self) -> McpSkillSource:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- lifecycle -------------------------------------------------------------------
    def _transport(self) -> AbstractAsyncContextManager[Any]:
        cfg = self.config
        if cfg.command is not None:
            params = StdioServerParameters(
                command=cfg.command[0], args=cfg.command[1:], env=cfg.env or None, cwd=cfg.cwd
            )
            # errlog: the server's stderr goes where ours goes (its logs stay visible)
            return stdio_client(params)
        assert cfg.url is not None
        return http_transport(cfg.url, cfg.headers)

    async def connect(self) -> None:
        """Start (stdio) or reach (HTTP) the server and do the MCP handshake. Raises
        ServiceUnavailableError, naming the server, if that fails or takes longer than
        `connect_timeout_s`. Connecting an open source is a no-op."""
        async with self._lock:
            await self._connect_locked()

    async def _connect_locked(self) -> None:
        if self._closed:
            raise ServiceUnavailableError(f"MCP server {self.name!r}: the source is closed")
        if self.connected:
            return
        await self._stop_runner()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Client] = loop.create_future()
        stop = asyncio.Event()
        self._stop = stop
        self._runner = asyncio.create_task(self._serve(ready, stop), name=f"mcp-client:{self.name}")
        try:
            client = await asyncio.wait_for(asyncio.shield(ready), self.config.connect_timeout_s)
        except TimeoutError as e:
            await self._stop_runner()
            if ready.done() and not ready.cancelled():
                ready.exception()  # retrieved: the timeout is the error we report
            raise ServiceUnavailableError(
                f"MCP server {self.name!r} ({self._where()}) did not answer the handshake "
                f"within {self.config.connect_timeout_s:.0f}s"
            ) from e
        except Exception as e:
            await self._stop_runner()
            raise ServiceUnavailableError(
                f"cannot connect to MCP server {self.name!r} ({self._where()}): {describe(e)}"
            ) from e
        self._client = client
        self._lost = None
        log.info(
            "MCP server %s connected (%s, protocol %s)",
            self.name,
            self._where(),
            client.protocol_version,
        )

    async def _serve(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        def on_eof() -> None:
            # the server went away (process exited, HTTP stream ended): drop this
            # connection now, so the next call reconnects before it sends anything
            if not stop.is_set():
                self._mark_lost("the server closed the connection")
                stop.set()

        try:
            async with Client(watched(self._transport(), on_eof)) as client:
                ready.set_result(client)
                await stop.wait()
        except BaseException as e:
            if not ready.done():
                ready.set_exception(e if isinstance(e, Exception) else ConnectionError(repr(e)))
            elif not isinstance(e, asyncio.CancelledError):
                self._mark_lost(f"connection failed: {describe(e)}")
            if isinstance(e, asyncio.CancelledError):
                raise
        finally:
            if not ready.done():
                ready.cancel()

    async def _stop_runner(self) -> None:
        runner, stop = self._runner, self._stop
        self._runner = self._stop = None
        self._client = None
        if runner is None or stop is None:
            return
        stop.set()
        # A clean exit closes the transport (stdio: close stdin, wait, then kill the
        # server's process group, all bounded inside the SDK); cancel only a stuck one.
        done, _ = await asyncio.wait({runner}, timeout=self.config.connect_timeout_s)
        if not done:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        elif not runner.cancelled() and runner.exception() is not None:
            log.debug("MCP client %s ended with %r", self.name, runner.exception())

    async def close(self) -> None:
        """Close the connection (stdio: the server process is stopped). Idempotent."""
        async with self._lock:
            self._closed = True
            await self._stop_runner()
            log.info("MCP server %s closed", self.name)

    def _mark_lost(self, reason: str) -> None:
        if self._lost is None:  # the first reason is the cause; later ones are its echoes
            log.warning("MCP server %s lost: %s", self.name, reason)
            self._lost = reason

    def _where(self) -> str:
        cfg = self.config
        return " ".join(cfg.command) if cfg.command is not None else str(cfg.url)

    async def _live_client(self) -> Client:
        """The client, (re)connecting first when allowed. Raises ServiceUnavailableError."""
        async with self._lock:
            if self.connected:
                assert self._client is not None
                return self._client
            if (
                self._client is None
                and self._runner is None
                and not self._closed
                and self._lost is None
            ):
                raise ServiceUnavailableError(
                    f"MCP server {self.name!r} is not connected (call connect() first)"
                )
            if not self.config.reconnect or self._closed:
                raise ServiceUnavailableError(
                    f"MCP server {self.name!r} is gone: {self._lost or 'closed'}"
                )
            log.info("MCP server %s: reconnecting after: %s", self.name, self._lost)
            await self._connect_locked()
            assert self._client is not None
            return self._client

    # -- tools -----------------------------------------------------------------------
    async def list_tools(self) -> list[types.Tool]:
        """Every tool the server offers (all pages). Raises ServiceUnavailableError."""
        client = await self._live_client()
        tools: list[types.Tool] = []
        cursor: str | None = None
        try:
            while True:
                # refresh: a server's cache hints must not hide tools it added since
                page = await asyncio.wait_for(
                    client.list_tools(cursor=cursor, cache_mode="refresh"),
                    self.config.connect_timeout_s,
                )
                tools.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    return tools
        except (MCPError, TimeoutError, OSError) as e:
            if isinstance(e, MCPError) and e.code == CONNECTION_CLOSED:
                self._mark_lost(e.message)
            raise ServiceUnavailableError(
                f"MCP server {self.name!r}: listing tools failed: {describe(e)}"
            ) from e

    async def skills(self) -> list[McpSkill]:
        """The server's tools (filtered by include/exclude) as skills, sorted by name.
        Raises ServiceUnavailableError when the server cannot be listed."""
        out = [self._skill(t) for t in await self.list_tools() if self.config.offers(t.name)]
        missing = sorted(set(self.config.include or ()) - {s.tool for s in out})
        if missing:
            log.warning("MCP server %s offers no tools named %s", self.name, missing)
        return sorted(out, key=lambda s: s.name)

    def _skill(self, tool: types.Tool) -> McpSkill:
        cfg = self.config
        over = cfg.tools.get(tool.name)
        served = (tool.meta or {}).get(SKILL_META_KEY)
        served = served if isinstance(served, dict) else None
        base: dict[str, Any] = {"capabilities": cfg.capabilities, "timeout_s": cfg.timeout_s}
        if served is not None:
            # a robo-os server tells the whole spec; the fleet file may still override it
            base |= {
                k: v
                for k, v in served.items()
                if k in ("capabilities", "timeout_s", "preconditions", "effects", "concurrent")
            }
        schema = dict(tool.input_schema)
        fields: dict[str, Any] = {}
        if over is not None:
            fields = over.model_dump(
                exclude_none=True, exclude_defaults=True, exclude={"skill", "entities"}
            )
            schema = _with_entities(schema, over.entities)
        spec_data = base | fields
        spec = SkillSpec(
            name=(over.skill if over is not None and over.skill else f"{cfg.prefix}{tool.name}"),
            description=(
                over.description
                if over is not None and over.description
                else inspect.cleandoc(tool.description or "")
            ),
            capabilities=tuple(sorted(set(spec_data["capabilities"]))),
            args_schema=schema,
            timeout_s=float(spec_data["timeout_s"]),
            preconditions=tuple(spec_data.get("preconditions", ())),
            effects=tuple(spec_data.get("effects", ())),
            concurrent=bool(spec_data.get("concurrent", False)),
            source=f"mcp:{self.name}",
        )
        return McpSkill(spec=spec, tool=tool.name, source=self, robo_os=served is not None)

    async def call_tool(
        self,
        tool: str,
        args: dict[str, Any],
        *,
        timeout_s: float,
        ctx: SkillContext | None = None,
        robo_os: bool = False,
    ) -> SkillResult:
        """Call one tool and read its result as a SkillResult. Never raises for
        failures (tool error, timeout, lost server); cancelling the caller cancels the
        call on the server too."""
        if timeout_s <= 0:
            return SkillResult.failure(
                ErrorCode.timeout, f"{tool}: no time left before the deadline"
            )
        try:
            client = await self._live_client()
        except ServiceUnavailableError as e:
            return SkillResult.failure(ErrorCode.robot_offline, str(e))
        call = asyncio.ensure_future(client.call_tool(tool, args, read_timeout_seconds=timeout_s))
        waiters: set[asyncio.Future[Any]] = {call}
        cancel_wait: asyncio.Future[None] | None = None
        if ctx is not None:
            cancel_wait = asyncio.ensure_future(ctx.cancel.wait())
            waiters.add(cancel_wait)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if cancel_wait is not None:
                cancel_wait.cancel()
            if not call.done():
                # the SDK sends notifications/cancelled, so the server stops the tool
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await call
        if call.cancelled():
            reason = ctx.cancel.reason if ctx is not None else "cancelled"
            return SkillResult.failure(ErrorCode.cancelled, reason or "cancelled")
        exc = call.exception()
        if exc is None:
            return skill_result_from_tool(
                call.result(), tool=tool, server=self.name, robo_os=robo_os
            )
        return self._failure(tool, exc, timeout_s)

    def _failure(self, tool: str, exc: BaseException, timeout_s: float) -> SkillResult:
        if isinstance(exc, MCPError) and exc.code == REQUEST_TIMEOUT:
            return SkillResult.failure(
                ErrorCode.timeout,
                f"MCP tool {tool} on {self.name}: no result within {timeout_s:.1f}s",
            )
        if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
            self._mark_lost(f"connection closed during {tool}")
            return SkillResult.failure(
                ErrorCode.robot_offline,
                f"MCP server {self.name!r} closed the connection during {tool}",
            )
        if isinstance(exc, MCPError):
            # a protocol-level error (unknown tool, bad params, server bug)
            return SkillResult.failure(
                ErrorCode.internal, f"MCP tool {tool} on {self.name}: {exc.message}"
            )
        if isinstance(exc, OSError | ConnectionError):
            self._mark_lost(describe(exc))
            return SkillResult.failure(
                ErrorCode.robot_offline, f"MCP server {self.name!r}: {describe(exc)}"
            )
        log.exception("MCP tool %s on %s failed unexpectedly", tool, self.name, exc_info=exc)
        return SkillResult.failure(
            ErrorCode.internal, f"MCP tool {tool} on {self.name}: {describe(exc)}"
        )


def _with_entities(schema: dict[str, Any], entities: Mapping[str, list[str]]) -> dict[str, Any]:
    if not entities:
        return schema
    props = dict(schema.get("properties") or {})
    for arg, kinds in entities.items():
        props[arg] = {**props.get(arg, {"type": "string"}), ENTITY_KEY: list(kinds)}
    return {**schema, "properties": props}
