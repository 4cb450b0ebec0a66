"""The `robo-os` command line. The only place that configures logging."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import RoboOSError
from .settings import Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="robo-os: plan with an LLM, run a fleet of robots over Ray, share memory in Redis.",
    no_args_is_help=True,
)
task_app = typer.Typer(help="Inspect and control tasks.", no_args_is_help=True)
app.add_typer(task_app, name="task")
world_app = typer.Typer(
    help="The world: memory against what the robots observe.", no_args_is_help=True
)
app.add_typer(world_app, name="world")

console = Console()
err_console = Console(stderr=True)


def _settings(config_file: Path | None = None) -> Settings:
    return load_settings(config_file)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _client(url: str | None) -> Any:
    from .client import RoboOSClient

    return RoboOSClient.from_settings(_settings(), url)


UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Brain API URL (default: from settings, http://127.0.0.1:8000)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print raw JSON.")]


@app.command()
def up(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Fleet and scene YAML file (default: the embedded household demo).",
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="API bind address (ROBO_OS_API__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (ROBO_OS_API__PORT).")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the embedded Redis's data (AOF) here, so a restart resumes tasks.",
        ),
    ] = None,
    real_time: Annotated[
        bool, typer.Option("--real-time", help="Pace the simulation to the wall clock.")
    ] = False,
) -> None:
    """Start Redis (embedded unless ROBO_OS_REDIS__URL), Ray, the simulated fleet and the brain API."""
    settings = _settings(config)
    updates: dict[str, Any] = {}
    if host is not None or port is not None:
        updates["api"] = settings.api.model_copy(
            update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
        )
    if real_time:
        updates["sim"] = settings.sim.model_copy(update={"real_time": True})
    settings = settings.model_copy(update=updates)
    _configure_logging(settings.log_level)
    from .stack import run_stack

    run_stack(settings, data_dir=data_dir)


def _print_task(task: dict[str, Any]) -> None:
    status = task.get("status", "?")
    colour = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(status, "cyan")
    instruction = escape(task.get("instruction") or "")
    console.print(
        f"task [bold]{task.get('id')}[/bold]: [{colour}]{status}[/{colour}]  {instruction}"
    )
    for w in task.get("waiting_for") or []:
        holder = f" (held by task {w['holder']})" if w.get("holder") else ""
        console.print(f"  waits for {w.get('kind')} {escape(str(w.get('name')))}{holder}")
    subtasks = task.get("subtasks") or []
    if subtasks:
        table = Table(show_header=True, header_style="bold")
        for col in ("id", "robot", "skill", "args", "after", "status", "result"):
            table.add_column(col)
        for s in subtasks:
            result = s.get("result") or {}
            msg = result.get("message") or ""
            if result.get("error"):
                msg = f"{result['error']}: {msg}"
            table.add_row(
                s.get("id", ""),
                s.get("robot", ""),
                s.get("skill", ""),
                json.dumps(s.get("args", {})),
                ",".join(s.get("depends_on", [])),
                s.get("status", ""),
                msg[:80],
            )
        console.print(table)
    error = task.get("error")
    if error:
        console.print(f"[red]error:[/red] {escape(str(error.get('message')))}")
        for p in error.get("problems", []):
            code, message = escape(f"[{p.get('code')}]"), escape(str(p.get("message")))
            console.print(f"  - {code} {message}")


@app.command()
def submit(
    instruction: Annotated[
        str | None, typer.Argument(help="What to do, in natural language.")
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan", help='Submit an explicit plan (JSON file with {"subtasks": [...]}).'
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", "-w", help="Wait until the task ends; exit 1 unless it succeeded."),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 300.0,
    priority: Annotated[
        int, typer.Option(help="Higher first where tasks wait for the same robots or objects.")
    ] = 0,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a task (an instruction or an explicit plan)."""
    if instruction is None and plan is None:
        raise typer.BadParameter("give an INSTRUCTION or --plan FILE")
    plan_body = json.loads(plan.read_text()) if plan else None
    with _client(url) as client:
        task = client.submit(instruction, plan_body, priority=priority)
        if not as_json:
            console.print(f"submitted task [bold]{task['id']}[/bold] ({task['status']})")
        if wait:
            task = client.wait(task["id"], timeout_s=timeout)
    if as_json:
        console.print_json(json.dumps(task))
    elif wait:
        _print_task(task)
    if wait and task.get("status") != "succeeded":
        raise typer.Exit(1)


