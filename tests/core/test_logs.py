"""JSON logs: one object per line with the record's fields, exceptions included."""

from __future__ import annotations

import io
import json
import logging

import pytest

from robo_os.logs import configure_logging
from robo_os.settings import Settings


def test_json_lines_carry_level_logger_message_and_extras() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    try:
        configure_logging("INFO", "json", out)
        log = logging.getLogger("robo_os.test")
        log.info("task %s planned", "t1", extra={"task_id": "t1", "robots": ["a"]})
        log.debug("not shown")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "ERROR"]
    first = lines[0]
    assert first["message"] == "task t1 planned" and first["logger"] == "robo_os.test"
    assert first["task_id"] == "t1" and first["robots"] == "['a']"
    assert first["ts"].endswith("+00:00")
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_is_the_default_and_json_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_format == "text"
    monkeypatch.setenv("ROBO_OS_LOG_FORMAT", "json")
    assert Settings().log_format == "json"
    monkeypatch.setenv("ROBO_OS_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()
