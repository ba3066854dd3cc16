"""Cursor pagination: `limit` (1-500) and an opaque `cursor` (base64url JSON of the last row's sort key)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from backend.api.errors import ApiError

T = TypeVar("T")
MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size (1-500)")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first page"),
]


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class MoneyPage(Page[T], Generic[T]):
    """A page whose amounts are in `currency`."""

    currency: str = "USD"


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, date) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The sort key in a cursor as `types`; a 400 in the error shape when it was tampered with."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong arity")
        return tuple(
            date.fromisoformat(v) if t is date else _checked(t, v) for t, v in zip(types, values, strict=True)
        )
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            400,
            "cursor is not one this API issued: pass `next_cursor` from the previous page unchanged",
            code="bad_cursor",
        ) from None


def _checked(kind: type, value: Any) -> Any:
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError("not an int")
    if kind is str and not isinstance(value, str):
        raise TypeError("not a str")
    if kind is float and not isinstance(value, (int, float)):
        raise TypeError("not a number")
    return value


def page(items: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Trim a `limit + 1` fetch to `limit` items and the cursor after the last one (`key(item)` -> tuple)."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_cursor(*key(items[-1]))
