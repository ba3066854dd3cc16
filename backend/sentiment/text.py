"""Text hygiene shared by every source of posts (Reddit, the sample feed, imports)."""

from __future__ import annotations

from typing import Any


def clean_text(value: Any) -> str:
    """Text safe to score and store: NULs (PostgreSQL rejects them) and unpaired surrogates (half an
    emoji cut by Reddit) would otherwise fail far from here."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")
