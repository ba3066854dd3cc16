"""The server secret API keys are hashed with.

A key is 32 random bytes, so its plain SHA-256 could not be brute-forced either; the keyed hash (HMAC with a
secret kept outside the database) adds that a copy of the database alone cannot even confirm a key it
finds in a log. Production sets `API__KEY_PEPPER` (every API host and the CLI must share it). The embedded
default generates one on first use and keeps it in `data_dir/api_key_pepper` (mode 0600), next to the
SQLite file but not in it; changing or losing it invalidates every key (create new ones).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from backend.core.errors import ValidationFailed
from backend.core.settings import Settings, get_settings

PEPPER_FILE = "api_key_pepper"
MIN_PEPPER_CHARS = 32


def pepper(settings: Settings | None = None) -> bytes:
    """The configured pepper, else the generated one in `data_dir` (created on first use)."""
    settings = settings or get_settings()
    configured = settings.api.key_pepper
    if configured:
        if len(configured) < MIN_PEPPER_CHARS:
            raise ValidationFailed(
                f"API__KEY_PEPPER has {len(configured)} characters; use at least {MIN_PEPPER_CHARS} "
                "random ones, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return configured.encode()
    if settings.environment == "production":
        raise ValidationFailed(
            "API__KEY_PEPPER is not set: production needs one shared secret for every API host and the CLI"
        )
    path = settings.data_dir / PEPPER_FILE
    if path not in _loaded:  # read once per process: verify() runs on every request
        _loaded[path] = _file_pepper(path)
    return _loaded[path]


_loaded: dict[Path, bytes] = {}


def _file_pepper(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    try:
        # O_EXCL: two processes starting together must not each write a different pepper.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value
