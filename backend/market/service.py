"""Market data services: the ticker universe and idempotent price ingestion with indicators."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import calendar_days_back, last_settled_session
from backend.core.errors import NotFound, ValidationFailed
from backend.core.settings import get_settings
from backend.db.base import table_of
from backend.db.timeseries import ticker_range
from backend.db.upsert import UpsertResult, bulk_upsert, dialect_insert, frame_records
from backend.market import quality, splits
from backend.market.indicators import compute_indicators
from backend.market.models import BAR_COLUMNS, INDICATOR_COLUMNS, StockPrice, Ticker, WatchlistEntry
from backend.market.providers import PriceBatch
from backend.market.symbols import TickerInfo
from backend.market.universe import bundled_universe

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("ticker", "trade_date", *BAR_COLUMNS, *INDICATOR_COLUMNS, "source")
Progress = Callable[[int], None]
# Providers that re-base their whole history after each split and dividend (so overlaps reveal it).
REBASING_SOURCES = frozenset({"yahoo"})


UNIVERSE_COLUMNS = ("name", "sector", "industry", "exchange", "market_cap", "asset_type")
_UPSERT_CHUNK = 1000


@dataclass
class SeedResult:
    inserted: int = 0
    updated: int = 0
    skipped: int = 0  # listing rows that are no share (warrants, units, rights, preferreds, notes)

    @property
    def total(self) -> int:
        return self.inserted + self.updated


@dataclass
class RefreshResult:
    listed: int = 0
    added: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def _info_row(t: TickerInfo) -> dict[str, object]:
    return {
        "symbol": t.symbol,
        "name": t.name,
        "sector": t.sector,
        "industry": t.industry,
        "exchange": t.exchange,
        "market_cap": t.market_cap,
        "asset_type": t.asset_type,
        "source": "seed",
        "active": True,
    }


async def seed_universe(
    *,
    session: AsyncSession,
    infos: Iterable[TickerInfo] | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Upsert the bundled US listing and ETFs (or `infos`); idempotent by symbol.

    Existing rows keep their source and active flag; a column the new data leaves empty keeps its value.
    """
    result = SeedResult()
    if infos is None:
        infos, result.skipped = bundled_universe()
    rows = [_info_row(t) for t in infos]
    if not rows:
        return result
    table = table_of(Ticker)
    existing = set((await session.scalars(select(Ticker.symbol))).all())
    result.updated = sum(r["symbol"] in existing for r in rows)
    result.inserted = len(rows) - result.updated
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["symbol"],
        set_={c: func.coalesce(stmt.excluded[c], table.c[c]) for c in UNIVERSE_COLUMNS},
    )
    for i in range(0, len(rows), _UPSERT_CHUNK):
        chunk = rows[i : i + _UPSERT_CHUNK]
        await session.execute(stmt, chunk)
        if progress:
            progress(len(chunk))
    return result


async def refresh_universe(
    *, session: AsyncSession, listings: Sequence[TickerInfo], max_deactivate_share: float | None = None
) -> RefreshResult:
    """Bring the universe in line with the exchanges' directories.

    New shares are added (source "seed"); listed ones are updated and re-activated; seeded symbols the
    directories no longer list are marked inactive, never deleted (their prices and mentions stay). ETFs
    are updated when already known (the curated list or a user's), not added wholesale: thousands of
    obscure funds with word-like symbols would only feed false ticker mentions.

    Raises:
        ValidationFailed: the refresh would deactivate more than `max_deactivate_share` of the active
            seeded universe (a wrong or partial file); nothing is written.
    """
    limit = max_deactivate_share
    if limit is None:
        limit = get_settings().universe.max_deactivate_share
    table = table_of(Ticker)
    current = {
        symbol: (active, source)
        for symbol, active, source in (
            await session.execute(select(Ticker.symbol, Ticker.active, Ticker.source))
        ).all()
    }
    listed = {t.symbol: t for t in listings if t.asset_type == "stock" or t.symbol in current}
    result = RefreshResult(listed=len(listed))
    active_seeded = [s for s, (active, source) in current.items() if active and source == "seed"]
    result.deactivated = sorted(s for s in active_seeded if s not in listed)
    if active_seeded and len(result.deactivated) > limit * len(active_seeded):
        raise ValidationFailed(
            f"the symbol directories would delist {len(result.deactivated):,} of {len(active_seeded):,} "
            f"active tickers (limit {limit:.0%}): refusing a partial or wrong file; nothing was changed"
        )
    result.added = sorted(s for s in listed if s not in current)
    result.reactivated = sorted(s for s in listed if s in current and not current[s][0])

    rows = [
        {"symbol": t.symbol, "name": t.name, "exchange": t.exchange, "asset_type": t.asset_type}
        | {"source": "seed", "active": True}
        for t in listed.values()
    ]
    if rows:
        stmt = dialect_insert(session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["symbol"],
            set_={
                "name": func.coalesce(stmt.excluded.name, table.c.name),
                "exchange": stmt.excluded.exchange,
                "asset_type": stmt.excluded.asset_type,
                "active": true(),
            },
        )
        for i in range(0, len(rows), _UPSERT_CHUNK):
            await session.execute(stmt, rows[i : i + _UPSERT_CHUNK])
    for i in range(0, len(result.deactivated), _UPSERT_CHUNK):
        chunk = result.deactivated[i : i + _UPSERT_CHUNK]
        await session.execute(update(table).where(table.c.symbol.in_(chunk)).values(active=False))
    return result


