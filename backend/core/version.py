"""The installed package's version (API, health, CLI)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def app_version() -> str:
    try:
        return version("tft-trader")
    except PackageNotFoundError:  # pragma: no cover - a bare checkout without an install
        return "0.0.0"