@task_app.command("get")
def task_get(task_id: str, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Show a task, its plan and each subtask's status and result."""
    with _client(url) as client:
        task = client.task(task_id)
    console.print_json(json.dumps(task)) if as_json else _print_task(task)


@task_app.command("list")
def task_list(
    status: Annotated[str | None, typer.Option(help="Only tasks with this status.")] = None,
    url: UrlOpt = None,
) -> None:
    """Recent tasks."""
    with _client(url) as client:
        tasks = client.tasks(status)
    table = Table("id", "status", "instruction", "subtasks")
    for t in tasks:
        table.add_row(
            t.get("id", ""),
            t.get("status", ""),
            (t.get("instruction") or "")[:60],
            str(len(t.get("subtasks") or [])),
        )
    console.print(table)


@task_app.command("cancel")
def task_cancel(task_id: str, url: UrlOpt = None) -> None:
    """Cancel a task; its running skills are stopped."""
    with _client(url) as client:
        task = client.cancel(task_id)
    console.print(f"task {task_id}: {task.get('status')}")


@task_app.command("watch")
def task_watch(task_id: str, url: UrlOpt = None) -> None:
    """Follow a task's events as they happen, until it ends."""
    with _client(url) as client:
        for event in client.events(task_id):
            who = " ".join(x for x in (event.get("subtask"), event.get("robot")) if x)
            console.print(
                f"{event.get('kind'):<20} {who:<16} {escape(str(event.get('message', '')))}"
            )


@app.command()
def robots(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """The fleet as the shared memory holds it."""
    with _client(url) as client:
        rows = client.robots()
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("id", "embodiment", "status", "place", "holding", "capabilities", "doing")
    for r in rows:
        table.add_row(
            r.get("id", ""),
            r.get("embodiment", ""),
            r.get("status", ""),
            r.get("place") or "",
            r.get("holding") or "",
            ",".join(r.get("capabilities", [])),
            r.get("activity") or "",
        )
    console.print(table)


@app.command()
def objects(
    name: Annotated[str | None, typer.Argument(help="One object's record.")] = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Where the objects are now (place, pose, held by)."""
    with _client(url) as client:
        rows = [client.object(name)] if name else client.objects()
    if as_json:
        console.print_json(json.dumps(rows[0] if name else rows))
        return
    table = Table("name", "type", "on", "held by", "pose", "version", "updated by")
    for o in rows:
        pose = o.get("pose") or {}
        where = (
            f"({pose.get('x', 0):.2f}, {pose.get('y', 0):.2f}, {pose.get('z', 0):.2f})"
            if pose
            else ""
        )
        table.add_row(
            o.get("name", ""),
            o.get("type", ""),
            o.get("on") or "",
            o.get("held_by") or "",
            where,
            str(o.get("version", "")),
            o.get("updated_by", ""),
        )
    console.print(table)


@world_app.command("diff")
def world_diff(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Where memory and the robots' own observations disagree (exit 1 if anywhere)."""
    with _client(url) as client:
        out = client.world_diff()
    rows = out.get("disagreements", [])
    if as_json:
        console.print_json(json.dumps(out))
    elif not out.get("observers"):
        console.print("no robot can observe: nothing to compare")
    elif not rows:
        console.print(f"memory agrees with {', '.join(out['observers'])}")
    else:
        table = Table("kind", "name", "field", "memory", "observed", "by")
        for d in rows:
            table.add_row(
                d["kind"],
                d["name"],
                d["field"],
                json.dumps(d["memory"]),
                json.dumps(d["observed"]),
                d["by"],
            )
        console.print(table)
    if rows:
        raise typer.Exit(1)


@app.command()
def config(show_secrets: Annotated[bool, typer.Option("--show-secrets")] = False) -> None:
    """Print the effective settings (environment + defaults) as JSON."""
    settings = _settings()
    data = settings.model_dump(mode="json")
    if show_secrets:
        data = json.loads(
            json.dumps(
                settings.model_dump(mode="python"),
                default=lambda v: (
                    v.get_secret_value() if hasattr(v, "get_secret_value") else str(v)
                ),
            )
        )
    console.print_json(json.dumps(data))


token_app = typer.Typer(
    help="The API token `robo-os up` generates and reuses (<state_dir>/api-token).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


@token_app.command("path")
def token_path_cmd() -> None:
    """Print where the generated token is kept."""
    from .tokens import token_path

    console.print(str(token_path(_settings())))


@token_app.command("rotate")
def token_rotate() -> None:
    """Replace the generated token (a running brain keeps the old one until restarted)."""
    from .tokens import rotate_token, token_path

    settings = _settings()
    rotate_token(settings)
    console.print(f"wrote a new API token to {token_path(settings)}; restart `robo-os up` to use it")


def skills_run(
    skill: Annotated[str, typer.Argument(help="The skill to run.")],
    robot: Annotated[str, typer.Option("--robot", "-r", help="The robot that runs it.")],
    args: Annotated[
        str, typer.Option("--args", help="Its arguments as a JSON object.")
    ] = "{}",
    url: UrlOpt = None,
) -> None:
    """Run one skill on one robot of a running stack, printing its progress as it
    happens; exit 1 unless it succeeded (a one-subtask plan, pinned to the robot)."""
    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"--args is not JSON: {e}") from e
    if not isinstance(arguments, dict):
        raise typer.BadParameter("--args must be a JSON object")
    plan = {
        "subtasks": [
            {"id": "run", "robot": robot, "skill": skill, "args": arguments, "pinned": True}
        ]
    }
    with _client(url) as client:
        try:
            task = client.submit(f"run {skill} on {robot}", plan)
        except RoboOSError as e:  # refused before it ran: the checks say why
            err_console.print(f"[red]refused:[/red] {escape(str(e))}")
            raise typer.Exit(2) from e
        console.print(f"task [bold]{task['id']}[/bold]: {skill} on {robot}")
        for event in client.events(task["id"]):
            console.print(f"{event.get('kind'):<20} {escape(str(event.get('message', '')))}")
        task = client.task(task["id"])
    _print_task(task)
    if task.get("status") != "succeeded":
        raise typer.Exit(1)


def _add_optional_subapps() -> None:
    from .skill.cli import skills_app

    skills_app.command("run")(skills_run)

    app.add_typer(skills_app, name="skills", help="List and check the registered skills.")
    try:
        from .mcp.cli import mcp_app
    except ImportError:  # the MCP CLI is optional at the package level
        return
    app.add_typer(mcp_app, name="mcp", help="Serve a robot's skills over MCP.")


def main() -> None:
    try:
        _add_optional_subapps()
    except ImportError as e:  # pragma: no cover - only while parts are missing
        err_console.print(f"[yellow]warning:[/yellow] {e}")
    try:
        app()
    except RoboOSError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}")
        sys.exit(2)