async def ensure_tickers(*, session: AsyncSession, symbols: Iterable[str], source: str) -> None:
    """Make sure every symbol has a `tickers` row (new ones get `source`); existing rows are untouched."""
    rows = [{"symbol": s, "source": source, "active": True} for s in sorted(set(symbols))]
    if rows:
        stmt = dialect_insert(session, table_of(Ticker)).on_conflict_do_nothing(index_elements=["symbol"])
        await session.execute(stmt, rows)


async def known_symbols(*, session: AsyncSession) -> set[str]:
    """Every active ticker symbol in the database."""
    return set((await session.scalars(select(Ticker.symbol).where(Ticker.active))).all())


async def mention_profiles(*, session: AsyncSession) -> list[tuple[str, float | None, str | None]]:
    """(symbol, market cap, asset type) of every active ticker: what ticker extraction needs."""
    query = select(Ticker.symbol, Ticker.market_cap, Ticker.asset_type).where(Ticker.active)
    rows = await session.execute(query)
    return [(s, cap, kind) for s, cap, kind in rows.all()]


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


# Set by `bar_counts_once`: the counts taken in the block, by (tickers, end); () stands for every ticker.
_COUNTED: ContextVar[dict[tuple[tuple[str, ...], date | None], dict[str, int]] | None] = ContextVar(
    "bar_counts", default=None
)


@contextmanager
def bar_counts_once() -> Iterator[None]:
    """Within the block, `bar_counts` asks the database once per question (tickers, end) and answers a
    repeat, or any tickers once every ticker was counted for that `end`, from memory.

    For a flow that asks several times over prices that do not change under it: the features, predictions
    and signals steps run after the day's prices are stored and ask 2 or 3 times each; counting every
    ticker scans the price table (~25-70 ms for 500 tickers x 600 sessions, growing with the history).
    Not for a block that stores prices.
    """
    token = _COUNTED.set({})
    try:
        yield
    finally:
        _COUNTED.reset(token)


async def bar_counts(
    *, session: AsyncSession, tickers: Sequence[str], end: date | None = None
) -> dict[str, int]:
    """Number of stored bars per ticker up to `end` (all tickers when empty)."""
    counted = _COUNTED.get()
    if counted is None:
        return await _count_bars(session=session, tickers=tickers, end=end)
    every = counted.get(((), end))
    if every is not None and tickers:
        return {t: every[t] for t in tickers if t in every}
    key = (tuple(sorted(set(tickers))), end)
    if key not in counted:
        counted[key] = await _count_bars(session=session, tickers=tickers, end=end)
    return dict(counted[key])


async def _count_bars(*, session: AsyncSession, tickers: Sequence[str], end: date | None) -> dict[str, int]:
    table = table_of(StockPrice)
    query = select(table.c.ticker, func.count()).group_by(table.c.ticker)
    if tickers:
        query = query.where(table.c.ticker.in_(list(tickers)))
    if end is not None:
        query = query.where(table.c.trade_date <= end)
    return {ticker: int(n) for ticker, n in (await session.execute(query)).all()}


async def last_update(
    *, session: AsyncSession, tickers: Sequence[str], start: date, end: date
) -> datetime | None:
    """When a bar of `tickers` from `start` to `end` was last written (None when there is none)."""
    table = table_of(StockPrice)
    query = select(func.max(table.c.updated_at)).where(
        table.c.ticker.in_(list(tickers)), table.c.trade_date >= start, table.c.trade_date <= end
    )
    value: datetime | None = await session.scalar(query)
    return value


@dataclass
class IngestResult(UpsertResult):
    """Upsert counts per ticker, plus what the data-quality check and the split handling did."""

    flags: dict[str, int] = field(default_factory=dict)  # new or still-present flags by kind
    new_splits: int = 0
    rescaled: dict[str, str] = field(default_factory=dict)  # ticker -> how its stored history moved


