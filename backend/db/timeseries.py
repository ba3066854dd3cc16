"""The query every per-(ticker, trade_date) table shares: some columns for some tickers over a date range."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, Table, select


def ticker_range(
    table: Table,
    columns: Sequence[str],
    *,
    tickers: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
) -> Select[Any]:
    """SELECT `columns` for `tickers` (all when empty) with `start` <= trade_date <= `end`, oldest first."""
    query = select(*(table.c[c] for c in columns))
    if tickers:
        query = query.where(table.c.ticker.in_(list(tickers)))
    if start is not None:
        query = query.where(table.c.trade_date >= start)
    if end is not None:
        query = query.where(table.c.trade_date <= end)
    return query.order_by(table.c.ticker, table.c.trade_date)
