"""`robo-os skills list`, `check` and `new` (wired into the main CLI as `skills`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..symbolic.facts import Fact
from .checker import check_registry
from .registry import discover
from .scaffold import new_plugin

__all__ = ["skills_app"]

skills_app = typer.Typer(help="List and check the registered skills.", no_args_is_help=True)


def _args_text(schema: dict[str, object]) -> str:
    props = schema.get("properties")
    required = set(schema.get("required") or [])  # type: ignore[call-overload]
    if not isinstance(props, dict):
        return ""
    return ", ".join(name if name in required else f"{name}?" for name in props)


def _facts_text(facts: tuple[Fact, ...]) -> str:
    """`clean(place) [initial=clean]`, `inspected(object) [plans only]`; `-` for none."""
    out = []
    for f in facts:
        notes = [] if f.initial is False else [f"initial={str(f.initial).lower()}"]
        if not f.recorded:
            notes.append("plans only")
        out.append(f.signature + (f" [{', '.join(notes)}]" if notes else ""))
    return "; ".join(out) or "-"


@skills_app.command("list")
def list_skills(
    as_json: Annotated[bool, typer.Option("--json", help="Print the full specs as JSON.")] = False,
) -> None:
    """Every skill of the installed plug-ins: name, capabilities, source, arguments and the
    facts of its own it declares (name(kinds), initial value, whether memory records it)."""
    console = Console()
    registry = discover()
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in registry.specs()], indent=2))
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("name", "capabilities", "source", "args", "facts", "timeout"):
        table.add_column(column, overflow="fold")  # a narrow terminal wraps, never cuts
    for spec in registry.specs():
        table.add_row(
            spec.name,
            ", ".join(spec.capabilities),
            spec.source or "-",
            _args_text(spec.args_schema),
            _facts_text(spec.facts),
            f"{spec.timeout_s:g}s" + (" concurrent" if spec.concurrent else ""),
        )
    console.print(table)
    for p in registry.problems:
        Console(stderr=True).print(f"[yellow]not loaded:[/yellow] {p}")


@skills_app.command("check")
def check_skills() -> None:
    """Run the conformance checker over every installed skill; exit 1 on any problem."""
    registry = discover()
    problems = check_registry(registry)
    for p in problems:
        typer.echo(f"FAIL {p}")
    n = len(registry)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {n} skill(s)")
        raise typer.Exit(1)
    typer.echo(f"all {n} skill(s) pass")


@skills_app.command("new")
def new_skill_package(
    name: Annotated[str, typer.Argument(help="The package's distribution name, e.g. robo-os-greeter.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create it (default: here).")
    ] = Path("."),
    skill_name: Annotated[
        str | None, typer.Option("--skill", help="The first skill's name (default: from NAME).")
    ] = None,
) -> None:
    """Create a plug-in package: entry point, one skill with a typed part, its tests."""
    made = new_plugin(name, directory, skill=skill_name)
    for path in made.files:
        typer.echo(f"created {path}")
    typer.echo(
        f"next: cd {made.root} && pip install -e '.[test]' && robo-os skills check && pytest"
    )
