"""A third-party MCP server for the tests: a "gripper" robot written with the plain `mcp`
SDK (no robo-os inside), the way RoboOS 2.0 / ros-mcp-server robots offer their skills.

Run: python gripper_server.py            (stdio)
"""

from __future__ import annotations

import os

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("gripper")

_JOINTS = 6
_state: dict[str, object] = {"open": False, "joints": [0.0] * _JOINTS}
_counts = {"started": 0, "cancelled": 0}
_changed = anyio.Event()


def _bump(key: str) -> None:
    global _changed
    _counts[key] += 1
    _changed.set()
    _changed = anyio.Event()


async def _until(key: str, at_least: int) -> int:
    with anyio.fail_after(60):
        while _counts[key] < at_least:
            await _changed.wait()
    return _counts[key]


@app.tool()
def open_gripper() -> dict[str, bool]:
    """Open the gripper fully."""
    _state["open"] = True
    return {"open": True}


@app.tool()
def move_joint(joint: int, angle: float) -> str:
    """Move one joint to an absolute angle.

    joint: index of the joint, 0 to 5.
    angle: target angle in radians.
    """
    if not 0 <= joint < _JOINTS:
        raise ToolError(f"no joint {joint}: the arm has joints 0 to {_JOINTS - 1}")
    joints = _state["joints"]
    assert isinstance(joints, list)
    joints[joint] = angle
    return f"joint {joint} at {angle:.2f} rad"


@app.tool()
def grasp(object: str) -> types.CallToolResult:
    """Close the gripper on an object in front of it."""
    if object != "cube":
        return types.CallToolResult(
            content=[types.TextContent(text=f"no {object} between the fingers")],
            structured_content={"error": "not_found", "object": object},
            is_error=True,
        )
    _state["open"] = False
    return types.CallToolResult(
        content=[types.TextContent(text="holding cube")], structured_content={"holding": "cube"}
    )


@app.tool()
async def hold_position() -> str:
    """Hold the current position until cancelled (never returns by itself)."""
    _bump("started")
    try:
        await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class():
        _bump("cancelled")
        raise
    return "unreachable"


@app.tool()
async def wait_count(key: str, at_least: int) -> int:
    """Test hook: wait until `started` or `cancelled` reaches at_least; return it."""
    return await _until(key, at_least)


@app.tool()
def pid() -> int:
    """Test hook: this server's process id."""
    return os.getpid()


@app.tool()
def crash() -> str:
    """Test hook: the process dies mid-call."""
    os._exit(3)


if __name__ == "__main__":
    app.run("stdio")
