"""The `robo-os` command line. The only place that configures logging."""

from __future__ import annotations

import json
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


def _configure_logging(level: str, fmt: str = "text") -> None:
    from .logs import configure_logging

    configure_logging(level, fmt)


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
    with_brain: Annotated[
        bool,
        typer.Option(
            "--brain/--no-brain",
            help="--no-brain: the deployment only (Redis, Ray, world, agents); brains of"
            " their own (`robo-os brain`) serve the API and may come and go.",
        ),
    ] = True,
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
    _configure_logging(settings.log_level, settings.log_format)
    from .stack import run_stack
    from .tracing import configure_tracing

    configure_tracing(settings.tracing)

    if not with_brain:
        from .stack import run_deployment

        run_deployment(settings, data_dir=data_dir)
        return
    run_stack(settings, data_dir=data_dir)


@app.command()
def brain(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The deployment's fleet and scene YAML file."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="API bind address (ROBO_OS_API__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (ROBO_OS_API__PORT).")] = None,
    brain_id: Annotated[
        str | None, typer.Option("--id", help="This brain's name (ROBO_OS_HA__BRAIN_ID).")
    ] = None,
    only: Annotated[
        bool,
        typer.Option(
            "--only",
            help="The only brain: lead without a campaign (default: one of several, ha.enabled).",
        ),
    ] = False,
) -> None:
    """Start a brain (API and scheduler) for a running deployment: its Redis
    (ROBO_OS_REDIS__URL) and Ray cluster (ROBO_OS_RAY__ADDRESS). Several brains on one
    deployment elect a leader; the others forward to it and take over when it dies."""
    settings = _settings(config)
    api = settings.api.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )
    ha = settings.ha.model_copy(
        update={"enabled": not only, **({"brain_id": brain_id} if brain_id else {})}
    )
    settings = settings.model_copy(update={"api": api, "ha": ha})
    _configure_logging(settings.log_level, settings.log_format)
    from .stack import run_brain
    from .tracing import configure_tracing

    configure_tracing(settings.tracing)
    run_brain(settings)


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


robots_app = typer.Typer(help="The fleet: list the robots, restart one's agent.")
app.add_typer(robots_app, name="robots")


