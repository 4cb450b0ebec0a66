"""The symbolic model sits below the brain and the skill SDK: it imports neither (the
skill SDK imports it for the condition language; the brain's catalogue satisfies its
Domain protocol)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import robo_os.symbolic

SYMBOLIC_DIR = Path(robo_os.symbolic.__file__).parent
FORBIDDEN = ("robo_os.brain", "robo_os.skill", "robo_os.cerebellum", "robo_os.sim", "robo_os.mcp")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "robo_os.symbolic".rsplit(".", node.level - 1)[0]
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return found


def test_no_symbolic_module_imports_the_brain_or_the_skill_sdk() -> None:
    offending = {
        f"{p.name}: {m}"
        for p in SYMBOLIC_DIR.glob("*.py")
        for m in _imports(p)
        if m.startswith(FORBIDDEN)
    }
    assert offending == set()


def test_importing_the_symbolic_model_loads_nothing_above_it() -> None:
    modules = ", ".join(
        f"robo_os.symbolic.{p.stem}"
        for p in sorted(SYMBOLIC_DIR.glob("*.py"))
        if p.stem != "__init__"
    )
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
