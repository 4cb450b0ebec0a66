"""Benchmark of robo-os's MCP layer against the raw `mcp` SDK, measured in the same run.

    .venv/bin/python benchmarks/mcp_bench.py             # about 40 s
    .venv/bin/python benchmarks/mcp_bench.py --calls 50  # quicker

One trivial skill (`wave`), run on a robot's agent (a SkillRegistry + Skill.run, as the
cerebellum does). Prints p50/p99 latency of one call:
1. in-process `Skill.run` (no MCP at all);
2. the raw SDK: `mcp.Client.call_tool` to a robo-os MCP server over stdio (a subprocess);
3. robo-os's client: the MCP skill run through a SkillRegistry (`Skill.run` -> McpSkill ->
   the same kind of server over stdio): its p50 / the raw SDK's p50 is the figure;
4./5. the same two over streamable HTTP (the server in this process, uvicorn);
and the cold start of a stdio server (spawn + handshake + tools/list).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from robo_os.contracts import SkillCall, SkillResult
from robo_os.mcp import McpServerConfig, McpSkillSource, RobotMcpServer
from robo_os.skill import SkillContext, SkillRegistry, skill
from robo_os.testing import RegistryAgent, skill_context

ROBOT = "bench"


@skill(capabilities={"manipulate"}, timeout_s=10.0)
async def wave(ctx: SkillContext, times: int) -> SkillResult:
    """Wave a number of times."""
    return SkillResult.success(data={"times": times})


def _context(call: SkillCall, timeout_s: float) -> SkillContext:
    return skill_context(call=call, timeout_s=timeout_s, logger=logging.getLogger("bench"))


def make_agent() -> RegistryAgent:
    """The agent side: run a call through the registry."""
    return RegistryAgent(SkillRegistry([wave]))


async def _timed(n: int, fn: Callable[[int], Awaitable[object]]) -> list[float]:
    for i in range(min(10, n)):  # warm-up
        await fn(i)
    out = []
    for i in range(n):
        t = time.perf_counter()
        await fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _row(label: str, ms: list[float], base: float | None = None) -> None:
    p50 = statistics.median(ms)
    p99 = sorted(ms)[max(0, int(len(ms) * 0.99) - 1)]
    ratio = f"  {p50 / base:5.2f}x raw SDK" if base else ""
    print(f"{label:<46} p50 {p50:8.3f} ms  p99 {p99:8.3f} ms{ratio}")


async def main(calls: int) -> None:
    agent = make_agent()
    s = agent.skills.get("wave")

    async def direct(i: int) -> object:
        call = SkillCall(call_id=f"d{i}", robot=ROBOT, skill="wave", args={"times": 2})
        return await s.run(call.args, _context(call, 10.0))

    _row("1. in-process Skill.run (no MCP)", await _timed(calls, direct))

    serve = [sys.executable, __file__, "--serve"]
    params = StdioServerParameters(command=serve[0], args=serve[1:])
    async with Client(stdio_client(params)) as raw:
        await raw.list_tools()

        async def sdk(i: int) -> object:
            out = await raw.call_tool("wave", {"times": 2})
            assert not out.is_error
            return out

        raw_ms = await _timed(calls, sdk)
    base = statistics.median(raw_ms)
    _row("2. raw mcp.Client.call_tool, stdio", raw_ms)

    t = time.perf_counter()
    registry = SkillRegistry()
    async with McpSkillSource(McpServerConfig(name="far", command=serve)) as source:
        for mcp_skill in await source.skills():
            registry.register(mcp_skill)
        cold = time.perf_counter() - t
        far = registry.get("wave")

        async def ours(i: int) -> object:
            call = SkillCall(call_id=f"s{i}", robot=ROBOT, skill="wave", args={"times": 2})
            result = await far.run(call.args, _context(call, 10.0))
            assert result.ok, result
            return result

        _row("3. robo-os MCP skill via SkillRegistry, stdio", await _timed(calls, ours), base)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    serving = asyncio.create_task(
        RobotMcpServer(ROBOT, make_agent(), agent.skills).serve_http(port=port, sock=sock)
    )
    try:
        async with Client(f"http://127.0.0.1:{port}/mcp") as raw_http:
            await raw_http.list_tools()

            async def sdk_http(i: int) -> object:
                return await raw_http.call_tool("wave", {"times": 2})

            raw_http_ms = await _timed(calls, sdk_http)
        _row("4. raw mcp.Client.call_tool, HTTP", raw_http_ms)
        registry = SkillRegistry()
        config = McpServerConfig(name="far", url=f"http://127.0.0.1:{port}/mcp")
        async with McpSkillSource(config) as source:
            for mcp_skill in await source.skills():
                registry.register(mcp_skill)
            far = registry.get("wave")

            async def http(i: int) -> object:
                call = SkillCall(call_id=f"h{i}", robot=ROBOT, skill="wave", args={"times": 2})
                return await far.run(call.args, _context(call, 10.0))

            _row(
                "5. robo-os MCP skill via SkillRegistry, HTTP",
                await _timed(calls, http),
                statistics.median(raw_http_ms),
            )
    finally:
        serving.cancel()
        try:
            await serving
        except asyncio.CancelledError:
            pass
        sock.close()
    print(f"stdio server cold start (spawn + handshake + tools/list): {cold:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--serve", action="store_true", help="internal: be the stdio server")
    args = parser.parse_args()
    if args.serve:
        agent = make_agent()
        asyncio.run(RobotMcpServer(ROBOT, agent, agent.skills).serve_stdio())
    else:
        asyncio.run(main(args.calls))
