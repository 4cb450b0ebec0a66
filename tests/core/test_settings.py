"""Settings: environment (ROBO_OS_*, nested with __), the YAML file's settings section,
precedence, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from robo_os.errors import ConfigError
from robo_os.fleet import load_fleet
from robo_os.settings import Settings, load_settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ROBO_OS_REDIS__URL", "ROBO_OS_LLM__BASE_URL", "ROBO_OS_API__PORT"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.redis.url is None  # robo-os up starts its own Redis
    assert s.llm.enabled is False  # the embedded planner plans
    assert (s.api.host, s.api.port) == ("127.0.0.1", 8000)
    assert s.api.auth is True


def test_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBO_OS_REDIS__URL", "rediss://user:pw@redis.example:6380/2")
    monkeypatch.setenv("ROBO_OS_LLM__BASE_URL", "http://vllm:8000/v1")
    monkeypatch.setenv("ROBO_OS_LLM__MODEL", "RoboBrain2.0-7B")
    monkeypatch.setenv("ROBO_OS_LLM__API_KEY", "sk-secret")
    monkeypatch.setenv("ROBO_OS_API__PORT", "9001")
    monkeypatch.setenv("ROBO_OS_LLM__VISION", "true")
    s = Settings()
    assert s.redis.url == "rediss://user:pw@redis.example:6380/2"
    assert s.llm.base_url == "http://vllm:8000/v1"
    assert s.llm.model == "RoboBrain2.0-7B"
    assert s.llm.api_key is not None and s.llm.api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(s)
    assert s.api.port == 9001
    assert s.llm.vision is True and s.llm.enabled


def test_replicas_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBO_OS_LLM__BASE_URL", "http://a/v1")
    monkeypatch.setenv("ROBO_OS_LLM__MODEL", "m")
    monkeypatch.setenv("ROBO_OS_LLM__REPLICAS", '[{"base_url": "http://b/v1"}]')
    assert [r.base_url for r in Settings().llm.replicas] == ["http://b/v1"]


def test_bad_values_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBO_OS_API__PORT", "not-a-port")
    with pytest.raises(ConfigError, match="port"):
        load_settings()


def test_model_required_with_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBO_OS_LLM__BASE_URL", "http://vllm/v1")
    monkeypatch.delenv("ROBO_OS_LLM__MODEL", raising=False)
    with pytest.raises(ConfigError, match="MODEL"):
        load_settings()


def test_unknown_setting_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text("settings:\n  api: {prot: 1}\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(cfg)


def test_yaml_settings_section_and_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(
        "settings:\n"
        "  llm: {base_url: 'http://file/v1', model: file-model}\n"
        "  api: {port: 9100}\n"
    )
    monkeypatch.delenv("ROBO_OS_LLM__BASE_URL", raising=False)
    monkeypatch.setenv("ROBO_OS_API__PORT", "9200")
    s = load_settings(cfg)
    assert s.llm.base_url == "http://file/v1" and s.llm.model == "file-model"
    assert s.api.port == 9200  # the environment overrides the file
    assert s.fleet_file == cfg
    # a settings-only file runs the embedded household scene
    assert {r.id for r in load_fleet(cfg).robots} == {"arm1", "carrier1", "mm1"}


def test_embedded_fleet_is_valid() -> None:
    fleet = load_fleet()
    assert len(fleet.scene.places) >= 3
    assert len(fleet.scene.objects) >= 5
    assert len(fleet.robots) >= 3 and len({r.embodiment for r in fleet.robots}) >= 2


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("scene: {places: [{name: a, pose: {x: 0, y: 0}}], objects: [{name: o, type: cube, at: nowhere}]}\nrobots: []", "unknown place"),
        ("scene: {places: [{name: a, pose: {x: 0, y: 0}}, {name: a, pose: {x: 1, y: 0}}]}\nrobots: []", "unique"),
        ("scene: {places: [{name: a, pose: {x: 0, y: 0}}]}\nrobots: [{id: r, embodiment: carrier, at: b}]", "unknown place"),
        ("scene: [", "not valid YAML"),
    ],
)
def test_bad_fleet_files(tmp_path: Path, text: str, match: str) -> None:
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_fleet(cfg)
