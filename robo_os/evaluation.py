"""`robo-os eval SUITE.yaml`: run a suite of cases against a stack and say how it went.

A suite names its fleet file (scene and robots) and its cases; each case is an
instruction or a goal, the outcome expected (`succeeded` or `failed`), optionally the
error code a failure must carry and facts that must hold in memory afterwards:

    name: household smoke
    fleet: default            # a fleet file beside the suite, or `default` (the demo)
    timeout_s: 180            # per case
    cases:
      - name: apple to the table
        instruction: bring the apple to the dining table
        expect: succeeded
        facts: ["on(apple, dining_table)"]
      - name: no such thing
        instruction: bring the piano to the dining table
        expect: failed
        error: infeasible

Cases run one after another on one world (a case sees what the earlier ones did). With
`--url` they run against that brain; otherwise a stack of the suite's fleet is started in
this process (embedded Redis, local Ray, the simulator) and stopped at the end. The report
gives each case's outcome, time and model calls, the success rate and failures by kind.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import yaml

from .errors import ConfigError
from .settings import Settings
from .symbolic.conditions import Atom
from .symbolic.goal import GoalFormatError, parse_fact

__all__ = ["Case", "CaseResult", "Suite", "load_suite", "report", "run_suite"]

OUTCOMES = ("succeeded", "failed")
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Case:
    name: str
    instruction: str | None = None
    goal: dict[str, Any] | None = None
    expect: str = "succeeded"
    error: str | None = None
    facts: tuple[Atom, ...] = ()


@dataclass(frozen=True)
class Suite:
    name: str
    cases: tuple[Case, ...]
    fleet: Path | None = None
    """None: the embedded household demo."""
    timeout_s: float = 180.0


@dataclass
class CaseResult:
    case: Case
    ok: bool
    status: str
    seconds: float
    model_calls: int = 0
    kind: str = ""
    """Why it is not ok: `unexpected_failure:<code>`, `unexpected_success`, `wrong_error`,
    `facts_not_met`, `timeout`, `refused:<status>`."""
    detail: str = ""
    task_id: str | None = None


def load_suite(path: Path) -> Suite:
    """Read and check a suite file; ConfigError naming the file and the bad entry."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read suite {path}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise ConfigError(f"{path}: a suite is a mapping with a non-empty list 'cases'")
    unknown = set(data) - {"name", "fleet", "timeout_s", "cases"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    fleet_raw = data.get("fleet", "default")
    fleet = None if fleet_raw in (None, "default") else (Path(path).parent / str(fleet_raw))
    if fleet is not None and not fleet.is_file():
        raise ConfigError(f"{path}: fleet file {fleet} does not exist")
    timeout = data.get("timeout_s", 180.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{path}: timeout_s must be a positive number")
    cases = tuple(_case(path, i, c) for i, c in enumerate(data["cases"]))
    names = Counter(c.name for c in cases)
    twice = [n for n, k in names.items() if k > 1]
    if twice:
        raise ConfigError(f"{path}: case names must be unique: {', '.join(twice)}")
    return Suite(str(data.get("name") or Path(path).stem), cases, fleet, float(timeout))


def _case(path: Path, i: int, raw: Any) -> Case:
    where = f"{path}: cases[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping")
    unknown = set(raw) - {"name", "instruction", "goal", "expect", "error", "facts"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    instruction, goal = raw.get("instruction"), raw.get("goal")
    if (instruction is None) == (goal is None):
        raise ConfigError(f"{where}: give exactly one of 'instruction' and 'goal'")
    if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
        raise ConfigError(f"{where}: instruction must be a non-empty string")
    if goal is not None and not isinstance(goal, dict):
        raise ConfigError(f"{where}: goal must be a mapping (the goal language's JSON form)")
    expect = raw.get("expect", "succeeded")
    if expect not in OUTCOMES:
        raise ConfigError(f"{where}: expect must be one of {', '.join(OUTCOMES)}, not {expect!r}")
    facts = raw.get("facts") or []
    if not isinstance(facts, list):
        raise ConfigError(f"{where}: facts must be a list")
    try:
        parsed = tuple(parse_fact(f, f"{where}.facts[{j}]") for j, f in enumerate(facts))
    except GoalFormatError as e:
        raise ConfigError(str(e)) from e
    error = raw.get("error")
    return Case(
        name=str(raw.get("name") or f"case {i + 1}"),
        instruction=instruction,
        goal=goal,
        expect=expect,
        error=str(error) if error is not None else None,
        facts=parsed,
    )


def unmet_facts(
    facts: Sequence[Atom], robots: Sequence[dict[str, Any]], objects: Sequence[dict[str, Any]]
) -> list[str]:
    """The facts that do not hold in the memory records given (as the REST API lists them)."""
    by_robot = {r["id"]: r for r in robots}
    by_object = {o["name"]: o for o in objects}
    out = []
    for fact in facts:
        pred, args = fact[0], fact[1:]
        if pred in ("on", "held", "holding"):
            name = args[-1] if pred == "holding" else args[0]
            obj = by_object.get(name)
            if obj is None:
                out.append(f"{pred}({', '.join(args)}): no object {name!r} in memory")
                continue
            holds = {
                "on": obj.get("on") == args[-1] if pred == "on" else False,
                "held": obj.get("held_by") is not None,
                "holding": obj.get("held_by") == args[0],
            }[pred]
            where = f"held by {obj['held_by']}" if obj.get("held_by") else f"on {obj.get('on')}"
        elif pred == "at":
            robot = by_robot.get(args[0], {})
            holds = robot.get("place") == args[1]
            where = f"at {robot.get('place')}"
        else:  # open / closed: an articulated thing's `open` attribute
            thing = by_object.get(args[0], {})
            is_open = bool((thing.get("attrs") or {}).get("open", False))
            holds = is_open == (pred == "open")
            where = "open" if is_open else "closed"
        if not holds:
            out.append(f"{pred}({', '.join(args)}) does not hold ({args[0]}: {where})")
    return out


async def _run_case(http: httpx.AsyncClient, case: Case, timeout_s: float) -> CaseResult:
    t0 = time.monotonic()
    body: dict[str, Any] = (
        {"instruction": case.instruction} if case.instruction else {"goal": case.goal}
    )
    r = await http.post("/v1/tasks", json=body)
    if r.status_code >= 400:
        # refused at the door (e.g. a malformed goal): a failure of kind refused:<status>
        detail = r.json().get("error", {}).get("message", r.text) if r.content else ""
        ok = case.expect == "failed" and case.error in (None, "refused", str(r.status_code))
        return CaseResult(
            case,
            ok,
            "refused",
            time.monotonic() - t0,
            0,
            "" if ok else f"refused:{r.status_code}",
            detail,
        )
    task = r.json()
    deadline = t0 + timeout_s
    while task["status"] not in TERMINAL and time.monotonic() < deadline:
        window = max(1.0, min(30.0, deadline - time.monotonic()))
        w = await http.get(
            f"/v1/tasks/{task['id']}/wait", params={"timeout": window}, timeout=window + 10
        )
        w.raise_for_status()
        task = w.json()
    seconds = time.monotonic() - t0
    calls = int(task.get("model_calls") or 0)
    status = str(task["status"])
    res = CaseResult(case, False, status, seconds, calls, task_id=str(task["id"]))
    error = task.get("error") or {}
    codes = {str(error.get("code", ""))} | {str(p.get("code")) for p in error.get("problems") or []}
    if status not in TERMINAL:
        await http.post(f"/v1/tasks/{task['id']}/cancel")
        res.kind, res.detail = "timeout", f"still {status} after {timeout_s:.0f} s"
    elif status != case.expect:
        res.kind = (
            "unexpected_success"
            if status == "succeeded"
            else f"unexpected_{status}:{error.get('code', '?')}"
        )
        res.detail = str(error.get("message", ""))
    elif case.expect == "failed" and case.error and case.error not in codes:
        res.kind, res.detail = (
            "wrong_error",
            f"failed with {sorted(codes)}, expected {case.error}: {error.get('message', '')}",
        )
    elif case.facts:
        robots = (await http.get("/v1/robots")).json()["robots"]
        objects = (await http.get("/v1/memory/objects")).json()["objects"]
        unmet = unmet_facts(case.facts, robots, objects)
        if unmet:
            res.kind, res.detail = "facts_not_met", "; ".join(unmet)
        else:
            res.ok = True
    else:
        res.ok = True
    return res


def progress_bar(out: TextIO) -> Callable[[int, int, CaseResult | None], None]:
    """A one-line bar on a terminal; a line per case elsewhere (logs, CI)."""
    tty = out.isatty()

    def show(done: int, total: int, last: CaseResult | None) -> None:
        width = 24
        filled = width * done // max(1, total)
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        what = (
            f" {'ok  ' if last.ok else 'FAIL'} {last.case.name} ({last.seconds:.1f} s)"
            if last
            else ""
        )
        if tty:
            out.write(f"\r{bar}{what[:60]:<60}")
            if done == total:
                out.write("\n")
        elif last is not None:
            out.write(f"{bar}{what}\n")
        out.flush()

    return show


async def run_suite(
    suite: Suite,
    *,
    url: str | None = None,
    token: str | None = None,
    settings: Settings | None = None,
    on_progress: Callable[[int, int, CaseResult | None], None] | None = None,
) -> list[CaseResult]:
    """Run every case in order; against `url`, or a stack of the suite's fleet started here."""
    if url is not None:
        return await _run_cases(suite, url, token, on_progress)
    from .fleet import load_fleet
    from .stack import Stack

    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="robo-os-eval-") as data_dir:
        stack = Stack(base, load_fleet(suite.fleet), data_dir=Path(data_dir))
        app = await stack.start()
        try:
            # in process: the brain's lifespan (task store, planner) runs around the cases
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                secret = stack.settings.api.token
                token = secret.get_secret_value() if secret is not None else None
                return await _run_cases(suite, "http://brain", token, on_progress, transport)
        finally:
            await stack.stop()


async def _run_cases(
    suite: Suite,
    url: str,
    token: str | None,
    on_progress: Callable[[int, int, CaseResult | None], None] | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[CaseResult]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    results: list[CaseResult] = []
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60.0, transport=transport
    ) as http:
        if on_progress:
            on_progress(0, len(suite.cases), None)
        for case in suite.cases:
            results.append(await _run_case(http, case, suite.timeout_s))
            if on_progress:
                on_progress(len(results), len(suite.cases), results[-1])
    return results


def report(suite: Suite, results: Sequence[CaseResult], out: TextIO = sys.stdout) -> None:
    """The suite's figures: per case, then success, time, model calls, failures by kind."""
    out.write(f"suite {suite.name}: {len(results)} case(s)\n")
    for r in results:
        mark = "ok  " if r.ok else "FAIL"
        line = f"  {mark} {r.case.name:<36} {r.status:<10} {r.seconds:6.1f} s  {r.model_calls} model call(s)"
        out.write(line + (f"  [{r.kind}] {r.detail}" if not r.ok else "") + "\n")
    ok = sum(r.ok for r in results)
    times = sorted(r.seconds for r in results)
    p50 = times[len(times) // 2] if times else math.nan
    out.write(
        f"success: {ok}/{len(results)} ({100.0 * ok / max(1, len(results)):.0f} %)"
        f"  time: {sum(times):.1f} s total, p50 {p50:.1f} s, max {max(times, default=math.nan):.1f} s"
        f"  model calls: {sum(r.model_calls for r in results)}\n"
    )
    kinds = Counter(r.kind.split(":")[0] for r in results if not r.ok)
    if kinds:
        out.write(
            "failures by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + "\n"
        )
