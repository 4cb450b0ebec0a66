"""`robo-os mcp ...`: serve a robot's skills over MCP; show what an MCP server would offer.

A CLI module: it configures logging (to stderr: on stdio, stdout is the MCP wire).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from ..settings import load_settings

__all__ = ["mcp_app"]

mcp_app = typer.Typer(help="Serve a robot's skills over MCP.", no_args_is_help=True)


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@mcp_app.command()
def serve(
    robot: Annotated[str, typer.Option("--robot", "-r", help="The robot whose skills to serve.")],
    transport: Annotated[
        Transport, typer.Option(help="stdio (for a local MCP host) or streamable HTTP.")
    ] = Transport.stdio,
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    path: Annotated[str, typer.Option(help="HTTP endpoint path.")] = "/mcp",
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Fleet/settings YAML file.")
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url", help="The running stack's Redis (default: ROBO_OS_REDIS__URL)."
        ),
    ] = None,
) -> None:
    """Serve one robot of a running stack over MCP.

    One tool per skill; a call runs the skill on the robot's agent and returns its
    SkillResult."""
    from .stack import open_stack_server

    settings = load_settings(config)
    _configure_logging(settings.log_level)

    async def main() -> None:
        async with open_stack_server(settings, robot, redis_url=redis_url) as server:
            if transport is Transport.stdio:
                await server.serve_stdio()
            else:
                await server.serve_http(host=host, port=port, path=path)

    asyncio.run(main())


@mcp_app.command()
def inspect(
    url: Annotated[str | None, typer.Option(help="A streamable-HTTP MCP server.")] = None,
    command: Annotated[str | None, typer.Option(help="A stdio MCP server's command line.")] = None,
    name: Annotated[str, typer.Option(help="Server name (skills' source is mcp:<name>).")] = "mcp",
) -> None:
    """Print, as JSON, the skill specs an MCP server's tools would become."""
    from .client import McpSkillSource
    from .config import McpServerConfig

    _configure_logging("WARNING")
    try:
        cfg = McpServerConfig.model_validate({"name": name, "url": url, "command": command})
    except ValidationError as e:
        raise typer.BadParameter("give exactly one of --url or --command") from e

    async def main() -> list[dict[str, object]]:
        async with McpSkillSource(cfg) as source:
            return [s.spec.model_dump(mode="json") for s in await source.skills()]

    typer.echo(json.dumps(asyncio.run(main()), indent=2))
