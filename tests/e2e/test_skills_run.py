"""`robo-os skills run SKILL --robot R --args ...` on the live stack: one skill on one
robot, its progress printed as it happens, exit 1 when it fails."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from robo_os.cli import skills_run
from robo_os.stack import Stack

pytestmark = pytest.mark.slow


async def test_skills_run_drives_a_robot_and_reports_a_failure(
    make_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    st, client = await make_stack()
    assert isinstance(st, Stack) and isinstance(client, httpx.AsyncClient)
    monkeypatch.setenv(
        "ROBO_OS_API__TOKEN", client.headers["Authorization"].removeprefix("Bearer ")
    )
    app = typer.Typer()
    app.command()(skills_run)
    url = str(client.base_url)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, [*args, "--url", url], catch_exceptions=False)

    drove = await asyncio.to_thread(
        run, "navigate_to", "--robot", "mm1", "--args", '{"target": "dining_table"}'
    )
    assert drove.exit_code == 0, drove.output
    assert "subtask_started" in drove.output and "succeeded" in drove.output
    mm1 = (await client.get("/v1/robots/mm1")).json()
    assert mm1["place"] == "dining_table"

    # refused before it runs: the cup is not within mm1's reach at the dining table
    refused = await asyncio.to_thread(
        run, "pick", "--robot", "mm1", "--args", '{"object": "cup"}'
    )
    assert refused.exit_code == 2, refused.output
    assert "reaches(mm1" in refused.output
    bad = await asyncio.to_thread(run, "pick", "--robot", "mm1", "--args", "[1]")
    assert bad.exit_code != 0 and "JSON object" in bad.output
