"""The deployment files in deploy/ agree with the code: every `robo-os` command they run
exists, every `ROBO_OS_*` variable names a setting, ports and images agree across the
compose file and the KubeRay manifests, the image runs as a non-root user, robot node
resources name robots of the fleet file, and secrets come from the environment.

`problems()` is the checker; the last tests show it rejects broken manifests."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from robo_os.agent_node import ray_start_argv
from robo_os.errors import ConfigError
from robo_os.settings import APISettings, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_NAME = re.compile(r"\bROBO_OS_[A-Z0-9_]+\b")
SECRET_WORDS = ("TOKEN", "PASSWORD", "API_KEY", "SECRET")


def load_all() -> dict[str, list[Any]]:
    """Every YAML document under deploy/, by file name relative to deploy/."""
    return {
        str(p.relative_to(DEPLOY)): [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
        for p in sorted(DEPLOY.rglob("*.yaml"))
    }


def cli_commands() -> set[str]:
    from robo_os import cli

    cli._add_optional_subapps()
    names = {c.name or c.callback.__name__.replace("_", "-") for c in cli.app.registered_commands}
    names |= {g.name for g in cli.app.registered_groups if g.name}
    return names


def command_options(name: str) -> set[str]:
    """Every option spelling of one `robo-os` command (`--no-brain` included)."""
    import typer.main

    from robo_os import cli

    group = typer.main.get_command(cli.app)
    command = group.commands[name]  # type: ignore[attr-defined]
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


def setting_exists(env: str) -> bool:
    parts = env.removeprefix("ROBO_OS_").lower().split("__")
    model: Any = Settings
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        model = fields[part].annotation
    return True


def robo_os_commands(docs: dict[str, list[Any]]) -> list[tuple[str, list[str]]]:
    """(where, argv) of every container of the robo-os image: compose services and k8s pods."""
    found: list[tuple[str, list[str]]] = []
    for doc in docs.get("compose.yaml", []):
        for name, svc in (doc.get("services") or {}).items():
            if str(svc.get("image", "")).startswith("robo-os") and svc.get("command"):
                found.append((f"compose {name}", list(svc["command"])))
    for file, items in docs.items():
        for doc in items:
            for c in _containers(doc):
                if str(c.get("image", "")).startswith("robo-os"):
                    argv = list(c.get("args") or c.get("command") or [])
                    if argv:
                        found.append((f"{file} {c.get('name')}", argv))
    return found


def _containers(doc: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        if isinstance(doc.get("containers"), list):
            out += [c for c in doc["containers"] if isinstance(c, dict)]
        for v in doc.values():
            out += _containers(v)
    elif isinstance(doc, list):
        for v in doc:
            out += _containers(v)
    return out


def fleet_robots() -> set[str]:
    fleet = yaml.safe_load((DEPLOY / "fleet.example.yaml").read_text())
    return {r["id"] for r in fleet["robots"]}


def problems(docs: dict[str, list[Any]], dockerfile: str) -> list[str]:
    out: list[str] = []
    commands = cli_commands()
    # commands
    for where, argv in robo_os_commands(docs):
        if argv[0] in ("robo-os",):
            argv = argv[1:]
        if argv and argv[0] not in commands and argv[0] != "start":
            out.append(f"{where}: `robo-os {argv[0]}` is not a command")
        elif argv and argv[0] in commands:
            known = command_options(argv[0])
            for flag in (a.split("=", 1)[0] for a in argv[1:] if a.startswith("--")):
                if flag not in known:
                    out.append(f"{where}: `robo-os {argv[0]}` has no option {flag}")
    # settings named by environment variables
    text = yaml.safe_dump(docs) + dockerfile
    for env in sorted(set(ENV_NAME.findall(text))):
        if not setting_exists(env):
            out.append(f"{env} names no setting")
    # ports: compose brain, k8s Deployment and Service, Dockerfile, the code's default
    port = APISettings().port
    if f"EXPOSE {port}" not in dockerfile:
        out.append(f"Dockerfile does not EXPOSE the API port {port}")
    for file, items in docs.items():
        for doc in items:
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "Service" and "brain" in doc["metadata"]["name"]:
                targets = {p.get("targetPort") for p in doc["spec"]["ports"]}
                if targets != {port}:
                    out.append(
                        f"{file}: brain Service targets {targets}, the API listens on {port}"
                    )
            for c in _containers(doc):
                if c.get("name") == "brain":
                    ports = {p["containerPort"] for p in c.get("ports", [])}
                    if ports != {port}:
                        out.append(f"{file}: brain container ports {ports} != {port}")
    # one robo-os image across compose and k8s
    images = {
        m for m in re.findall(r"image:\s*['\"]?(robo-os[^\s'\"]*)", text) if not m.endswith(":")
    }
    if len(images) != 1:
        out.append(f"robo-os image named differently: {sorted(images)}")
    # image: multi-stage, non-root
    if len(re.findall(r"^FROM ", dockerfile, re.M)) < 2:
        out.append("Dockerfile is not multi-stage")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    if not users or users[-1] in ("root", "0"):
        out.append("Dockerfile does not end as a non-root USER")
    # robot node resources name robots of the fleet file
    robots = fleet_robots()
    for rid in sorted(set(re.findall(r"robot:([A-Za-z0-9_.-]+)", text))):
        if rid not in robots:
            out.append(f"resource robot:{rid} names no robot of fleet.example.yaml")
    for where, argv in robo_os_commands(docs):
        for i, a in enumerate(argv):
            if a == "--robot" and argv[i + 1] not in robots:
                out.append(f"{where}: --robot {argv[i + 1]} names no robot")
    # secrets from the environment, never written into a manifest
    for file, items in docs.items():
        for doc in items:
            for c in _containers(doc):
                for e in c.get("env", []):
                    if any(w in e["name"] for w in SECRET_WORDS) and "value" in e:
                        out.append(f"{file}: {e['name']} has a literal value")
        for doc in items if file == "compose.yaml" else []:
            for name, svc in (doc.get("services") or {}).items():
                env = svc.get("environment") or {}
                for k, v in env.items() if isinstance(env, dict) else []:
                    if any(w in k for w in SECRET_WORDS) and v and "${" not in str(v):
                        out.append(f"compose {name}: {k} has a literal value")
    return out


@pytest.fixture(scope="module")
def manifests() -> tuple[dict[str, list[Any]], str]:
    return load_all(), (DEPLOY / "Dockerfile").read_text()


def test_every_manifest_parses(manifests: tuple[dict[str, list[Any]], str]) -> None:
    docs, _ = manifests
    assert {
        "compose.yaml",
        "ray-cluster.yaml",
        "kuberay/raycluster.yaml",
        "kuberay/brain.yaml",
    } <= set(docs)
    kinds = {d.get("kind") for items in docs.values() for d in items if isinstance(d, dict)}
    assert {"RayCluster", "Deployment", "Service", "StatefulSet", "ConfigMap"} <= kinds


def test_manifests_agree_with_the_code(manifests: tuple[dict[str, list[Any]], str]) -> None:
    docs, dockerfile = manifests
    assert problems(docs, dockerfile) == []


def test_the_fleet_configmap_is_the_example_fleet(
    manifests: tuple[dict[str, list[Any]], str],
) -> None:
    docs, _ = manifests
    (cm,) = docs["kuberay/fleet-configmap.yaml"]
    assert cm["data"]["fleet.yaml"] == (DEPLOY / "fleet.example.yaml").read_text()


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (
            lambda d, f: d["compose.yaml"][0]["services"]["brain"].update(command=["serve"]),
            "is not a command",
        ),
        (
            lambda d, f: d["compose.yaml"][0]["services"]["fleet"].update(
                command=["up", "--without-brain"]
            ),
            "has no option --without-brain",
        ),
        (
            lambda d, f: d["compose.yaml"][0]["services"]["brain"]["environment"].update(
                ROBO_OS_API__TOKNE="x"
            ),
            "names no setting",
        ),
        (
            lambda d, f: d["compose.yaml"][0]["services"]["brain"]["environment"].update(
                ROBO_OS_API__TOKEN="hunter2"
            ),
            "literal value",
        ),
        (
            lambda d, f: d["compose.yaml"][0]["services"]["agent-mm1"].update(
                command=["agent", "--address", "h:1", "--robot", "nobody"]
            ),
            "names no robot",
        ),
        (
            lambda d, f: d["compose.yaml"][0]["services"]["brain"].update(image="robo-os:9.9"),
            "image named differently",
        ),
    ],
)
def test_the_checker_rejects_broken_manifests(
    manifests: tuple[dict[str, list[Any]], str], breakage: Any, expected: str
) -> None:
    docs, dockerfile = copy.deepcopy(manifests[0]), manifests[1]
    breakage(docs, dockerfile)
    assert any(expected in p for p in problems(docs, dockerfile)), problems(docs, dockerfile)


def test_the_checker_rejects_a_root_single_stage_image(
    manifests: tuple[dict[str, list[Any]], str],
) -> None:
    docs, dockerfile = manifests
    broken = re.sub(r"^USER .*$", "USER root", dockerfile, flags=re.M)
    assert "Dockerfile does not end as a non-root USER" in problems(docs, broken)
    single = "FROM python:3.11-slim\n" + "\n".join(
        line for line in dockerfile.splitlines() if not line.startswith("FROM ")
    )
    assert "Dockerfile is not multi-stage" in problems(docs, single)


def test_agent_node_command_line() -> None:
    argv = ray_start_argv("10.0.0.5:6379", ["mm1", "arm2"], ray="ray", num_cpus=1)
    assert argv == [
        "ray",
        "start",
        "--address=10.0.0.5:6379",
        '--resources={"robot:arm2": 1, "robot:mm1": 1}',
        "--num-cpus=1",
        "--block",
    ]
    assert ray_start_argv("[::1]:6379", ["mm1"], block=False)[2] == "--address=[::1]:6379"
    for address, robots, words in [
        ("nohost", ["mm1"], "HEAD:PORT"),
        ("h:70000", ["mm1"], "HEAD:PORT"),
        ("h:6379", [], "at least one robot"),
        ("h:6379", ["mm1", "mm1"], "twice"),
        ("h:6379", ["bad id"], "robot id"),
    ]:
        with pytest.raises(ConfigError, match=words):
            ray_start_argv(address, robots)