async def ingest(
    *,
    session: AsyncSession,
    batch: PriceBatch,
    ticker_source: str = "import",
    progress: Progress | None = None,
) -> IngestResult:
    """Store a provider's bars with indicators; idempotent by (ticker, trade_date).

    Split events in the batch are recorded first. Stored bars before each ticker's earliest new bar
    supply the indicator lookback (so SMA 200 and the EMAs are right for an incremental day), and stored
    bars after it are recomputed, since a corrected bar changes the indicators of every later day. When a
    Yahoo fetch shows its history was re-based (a new split or dividend), the ticker's whole stored
    history is brought onto the new scale and recomputed in the same transaction, so two price scales are
    never joined. Every stored range is then run through the data-quality check.

    Returns:
        Inserted / updated / unchanged counts per ticker, flags by kind, rescaled tickers.
    """
    new = batch.bars
    if new.empty:
        return IngestResult()
    await ensure_tickers(session=session, symbols=new["ticker"].unique(), source=ticker_source)
    fresh_events = await splits.record_splits(session=session, splits=batch.splits, source=batch.source)
    tickers = sorted(new["ticker"].unique())
    events = await splits.load_splits(session=session, tickers=tickers)
    excluded = await quality.excluded_days(session=session, tickers=tickers)
    lookback = get_settings().market.indicator_lookback_bars
    first_new = new.groupby("ticker")["trade_date"].min()
    stored = await load_bars(
        session=session,
        tickers=list(first_new.index),
        start=calendar_days_back(first_new.min(), lookback),
        columns=("ticker", "trade_date", *BAR_COLUMNS),
    )
    stored_by_ticker = dict(list(stored.groupby("ticker", sort=False)))
    fresh_by_ticker = dict(list(fresh_events.groupby("ticker", sort=False)))

    result = IngestResult(new_splits=len(fresh_events))
    frames, checked, implied = [], [], []
    first_checked: dict[str, date] = {}
    ranges: dict[str, tuple[date, date]] = {}
    for key, fresh in new.groupby("ticker", sort=True):
        ticker = str(key)
        old = stored_by_ticker.get(ticker, stored.iloc[:0])
        since = first_new[ticker]
        if batch.source in REBASING_SOURCES and not old.empty:
            rescale = splits.detect_rescale(old, fresh, fresh_by_ticker.get(ticker, fresh_events.iloc[:0]))
            if rescale.needed:
                # The whole stored history moves, not just the lookback: load it all and rewrite it all.
                full = await load_bars(
                    session=session, tickers=[ticker], columns=("ticker", "trade_date", *BAR_COLUMNS)
                )
                old = rescale.apply(full[~full["trade_date"].isin(set(fresh["trade_date"]))])
                since = old["trade_date"].min()
                result.rescaled[ticker] = rescale.describe()
                log.info("%s: stored history re-based to the fresh fetch (%s)", ticker, rescale.describe())
        bars = (
            pd.concat([old, fresh], ignore_index=True)
            .drop_duplicates(subset="trade_date", keep="last")  # the new bar wins
            .sort_values("trade_date", ignore_index=True)
        )
        start_at = max(0, int(np.searchsorted(bars["trade_date"].to_numpy(), since)) - lookback)
        bars = bars.iloc[start_at:].reset_index(drop=True)
        bars[list(INDICATOR_COLUMNS)] = indicators_without(bars, excluded)
        frames.append(bars[bars["trade_date"] >= since])
        if batch.source not in REBASING_SOURCES:
            found = splits.events_from_adjusted(bars)
            implied.append(found[found["ex_date"] >= since])
        # Judge the new rows and the stored row before them (a spike needs its neighbours).
        checked_from = int(max(0, np.searchsorted(bars["trade_date"].to_numpy(), since) - 1))
        checked.append(bars.iloc[max(0, checked_from - 1) :][list(quality.CHECKED_COLUMNS)])
        first_checked[ticker] = bars["trade_date"].iloc[checked_from]
        if not old.empty:
            ranges[ticker] = (first_checked[ticker], bars["trade_date"].iloc[-1])
        if progress:
            progress(1)
    rows = pd.concat(frames, ignore_index=True)
    rows["source"] = batch.source
    rows["volume"] = rows["volume"].astype("int64")
    upserted = await bulk_upsert(
        session=session,
        table=table_of(StockPrice),
        columns=PRICE_COLUMNS,
        rows=frame_records(rows, PRICE_COLUMNS),
        key=("ticker", "trade_date"),
        group_by="ticker",
    )
    result.by_group = upserted.by_group
    implied_events = pd.concat(implied, ignore_index=True) if implied else pd.DataFrame()
    if not implied_events.empty:
        recorded = await splits.record_splits(session=session, splits=implied_events, source="adj_close")
        result.new_splits += len(recorded)
        events = pd.concat([events, recorded], ignore_index=True)
    # One check over every ticker's window: per-ticker calls cost more in pandas overhead than in work.
    flags = quality.check_bars(
        pd.concat(checked, ignore_index=True), events, spike_pct=get_settings().prices.spike_pct
    )
    flags = flags[flags["trade_date"].to_numpy() >= flags["ticker"].map(first_checked).to_numpy()]
    await quality.replace_flags(session=session, flags=flags, ranges=ranges)
    if not flags.empty:
        result.flags = {str(k): int(n) for k, n in flags["kind"].value_counts().sort_index().items()}
    return result


