"""The API token `robo-os up` generates when none is configured: where it lives, and
keeping it private and stable.

The token is written once to `<state_dir>/api-token` (0600, in a 0700 folder, whatever
the umask) and reused by every later `robo-os up`, so open consoles and scripts keep
working across restarts; `robo-os token rotate` replaces it on purpose.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from .errors import ConfigError
from .settings import Settings

__all__ = ["ensure_token", "read_token", "rotate_token", "token_path", "write_private"]

log = logging.getLogger(__name__)


def token_path(settings: Settings) -> Path:
    """Where `robo-os up` keeps the API token it generated."""
    return settings.state_dir / "api-token"


def write_private(path: Path, text: str) -> None:
    """Write a secret only its owner may read: the file 0600 and its folder 0700, whatever
    the process umask (and whatever modes an earlier file or folder had)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def read_token(settings: Settings) -> str | None:
    """The configured token, else the one in the token file, else None."""
    if settings.api.token is not None:
        return settings.api.token.get_secret_value()
    path = token_path(settings)
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read the API token in {path}: {e}") from e


def rotate_token(settings: Settings) -> str:
    """Write a new token to the token file (the brain uses it from its next start)."""
    token = secrets.token_urlsafe(32)
    path = token_path(settings)
    try:
        write_private(path, token + "\n")
    except OSError as e:
        raise ConfigError(
            f"cannot write the API token to {path}: {e} (set ROBO_OS_STATE_DIR or ROBO_OS_API__TOKEN)"
        ) from e
    log.info("wrote a new API token to %s", path)
    return token


def ensure_token(settings: Settings) -> Settings:
    """With auth on and no token configured: reuse the token file's token (tightening the
    file's and folder's modes), or generate one there; the settings carry it."""
    if not settings.api.auth or settings.api.token is not None:
        return settings
    path = token_path(settings)
    token = read_token(settings)
    if token is None:
        token = rotate_token(settings)
    else:
        try:
            os.chmod(path.parent, 0o700)
            os.chmod(path, 0o600)
        except OSError as e:
            raise ConfigError(f"cannot make {path} private: {e}") from e
        log.info("using the API token in %s", path)
    return settings.model_copy(
        update={"api": settings.api.model_copy(update={"token": SecretStr(token)})}
    )
