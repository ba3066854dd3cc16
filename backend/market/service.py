"""Market data services: the ticker universe and idempotent price ingestion with indicators."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import calendar_days_back
from backend.core.errors import NotFound
from backend.core.settings import get_settings
from backend.db.base import table_of
from backend.db.timeseries import ticker_range
from backend.db.upsert import UpsertResult, bulk_upsert, dialect_insert, frame_records
from backend.market.indicators import compute_indicators
from backend.market.models import BAR_COLUMNS, INDICATOR_COLUMNS, StockPrice, Ticker, WatchlistEntry
from backend.market.providers import PriceBatch
from backend.market.symbols import TickerInfo, index_universe

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("ticker", "trade_date", *BAR_COLUMNS, *INDICATOR_COLUMNS, "source")
Progress = Callable[[int], None]


async def seed_universe(*, session: AsyncSession, infos: Iterable[TickerInfo] | None = None) -> int:
    """Upsert S&P 500 / NASDAQ-100 names with sector data; keeps each ticker's source and active flag."""
    rows = [
        {
            "symbol": t.symbol,
            "name": t.name,
            "sector": t.sector,
            "industry": t.industry,
            "exchange": t.exchange,
            "source": "seed",
            "active": True,
        }
        for t in (infos if infos is not None else index_universe())
    ]
    if not rows:
        return 0
    stmt = dialect_insert(session, table_of(Ticker))
    stmt = stmt.on_conflict_do_update(
        index_elements=["symbol"],
        set_={
            c: func.coalesce(stmt.excluded[c], table_of(Ticker).c[c])
            for c in ("name", "sector", "industry", "exchange")
        },
    )
    await session.execute(stmt, rows)
    return len(rows)


async def ensure_tickers(*, session: AsyncSession, symbols: Iterable[str], source: str) -> None:
    """Make sure every symbol has a `tickers` row (new ones get `source`); existing rows are untouched."""
    rows = [{"symbol": s, "source": source, "active": True} for s in sorted(set(symbols))]
    if rows:
        stmt = dialect_insert(session, table_of(Ticker)).on_conflict_do_nothing(index_elements=["symbol"])
        await session.execute(stmt, rows)


async def known_symbols(*, session: AsyncSession) -> set[str]:
    """Every ticker symbol in the database."""
    return set((await session.scalars(select(Ticker.symbol))).all())


async def get_ticker(*, session: AsyncSession, symbol: str) -> Ticker | None:
    return await session.get(Ticker, symbol)


async def sectors(*, session: AsyncSession, tickers: Sequence[str]) -> dict[str, str | None]:
    """Each ticker's sector (None where unknown), for the risk manager's sector cap."""
    rows = await session.execute(select(Ticker.symbol, Ticker.sector).where(Ticker.symbol.in_(list(tickers))))
    return {symbol: sector for symbol, sector in rows.all()}


async def load_bars(
    *,
    session: AsyncSession,
    tickers: Sequence[str],
    start: date | None = None,
    end: date | None = None,
    columns: Sequence[str] = PRICE_COLUMNS,
) -> pd.DataFrame:
    """Stored bars (and indicators) for `tickers` (all when empty) from `start` to `end`, oldest first."""
    query = ticker_range(table_of(StockPrice), columns, tickers=tickers, start=start, end=end)
    rows = (await session.execute(query)).all()
    # Column-wise construction with known dtypes: several times faster than DataFrame(list_of_rows).
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame(
        {
            name: pd.Series(col, dtype=_DTYPES.get(name, "float64"))
            for name, col in zip(columns, values, strict=True)
        }
    )


_DTYPES = {"ticker": "object", "trade_date": "object", "source": "object", "volume": "int64"}


async def newest_date(*, session: AsyncSession) -> date | None:
    """The newest trading date with any stored bar."""
    return await session.scalar(select(func.max(StockPrice.trade_date)))


async def bar_counts(
    *, session: AsyncSession, tickers: Sequence[str], end: date | None = None
) -> dict[str, int]:
    """Number of stored bars per ticker up to `end` (all tickers when empty)."""
    table = table_of(StockPrice)
    query = select(table.c.ticker, func.count()).group_by(table.c.ticker)
    if tickers:
        query = query.where(table.c.ticker.in_(list(tickers)))
    if end is not None:
        query = query.where(table.c.trade_date <= end)
    return {ticker: int(n) for ticker, n in (await session.execute(query)).all()}