def indicators_without(bars: pd.DataFrame, excluded: set[tuple[str, date]]) -> pd.DataFrame:
    """Indicators of one ticker's bars computed without the excluded rows (which get none)."""
    if not excluded:
        return compute_indicators(bars)
    keep = np.array([(t, d) not in excluded for t, d in zip(bars["ticker"], bars["trade_date"], strict=True)])
    out = pd.DataFrame(np.nan, index=bars.index, columns=list(INDICATOR_COLUMNS))
    if keep.any():
        out.loc[keep] = compute_indicators(bars[keep].reset_index(drop=True)).to_numpy()
    return out


async def rewrite_history(
    *, session: AsyncSession, ticker: str, transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> UpsertResult:
    """Reload one ticker's stored bars, optionally transform them, recompute every indicator (without the
    excluded rows) and store the result: after a declared split, an exclusion or an inclusion."""
    bars = await load_bars(
        session=session, tickers=[ticker], columns=("ticker", "trade_date", *BAR_COLUMNS, "source")
    )
    if bars.empty:
        return UpsertResult()
    if transform is not None:
        bars = transform(bars)
    excluded = await quality.excluded_days(session=session, tickers=[ticker])
    bars[list(INDICATOR_COLUMNS)] = indicators_without(bars, excluded)
    return await bulk_upsert(
        session=session,
        table=table_of(StockPrice),
        columns=PRICE_COLUMNS,
        rows=frame_records(bars, PRICE_COLUMNS),
        key=("ticker", "trade_date"),
        group_by="ticker",
    )


async def load_usable_bars(
    *,
    session: AsyncSession,
    tickers: Sequence[str],
    start: date | None = None,
    end: date | None = None,
    columns: Sequence[str] = PRICE_COLUMNS,
) -> pd.DataFrame:
    """`load_bars` for features, training and the paper book: the bars the user excluded are left out,
    and `split_ratio` says which rows a split took effect on (from the split events, 1.0 elsewhere).
    `columns` must include ticker and trade_date."""
    bars = await load_bars(session=session, tickers=tickers, start=start, end=end, columns=columns)
    excluded = await quality.excluded_days(session=session, tickers=tickers)
    if excluded and not bars.empty:
        drop = [(t, d) in excluded for t, d in zip(bars["ticker"], bars["trade_date"], strict=True)]
        bars = bars[~np.array(drop)].reset_index(drop=True)
    events = await splits.load_splits(session=session, tickers=tickers)
    bars["split_ratio"] = splits.ratio_on_date(bars, events).to_numpy()
    return bars


async def default_as_of(*, session: AsyncSession, now: datetime | None = None) -> date:
    """The date `train`, `predict`, `check` and the pipeline work on when none is given: the newest stored
    session, never one that has not closed and settled (`PRICES__SETTLE_MINUTES` after the close)."""
    settled = last_settled_session(now)
    newest = await session.scalar(
        select(func.max(StockPrice.trade_date)).where(StockPrice.trade_date <= settled)
    )
    return newest or settled


# Tickers the after-close fetch refreshes: what the user chose or imported, Reddit's trending names and the
# bundled sample. The seeded index list is the known universe, not a fetch list (600 names a day for nothing).
FETCH_SOURCES = ("watchlist", "trending", "import", "sample")


async def fetch_universe(*, session: AsyncSession, extra: Iterable[str] = ()) -> list[str]:
    """The after-close price universe: the watchlist table, tickers the user fetched (`watchlist` source),
    trending, imported and sample tickers, the market index
    and `extra` (the portfolio's holdings, which must keep their prices even if no longer watched)."""
    rows = await session.scalars(
        select(Ticker.symbol).where(Ticker.source.in_(FETCH_SOURCES), Ticker.active.is_(True))
    )
    watched = await session.scalars(select(WatchlistEntry.ticker))  # the API's and dashboard's watchlist
    return sorted({*rows.all(), *watched.all(), get_settings().features.market_index, *extra})


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
