"""The simulator's module layout: helpers see the world through narrow protocols, so
the imports inside `robo_os.sim` form no cycle and no helper imports world.py."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import robo_os.sim

SIM = Path(robo_os.sim.__file__).parent
HELPERS = ("camera", "manipulation", "motions", "navigation", "observation", "embodiments")


def _sim_imports(module: str) -> set[str]:
    """The `robo_os.sim` modules `module` imports, type-only imports included."""
    tree = ast.parse((SIM / f"{module}.py").read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # `from . import camera`
                out.update(alias.name for alias in node.names)
            else:
                out.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("robo_os.sim."):
            out.add(node.module.split(".")[2])  # type: ignore[union-attr]
    return out


def _graph() -> dict[str, set[str]]:
    modules = sorted(p.stem for p in SIM.glob("*.py") if p.stem != "__init__")
    return {m: _sim_imports(m) & set(modules) for m in modules}


def test_sim_imports_are_acyclic() -> None:
    order = list(graphlib.TopologicalSorter(_graph()).static_order())  # raises on a cycle
    assert order.index("view") < order.index("world")


@pytest.mark.parametrize("helper", HELPERS)
def test_helpers_do_not_import_the_world(helper: str) -> None:
    assert "world" not in _graph()[helper]
