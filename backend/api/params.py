"""Shared path and query parameters with their validation (a bad value is a 422 that names it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path, Query

from backend.api.errors import ApiError

SYMBOL_PATTERN = r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$"

Symbol = Annotated[
    str,
    Path(pattern=SYMBOL_PATTERN, description="ticker symbol, e.g. AAPL or BRK-B", examples=["AAPL"]),
]
StartDate = Annotated[date | None, Query(description="first date (ISO-8601), inclusive")]
EndDate = Annotated[date | None, Query(description="last date (ISO-8601), inclusive")]


def check_range(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise ApiError(
            422, f"start {start.isoformat()} is after end {end.isoformat()}", code="validation_error"
        )