async def ingest(
    *,
    session: AsyncSession,
    batch: PriceBatch,
    ticker_source: str = "import",
    progress: Progress | None = None,
) -> UpsertResult:
    """Store a provider's bars with indicators; idempotent by (ticker, trade_date).

    Stored bars before each ticker's earliest new bar supply the indicator lookback (so SMA 200 and the
    EMAs are right for an incremental day), and stored bars after it are recomputed, since a corrected
    bar changes the indicators of every later day.

    Returns:
        Inserted / updated / unchanged counts per ticker.
    """
    new = batch.bars
    if new.empty:
        return UpsertResult()
    await ensure_tickers(session=session, symbols=new["ticker"].unique(), source=ticker_source)
    lookback = get_settings().market.indicator_lookback_bars
    first_new = new.groupby("ticker")["trade_date"].min()
    stored = await load_bars(
        session=session,
        tickers=list(first_new.index),
        start=calendar_days_back(first_new.min(), lookback),
        columns=("ticker", "trade_date", *BAR_COLUMNS),
    )
    stored_by_ticker = dict(list(stored.groupby("ticker", sort=False)))

    frames = []
    for ticker, fresh in new.groupby("ticker", sort=True):
        old = stored_by_ticker.get(ticker, stored.iloc[:0])
        bars = (
            pd.concat([old, fresh], ignore_index=True)
            .drop_duplicates(subset="trade_date", keep="last")  # the new bar wins
            .sort_values("trade_date", ignore_index=True)
        )
        since = first_new[ticker]
        start_at = max(0, int(np.searchsorted(bars["trade_date"].to_numpy(), since)) - lookback)
        bars = bars.iloc[start_at:].reset_index(drop=True)
        bars[list(INDICATOR_COLUMNS)] = compute_indicators(bars)
        frames.append(bars[bars["trade_date"] >= since])
        if progress:
            progress(1)
    rows = pd.concat(frames, ignore_index=True)
    rows["source"] = batch.source
    rows["volume"] = rows["volume"].astype("int64")
    return await bulk_upsert(
        session=session,
        table=table_of(StockPrice),
        columns=PRICE_COLUMNS,
        rows=frame_records(rows, PRICE_COLUMNS),
        key=("ticker", "trade_date"),
        group_by="ticker",
    )


# --- reads for the API and the dashboard --------------------------------------------------------------


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally (user input: % and _ are not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_tickers(
    *,
    session: AsyncSession,
    query: str | None = None,
    watchlist_only: bool = False,
    after: str | None = None,
    limit: int = 100,
) -> list[Ticker]:
    """Tickers by symbol; `query` matches the symbol or the name (case-insensitive), `after` is the cursor."""
    stmt = select(Ticker).order_by(Ticker.symbol)
    if query:
        pattern = _like(query.strip().lower())
        stmt = stmt.where(
            func.lower(Ticker.symbol).like(pattern, escape="\\")
            | func.lower(func.coalesce(Ticker.name, "")).like(pattern, escape="\\")
        )
    if watchlist_only:
        stmt = stmt.where(Ticker.symbol.in_(select(WatchlistEntry.ticker)))
    if after is not None:
        stmt = stmt.where(Ticker.symbol > after)
    return list((await session.scalars(stmt.limit(limit))).all())


async def require_ticker(*, session: AsyncSession, symbol: str) -> Ticker:
    """The ticker, or NotFound that names it."""
    ticker = await session.get(Ticker, symbol.upper())
    if ticker is None:
        raise NotFound(f"unknown ticker {symbol.upper()!r}: GET /api/v1/tickers?q=... lists the known ones")
    return ticker


async def watchlisted(*, session: AsyncSession, symbols: Sequence[str]) -> set[str]:
    rows = await session.scalars(
        select(WatchlistEntry.ticker).where(WatchlistEntry.ticker.in_(list(symbols)))
    )
    return set(rows.all())


async def add_to_watchlist(*, session: AsyncSession, symbol: str) -> bool:
    """Put a known ticker on the watchlist; True if it was not on it (idempotent)."""
    ticker = await require_ticker(session=session, symbol=symbol)
    stmt = (
        dialect_insert(session, table_of(WatchlistEntry))
        .values(ticker=ticker.symbol)
        .on_conflict_do_nothing(index_elements=["ticker"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def remove_from_watchlist(*, session: AsyncSession, symbol: str) -> bool:
    """Take a ticker off the watchlist; True if it was on it."""
    result = await session.execute(delete(WatchlistEntry).where(WatchlistEntry.ticker == symbol.upper()))
    return bool(getattr(result, "rowcount", 0))


async def latest_bar(*, session: AsyncSession, symbol: str) -> StockPrice | None:
    stmt = select(StockPrice).where(StockPrice.ticker == symbol).order_by(StockPrice.trade_date.desc())
    return await session.scalar(stmt.limit(1))


async def bars(
    *,
    session: AsyncSession,
    symbol: str,
    start: date | None = None,
    end: date | None = None,
    after: date | None = None,
    limit: int = 500,
) -> list[StockPrice]:
    """A ticker's daily bars with indicators, oldest first, from `start` to `end` after the cursor date."""
    stmt = select(StockPrice).where(StockPrice.ticker == symbol)
    if start is not None:
        stmt = stmt.where(StockPrice.trade_date >= start)
    if end is not None:
        stmt = stmt.where(StockPrice.trade_date <= end)
    if after is not None:
        stmt = stmt.where(StockPrice.trade_date > after)
    return list((await session.scalars(stmt.order_by(StockPrice.trade_date).limit(limit))).all())
