"""The skill SDK is a bottom layer: the cerebellum, the simulator and the brain import it,
never the reverse; the robot contract, the parts and the context sit at its very bottom."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import robo_os.skill

SKILL_DIR = Path(robo_os.skill.__file__).parent
ABOVE = ("robo_os.cerebellum", "robo_os.sim", "robo_os.brain", "robo_os.mcp")
BOTTOM = {"robot.py", "parts.py", "context.py"}
BOTTOM_MAY_IMPORT = ("robo_os.contracts", "robo_os_memory", "pydantic", "robo_os.skill.")


def _imports(path: Path) -> set[str]:
    """Absolute module names `path` imports (relative imports resolved)."""
    package = "robo_os.skill"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return found


def test_no_skill_module_imports_a_layer_above() -> None:
    offending = {
        f"{p.name}: {m}" for p in SKILL_DIR.glob("*.py") for m in _imports(p) if m.startswith(ABOVE)
    }
    assert offending == set()


def test_the_robot_contract_parts_and_context_import_only_the_bottom() -> None:
    for name in BOTTOM:
        for m in _imports(SKILL_DIR / name):
            top = m.split(".")[0]
            stdlib = top in sys.stdlib_module_names or top == "__future__"
            assert stdlib or m.startswith(BOTTOM_MAY_IMPORT), f"{name} imports {m}"


def test_importing_the_sdk_loads_nothing_above_it() -> None:
    code = (
        "import sys, robo_os.skill, robo_os.skill.parts, robo_os.skill.robot;"
        f"print(sorted(m for m in sys.modules if m.startswith({ABOVE!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
