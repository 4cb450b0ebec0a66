"""benchmarks/soak.py works: six tasks (faults and cancels included) on the whole stack
end with none stuck and memory agreeing with the simulator."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"

# A soak, even a short one: it runs when asked (ROBO_OS_SOAK=1 scripts/test
# tests/e2e/test_soak_quick.py; about 40 s on 2 cores), not in the default run, where
# robots wedging in the simulator (docs/reliability.md, "Soak") made it flaky.
pytestmark = pytest.mark.skipif(
    not os.environ.get("ROBO_OS_SOAK"), reason="a soak: set ROBO_OS_SOAK=1 to run it"
)


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("robo_os_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_soak_runs_six_tasks_with_faults_and_leaves_memory_true(ray_runtime: object) -> None:
    soak = _soak()
    args = soak.parse(
        ["--tasks", "6", "--robots", "3", "--slip", "0.2", "--cancel", "0.3", "--seed", "2"]
    )
    report = await soak.soak(args)
    out = report.summary()
    assert out["tasks"] == 6
    assert out["succeeded"] + out["failed"] + out["cancelled"] == 6, out
    assert out["stuck"] == 0 and report.stuck == [], report.stuck
    assert out["disagreements_at_end"] == 0, report.disagreements_at_end
    assert out["succeeded"] >= 1, out
    assert out["task_s_p50"] > 0 and out["task_s_p95"] >= out["task_s_p50"]
