"""The driver registry: installed `robo_os.drivers` entry points (loaded on first use,
a broken one reported whole), `package.module:Class` paths, unknown names, and the
cerebellum's independence from the simulator."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import robo_os.cerebellum
from robo_os.cerebellum.drivers import (
    ENTRY_POINT_GROUP,
    DriverRegistry,
    DriverResources,
    build_robot,
    default_drivers,
)
from robo_os.errors import ConfigError
from robo_os.fleet import RobotConfig
from robo_os.testing import FakeRobot

PLUGIN = """
from robo_os.testing import FakeRobot


def factory(config, resources):
    return FakeRobot(config.id, embodiment=config.embodiment, place=config.at)


def not_a_robot(config, resources):
    return object()


NOT_A_FACTORY = 42


class Driver:
    def __init__(self, config):
        self.robot = FakeRobot(config.id)

    def __getattr__(self, name):
        return getattr(self.robot, name)


class Inert:
    def __init__(self, config):
        self.config = config


class Grumpy:
    def __init__(self, config):
        raise RuntimeError("no robot on the serial port")
"""

Install = Callable[[dict[str, str]], str]
"""entry point name -> object reference within the plug-in module; returns the module."""


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install a distribution offering `robo_os.drivers` entry points: a dist-info
    folder and its module on sys.path, which is what `importlib.metadata` reads."""
    modules: list[str] = []

    def make(points: dict[str, str]) -> str:
        module = f"driver_plugin_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(PLUGIN)
        (tmp_path / f"{module}_broken.py").write_text('raise ImportError("libfoo.so missing")\n')
        dist = tmp_path / f"{module}-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
        lines = "\n".join(f"{name} = {ref.format(module=module)}" for name, ref in points.items())
        (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}\n")
        modules.extend((module, f"{module}_broken"))
        return module

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for module in modules:
        sys.modules.pop(module, None)


def _config(driver: str) -> RobotConfig:
    return RobotConfig(id="r1", embodiment="rover", driver=driver, at="kitchen")


def test_installed_drivers_are_found_and_loaded_on_first_use(install: Install) -> None:
    module = install({"rover": "{module}:factory"})
    registry = default_drivers()
    assert {"sim", "rover"} <= set(registry.names)
    assert module not in sys.modules  # listed, not imported
    robot = registry.build(_config("rover"))
    assert isinstance(robot, FakeRobot) and robot.id == "r1"
    assert registry.factory("rover") is sys.modules[module].factory


def test_a_broken_driver_is_reported_and_the_others_still_load(install: Install) -> None:
    install(
        {
            "rover": "{module}:factory",
            "broken": "{module}_broken:factory",
            "typo": "{module}:no_such_factory",
            "number": "{module}:NOT_A_FACTORY",
            "liar": "{module}:not_a_robot",
        }
    )
    registry = default_drivers()
    with pytest.raises(
        ConfigError,
        match=r"driver 'broken' \(entry point robo_os.drivers: broken = driver_plugin_\w+_broken:factory\) cannot be loaded: ImportError: libfoo.so missing",
    ):
        registry.build(_config("broken"))
    with pytest.raises(ConfigError, match=r"driver 'typo' .* cannot be loaded: AttributeError"):
        registry.build(_config("typo"))
    with pytest.raises(ConfigError, match=r"driver 'number' .* is not a driver factory: 42"):
        registry.build(_config("number"))
    with pytest.raises(
        ConfigError, match="robot 'r1': 'liar' does not implement the Robot protocol"
    ):
        registry.build(_config("liar"))
    assert isinstance(registry.build(_config("rover")), FakeRobot)


def test_import_paths_are_resolved(install: Install) -> None:
    module = install({})
    robot = build_robot(_config(f"{module}:Driver"))
    assert robot.id == "r1"
    with pytest.raises(ConfigError, match="cannot import driver 'no_such_module:Driver'"):
        build_robot(_config("no_such_module:Driver"))
    with pytest.raises(ConfigError, match=f"cannot import driver '{module}:Nope'"):
        build_robot(_config(f"{module}:Nope"))
    with pytest.raises(ConfigError, match="failed to start: no robot on the serial port"):
        build_robot(_config(f"{module}:Grumpy"))
    with pytest.raises(ConfigError, match="does not implement the Robot protocol"):
        build_robot(_config(f"{module}:Inert"))


def test_unknown_driver_names_get_suggestions() -> None:
    with pytest.raises(
        ConfigError, match=r"robot 'r1': unknown driver 'simm'; did you mean 'sim'\?"
    ):
        build_robot(_config("simm"))
    registry = DriverRegistry({"rover": lambda config, resources: FakeRobot(config.id)})
    with pytest.raises(ConfigError, match="did you mean 'rover'") as info:
        registry.build(_config("rovr"))
    assert "package.module:Class" in str(info.value)
    assert "sim" not in registry.names  # no group: installed drivers are not consulted


def test_registries_are_independent_instances() -> None:
    one, two = default_drivers(), default_drivers()
    one.register("rover", lambda config, resources: FakeRobot(config.id))
    assert "rover" in one.names and "rover" not in two.names
    seen: list[DriverResources] = []

    def factory(config: RobotConfig, resources: DriverResources) -> FakeRobot:
        seen.append(resources)
        return FakeRobot(config.id)

    one.register("spy", factory)
    build_robot(_config("spy"), world="the-world", registry=one)
    assert seen[0].world == "the-world"


def test_the_sim_driver_is_an_entry_point() -> None:
    from robo_os.sim.robot import sim_driver

    registry = default_drivers()
    assert registry.factory("sim") is sim_driver
    with pytest.raises(ConfigError, match="no simulated world was given"):
        registry.build(_config("sim"))


def test_the_cerebellum_does_not_import_the_simulator() -> None:
    package = Path(robo_os.cerebellum.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                sep = "" if name.endswith(".") else "."
                names = [name] + [f"{name}{sep}{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n.startswith(("..sim", "robo_os.sim")) for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
    # listing the installed drivers names the sim driver without importing the simulator
    code = textwrap.dedent(
        """
        import sys
        from robo_os.cerebellum.drivers import default_drivers
        assert "sim" in default_drivers().names
        assert "robo_os.sim" not in sys.modules, "robo_os.sim imported"
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
