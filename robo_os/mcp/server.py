"""A robot's skills exposed as an MCP server.

One tool per skill: the skill's JSON schema is the tool's input schema, its description
the tool's description, and the rest of its spec (capabilities, conditions, timeout)
rides in the tool's `_meta` under `robo-os/skill`. Calling a tool runs one SkillCall
through the robot's agent (any `AgentHandle`) and returns the SkillResult as structured
content, with `isError` when the skill failed. A client that goes away mid-call cancels
the skill on the agent.

    server = RobotMcpServer("arm1", agent, registry)    # the robot's SkillRegistry
    await server.serve_stdio()                       # or: await server.serve_http(port=8765)
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import mcp_types as types
from jsonschema import Draft202012Validator
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from starlette.applications import Starlette

from ..agent_protocol import AgentHandle
from ..contracts import ErrorCode, SkillCall, SkillResult
from ..skill.registry import SkillRegistry
from ..skill.spec import SkillSpec
from .results import skill_meta, tool_result_from_skill

__all__ = ["RobotMcpServer", "SkillSpecs"]

log = logging.getLogger(__name__)

SkillSpecs = (
    SkillRegistry
    | Sequence[SkillSpec]
    | Callable[[], Sequence[SkillSpec] | Awaitable[Sequence[SkillSpec]]]
)
"""The skills to offer: a registry (its current skills), fixed specs, or a function (sync
or async) read afresh on every listing/call (e.g. `agent.specs`, or specs in memory)."""

_CANCEL_TIMEOUT_S = 5.0
_OUTPUT_SCHEMA = SkillResult.model_json_schema(mode="serialization")


class RobotMcpServer:
    """Serves one robot's skills over MCP (stdio or streamable HTTP).

    robot: the robot id put on every SkillCall. agent: runs the calls (the robot's
    CerebellumAgent in-process, or a dispatcher adapter). skills: what to offer (the
    agent's SkillRegistry, specs, or an async callable returning specs).
    """

    def __init__(
        self,
        robot: str,
        agent: AgentHandle,
        skills: SkillSpecs,
        *,
        name: str | None = None,
        instructions: str | None = None,
    ) -> None:
        self.robot = robot
        self.agent = agent
        self._skills = skills
        self._validators: dict[str, tuple[dict[str, Any], Draft202012Validator]] = {}
        self.server: Server[Any] = Server(
            name or f"robo-os:{robot}",
            instructions=instructions
            or (
                f"Skills of robot {robot!r} (robo-os). Each tool runs one skill on the robot "
                "and returns its SkillResult: status ok or failed, an error code, a message, "
                "data and the state changes it made."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        """The MCP server itself (`mcp.Client(server.server)` connects in-process)."""

    async def specs(self) -> dict[str, SkillSpec]:
        skills = self._skills
        if isinstance(skills, SkillRegistry):
            offered: Sequence[SkillSpec] = skills.specs()
        elif isinstance(skills, Sequence):
            offered = skills
        else:
            got = skills()
            offered = await got if inspect.isawaitable(got) else got
        return {s.name: s for s in offered}

    # -- MCP handlers --------------------------------------------------------------
    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        specs = await self.specs()
        return types.ListToolsResult(tools=[_tool(specs[n]) for n in sorted(specs)])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        specs = await self.specs()
        spec = specs.get(params.name)
        if spec is None:
            close = difflib.get_close_matches(params.name, list(specs), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise MCPError(
                INVALID_PARAMS, f"robot {self.robot!r} has no skill {params.name!r}{hint}"
            )
        args = dict(params.arguments or {})
        problems = self._invalid_args(spec, args)
        if problems:
            return tool_result_from_skill(
                SkillResult.failure(ErrorCode.invalid_args, f"{spec.name}: {problems}")
            )
        call = SkillCall(
            call_id=f"mcp-{self.robot}-{uuid.uuid4().hex[:12]}",
            robot=self.robot,
            skill=spec.name,
            args=args,
        )
        log.info("MCP call %s: %s on %s", call.call_id, spec.name, self.robot)
        try:
            result = await self.agent.run(call)
        except anyio.get_cancelled_exc_class():
            # the client cancelled or went away: stop the skill on the robot too
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_TIMEOUT_S):
                try:
                    await self.agent.cancel(call.call_id, "cancelled by the MCP client")
                except Exception:
                    log.exception("cancelling %s on %s failed", call.call_id, self.robot)
            raise
        except Exception as e:  # the agent broke its contract; the client still gets an answer
            log.exception("agent of %s raised on %s", self.robot, call.call_id)
            result = SkillResult.failure(
                ErrorCode.internal, f"agent of {self.robot} raised {type(e).__name__}: {e}"
            )
        log.info("MCP call %s: %s (%s)", call.call_id, result.status, result.error or "-")
        return tool_result_from_skill(result)

    def _invalid_args(self, spec: SkillSpec, args: dict[str, Any]) -> str:
        cached = self._validators.get(spec.name)
        if cached is None or cached[0] is not spec.args_schema:
            cached = (spec.args_schema, Draft202012Validator(spec.args_schema))
            self._validators[spec.name] = cached
        errors = sorted(cached[1].iter_errors(args), key=lambda e: list(e.path))
        return "; ".join(
            f"{'/'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors
        )

    # -- transports ------------------------------------------------------------------
    async def serve_stdio(self) -> None:
        """Serve one client over this process's stdin/stdout until it closes them."""
        log.info("serving the skills of %s over MCP stdio", self.robot)
        async with stdio_server() as (read_stream, write_stream):
            await self.server.run(
                read_stream, write_stream, self.server.create_initialization_options()
            )

    def http_app(self, *, path: str = "/mcp", host: str = "127.0.0.1") -> Starlette:
        """An ASGI app serving MCP over streamable HTTP at `path` (mount it or run it).
        `host` is the bind address: on localhost, DNS-rebinding protection is on."""
        return self.server.streamable_http_app(streamable_http_path=path, host=host)

    async def serve_http(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        path: str = "/mcp",
        sock: socket.socket | None = None,
    ) -> None:
        """Serve MCP over streamable HTTP at http://host:port/path until cancelled.
        sock: an already bound, listening socket to serve on instead (host/port unused
        for binding)."""
        import uvicorn

        # log_config=None: logging is configured by the CLI, never by the library
        config = uvicorn.Config(
            self.http_app(path=path, host=host),
            host=host,
            port=port,
            log_config=None,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        log.info(
            "serving the skills of %s over MCP streamable HTTP at http://%s:%s%s",
            self.robot,
            host,
            port,
            path,
        )
        serving = asyncio.ensure_future(server.serve(sockets=[sock] if sock is not None else None))
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            # shut down gracefully (close sessions, run the lifespan's exit) before leaving
            server.should_exit = True
            await serving
            raise


def _tool(spec: SkillSpec) -> types.Tool:
    schema: Mapping[str, Any] = spec.args_schema
    if schema.get("type") != "object":  # MCP requires an object at the root
        schema = {**schema, "type": "object"}
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=dict(schema),
        output_schema=_OUTPUT_SCHEMA,
        _meta=skill_meta(spec),
    )
