"""The generated API token: private whatever the umask, reused across starts, replaced
only on purpose; the CLI says where it looked when it has none."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from robo_os.client import RoboOSClient
from robo_os.errors import UserError
from robo_os.settings import Settings
from robo_os.tokens import ensure_token, rotate_token, token_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_token_file_0600_in_a_0700_folder_under_umask_000(tmp_path: Path) -> None:
    state = tmp_path / "state" / "robo-os"
    old = os.umask(0)
    try:
        settings = ensure_token(Settings(state_dir=state))
        assert settings.api.token is not None
        token_file = token_path(settings)
        assert token_file.read_text().strip() == settings.api.token.get_secret_value()
        assert mode(token_file) == 0o600 and mode(state) == 0o700
        # a file and folder made too open since are tightened at the next start
        os.chmod(token_file, 0o666)
        os.chmod(state, 0o777)
        again = ensure_token(Settings(state_dir=state))
        assert mode(token_file) == 0o600 and mode(state) == 0o700
        assert again.api.token == settings.api.token  # reused, not replaced
    finally:
        os.umask(old)


def test_rotate_replaces_the_token_and_the_next_start_uses_it(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "s")
    first = ensure_token(settings).api.token
    new = rotate_token(settings)
    assert first is not None and new != first.get_secret_value()
    assert ensure_token(settings).api.token.get_secret_value() == new  # type: ignore[union-attr]
    assert mode(token_path(settings)) == 0o600


def test_no_file_when_a_token_is_configured(tmp_path: Path) -> None:
    ensure_token(Settings(state_dir=tmp_path / "s", api={"token": "t" * 20}))
    assert not (tmp_path / "s").exists()


def test_the_client_names_where_it_looked_for_a_token(tmp_path: Path) -> None:
    import httpx

    settings = Settings(state_dir=tmp_path / "nowhere")

    def answer(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "missing bearer token"}})

    client = RoboOSClient.from_settings(settings)
    client._http = httpx.Client(base_url=client.base_url, transport=httpx.MockTransport(answer))
    with pytest.raises(UserError) as e:
        client.tasks()
    assert str(token_path(settings)) in str(e.value) and "ROBO_OS_API__TOKEN" in str(e.value)