@robots_app.callback(invoke_without_command=True)
def robots(ctx: typer.Context, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """The fleet as the shared memory holds it."""
    if ctx.invoked_subcommand is not None:
        return
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


@robots_app.command("restart")
def robots_restart(
    robot: Annotated[str, typer.Argument(help="The robot whose agent to restart.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Even while it runs a skill (the brain retries or reassigns it)."
        ),
    ] = False,
    url: UrlOpt = None,
) -> None:
    """Restart one robot's agent in a new process (an edited skill is picked up); the
    stack keeps running. Needs the operator scope."""
    with _client(url) as client:
        state = client.restart_robot(robot, force=force)
    console.print(f"robot [bold]{escape(robot)}[/bold]: agent restarted, {state.get('status')}")


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
    help="API tokens: the one `robo-os up` generates and reuses (<state_dir>/api-token,"
    " scope admin) and named, scoped ones (create, list, revoke; through the running"
    " brain, with an admin token).",
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


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Unique name (letters, digits, _.@-).")],
    scope: Annotated[
        str, typer.Option("--scope", help="read, operator or admin (docs/operations.md).")
    ] = "read",
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a named token with a scope and print it (once: only its digest is stored)."""
    with _client(url) as client:
        made = client.create_token(name, scope)
    if as_json:
        console.print_json(json.dumps(made))
        return
    err_console.print(f"token {escape(made['name'])} ({made['scope']}); it is not shown again:")
    print(made["token"])  # stdout alone: `TOKEN=$(robo-os token create ...)`


@token_app.command("list")
def token_list(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """The named tokens: name, scope, created, last used (never the secret)."""
    import datetime as dt

    with _client(url) as client:
        rows = client.tokens()
    if as_json:
        console.print_json(json.dumps(rows))
        return

    def when(ts: float | None) -> str:
        return dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else "never"

    table = Table("name", "scope", "created", "by", "last used")
    for t in rows:
        table.add_row(
            t["name"],
            t["scope"],
            when(t["created_at"]),
            t.get("created_by") or "",
            when(t.get("last_used_at")),
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: str, url: UrlOpt = None) -> None:
    """Revoke a named token: its next request is refused (401)."""
    with _client(url) as client:
        client.revoke_token(name)
    console.print(f"revoked token {escape(name)}")


@app.command()
def estop(
    release: Annotated[
        bool, typer.Option("--release", help="Release the stop (admin scope).")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (kept in events and the audit).")] = "",
    status: Annotated[bool, typer.Option("--status", help="Only show the state.")] = False,
    robot: Annotated[
        list[str] | None,
        typer.Option("--robot", help="Only this robot (repeatable); the others go on."),
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Emergency stop: halt every robot now (operator scope); --release resumes.
    With --robot, only those robots are stopped (or released)."""
    robots = robot or []
    with _client(url) as client:
        if status:
            state = client.estop_state()
        elif release:
            state = client.release_estop(reason, robots)
        else:
            state = client.estop(reason, robots)
    if state.get("engaged"):
        console.print(
            f"[red]emergency stop ENGAGED[/red] by {escape(str(state.get('by')))}"
            f"{': ' + escape(state['reason']) if state.get('reason') else ''}"
        )
    else:
        console.print("[green]emergency stop released[/green]")
    for name, stop in sorted((state.get("robots") or {}).items()):
        console.print(
            f"[red]{escape(name)} STOPPED[/red] by {escape(str(stop.get('by')))}"
            f"{': ' + escape(stop['reason']) if stop.get('reason') else ''}"
        )


@task_app.command("approve")
def task_approve(
    task_id: str,
    subtask_id: str,
    reason: Annotated[str, typer.Option(help="Kept in the event and the audit.")] = "",
    url: UrlOpt = None,
) -> None:
    """Approve a subtask awaiting approval: it is dispatched."""
    with _client(url) as client:
        task = client.approve(task_id, subtask_id, reason)
    console.print(f"task {task_id}: {subtask_id} approved ({task.get('status')})")


@task_app.command("reject")
def task_reject(
    task_id: str,
    subtask_id: str,
    reason: Annotated[str, typer.Option(help="Kept in the event and the audit.")] = "",
    url: UrlOpt = None,
) -> None:
    """Reject a subtask awaiting approval: it fails; the task replans or fails."""
    with _client(url) as client:
        task = client.reject(task_id, subtask_id, reason)
    console.print(f"task {task_id}: {subtask_id} rejected ({task.get('status')})")


@app.command()
def audit(
    cursor: Annotated[str | None, typer.Option(help="Entries after this id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit stream (admin scope): who changed what, when, with what result."""
    import datetime as dt

    with _client(url) as client:
        page = client.audit(cursor, limit)
    if as_json:
        console.print_json(json.dumps(page))
        return
    table = Table("id", "when", "who", "action", "target", "result")
    for e in page["entries"]:
        target = " ".join(f"{k}={v}" for k, v in e.get("target", {}).items())
        result = f"{e['result']} {e['status']}" + (f": {e['message']}" if e.get("message") else "")
        table.add_row(
            e["id"],
            dt.datetime.fromtimestamp(e["ts"]).isoformat(timespec="seconds"),
            e["who"],
            e["action"],
            escape(target),
            escape(result[:80]),
        )
    console.print(table)
    console.print(f"next: --cursor {page['cursor']}")


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


@app.command("eval")
def eval_suite(
    suite_file: Annotated[Path, typer.Argument(help="The suite (YAML): fleet and cases.")],
    url: Annotated[
        str | None,
        typer.Option("--url", help="Run against this brain instead of starting the suite's fleet here."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a suite of cases (instruction or goal, expected outcome, facts) and print
    success, time, model calls and failures by kind; exit 1 if any case failed."""
    import asyncio

    from .evaluation import load_suite, progress_bar, report, run_suite

    suite = load_suite(suite_file)
    settings = _settings()
    token = None
    if url is not None:
        from .tokens import read_token

        token = read_token(settings)
    else:
        _configure_logging("WARNING", settings.log_format)  # the bar, not the stack's chatter
    results = asyncio.run(
        run_suite(suite, url=url, token=token, settings=settings, on_progress=progress_bar(sys.stderr))
    )
    if as_json:
        rows = [
            {"case": r.case.name, "ok": r.ok, "status": r.status, "seconds": round(r.seconds, 3),
             "model_calls": r.model_calls, "kind": r.kind, "detail": r.detail, "task_id": r.task_id}
            for r in results
        ]
        console.print_json(json.dumps({"suite": suite.name, "results": rows}))
    else:
        report(suite, results, sys.stdout)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def agent(
    address: Annotated[
        str, typer.Option("--address", help="The Ray head's GCS address, HEAD:PORT.")
    ],
    robot: Annotated[
        list[str],
        typer.Option("--robot", help="A robot this node serves (repeat for more)."),
    ],
    num_cpus: Annotated[
        int | None, typer.Option("--num-cpus", help="CPUs this node offers Ray.")
    ] = None,
    block: Annotated[
        bool, typer.Option("--block/--no-block", help="Stay in the foreground (default).")
    ] = True,
) -> None:
    """Start a robot's Ray node: join the cluster at ADDRESS offering `robot:<id>` for
    each --robot, so those robots' agents (on_robot_node: true) run here."""
    from .agent_node import start_agent_node

    raise typer.Exit(start_agent_node(address, robot, num_cpus=num_cpus, block=block))


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
