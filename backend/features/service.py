"""Feature services: gather point-in-time inputs from the database, build features, store and load them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import add_trading_days, calendar_days_back
from backend.core.errors import DataSourceError
from backend.core.settings import get_settings
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.features.build import (
    FEATURE_COLUMNS,
    FEATURE_SET_VERSION,
    add_cross_section,
    per_ticker_features,
)
from backend.features.market_index import equal_weight_index, load_sample_index
from backend.features.models import FeatureRow
from backend.market import service as market_service
from backend.sentiment import service as sentiment_service

log = logging.getLogger(__name__)

# Stored indicators already carry their own lookback (SMA 200); the features' trailing windows need at most
# 20 more sessions, and the market regime needs the index's SMA 200.
FEATURE_LOOKBACK_SESSIONS = 260
SMA_LOOKBACK = 200
# The index may lag a few days (holidays, a late fetch); beyond this it is missing, not late.
MAX_INDEX_STALENESS = timedelta(days=7)
_EQUAL_WEIGHT_WARNED: set[str] = set()


@dataclass
class FeatureInputs:
    """Everything the features read, as known at the close of `end`."""

    prices: pd.DataFrame
    sentiment: pd.DataFrame
    market: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)  # ticker -> why it has no features
    sectors: dict[str, str | None] = field(default_factory=dict)  # for sector-relative returns
    market_source: str = ""  # which index the market regime came from (see `market_index`)


def min_history_rows() -> int:
    """Bars a ticker needs before it can be used: the SMA 200 warm-up plus one LSTM sequence."""
    return SMA_LOOKBACK + get_settings().features.sequence_length


async def market_index(*, session: AsyncSession, start: date, end: date) -> pd.DataFrame:
    """The index (trade_date, close) from `start` to `end`: stored bars of `features.market_index` (SPY),
    else the bundled S&P 500 where it covers `end`, else the equal-weight index of the stored tickers.

    `frame.attrs["source"]` names the index used, for logs and reports.
    """
    symbol = get_settings().features.market_index
    stored = await market_service.load_bars(
        session=session, tickers=[symbol], start=start, end=end, columns=("trade_date", "adj_close")
    )
    if _is_current(stored, end):
        return _with_source(stored.rename(columns={"adj_close": "close"}), f"{symbol} (stored prices)")
    sample = load_sample_index()
    sample = sample[(sample["trade_date"] >= start) & (sample["trade_date"] <= end)]
    if _is_current(sample, end):
        log.info("market index: %s has no recent stored prices; using the bundled S&P 500 history", symbol)
        return _with_source(sample.reset_index(drop=True), "S&P 500 (bundled history)")
    universe = await market_service.load_bars(
        session=session, tickers=[], start=start, end=end, columns=("ticker", "trade_date", "adj_close")
    )
    universe = universe[universe["ticker"] != symbol]
    equal = equal_weight_index(universe)
    if _is_current(equal, end):
        n = universe["ticker"].nunique()
        # Once per process: a replay asks for the index every retraining, the log needs it once.
        if symbol not in _EQUAL_WEIGHT_WARNED:
            _EQUAL_WEIGHT_WARNED.add(symbol)
            log.warning(
                "market index: %s has no stored prices up to %s; the market regime uses the equal-weight "
                "index of the %d stored tickers (fetch %s for the real index)",
                symbol,
                end,
                n,
                symbol,
            )
        return _with_source(equal, f"equal-weight index of {n} stored tickers")
    raise DataSourceError(
        f"no market index prices up to {end}: {symbol} is not stored, the bundled S&P 500 ends 2018-12-31 "
        f"and too few tickers are stored for an equal-weight index; run `tft-trader prices fetch {symbol}`"
    )


def _is_current(index: pd.DataFrame, end: date) -> bool:
    return not index.empty and index["trade_date"].iloc[-1] >= end - MAX_INDEX_STALENESS


def _with_source(index: pd.DataFrame, source: str) -> pd.DataFrame:
    index.attrs["source"] = source
    return index


async def load_inputs(
    *, session: AsyncSession, tickers: Sequence[str], start: date, end: date
) -> FeatureInputs:
    """Prices (with lookback before `start`), sentiment and the index, nothing after `end`.

    Tickers with fewer stored bars than `min_history_rows()` by `end` are skipped with the reason.
    """
    since = calendar_days_back(start, FEATURE_LOOKBACK_SESSIONS)
    # Excluded bars (price_flags) are left out; `split_ratio` from the split events rides along.
    prices = await market_service.load_usable_bars(session=session, tickers=tickers, start=since, end=end)
    counts = await market_service.bar_counts(session=session, tickers=tickers, end=end)
    skipped = history_skips(tickers, counts, end)
    if skipped:
        prices = prices[~prices["ticker"].isin(list(skipped))]
    sentiment = await sentiment_service.load_daily(session=session, tickers=tickers, start=since, end=end)
    market = await market_index(session=session, start=calendar_days_back(since, SMA_LOOKBACK + 20), end=end)
    source = str(market.attrs.get("source", ""))
    sectors = await market_service.sectors(session=session, tickers=sorted(prices["ticker"].unique()))
    return FeatureInputs(prices.reset_index(drop=True), sentiment, market, skipped, dict(sectors), source)


def history_skips(tickers: Sequence[str], counts: dict[str, int], end: date) -> dict[str, str]:
    """Tickers (default: every counted one) with too few bars by `end` for features, and why."""
    need = min_history_rows()
    return {
        t: f"{counts.get(t, 0)} daily bars up to {end}; needs at least {need} "
        f"(SMA 200 + {need - SMA_LOOKBACK}-day sequence)"
        for t in (tickers or counts)
        if counts.get(t, 0) < need
    }


@dataclass
class StoredDay:
    """One session's stored features, as the rebuild would make them, and the tickers left out."""

    features: pd.DataFrame  # ticker, trade_date, FEATURE_COLUMNS (NaN where undefined)
    skipped: dict[str, str]


async def stored_day(*, session: AsyncSession, tickers: Sequence[str], day: date) -> StoredDay | None:
    """The features the features step stored for `day`, or None when they cannot stand in for a rebuild.

    None when a ticker with enough history and a usable bar that day has no stored row, or a price bar of
    the lookback window or a Reddit aggregate changed after the rows were stored (a re-fetch, a
    re-aggregation): the caller then rebuilds. Rows of one session only: a rebuild on a later date may
    differ on earlier sessions (a split since rescales them). Not caught: a price write whose
    transaction started before the features step's and committed after it read the bars (a manual fetch
    racing the chain, which runs prices before features).
    """
    if not tickers or session.get_bind().dialect.name == "sqlite":
        # SQLite's now() has one-second steps: too coarse to tell a price written just after the features
        # from one written just before. A local install rebuilds (a second or two per step).
        return None
    counts = await market_service.bar_counts(session=session, tickers=tickers, end=day)
    skipped = history_skips(tickers, counts, day)
    bars = await market_service.load_usable_bars(session=session, tickers=tickers, start=day, end=day)
    expected = set(bars["ticker"]) - set(skipped)
    stored = await load(session=session, tickers=sorted(expected), start=day, end=day)
    if set(stored["ticker"]) != expected:
        return None
    if expected:
        # Every bar the features step loaded (its window starts a sequence before `day`).
        first = add_trading_days(day, -(get_settings().features.sequence_length + 5))
        since, names = calendar_days_back(first, FEATURE_LOOKBACK_SESSIONS), sorted(expected)
        changes = [
            await market_service.last_update(session=session, tickers=names, start=since, end=day),
            # A re-aggregation of the Reddit sentiment changes the features too.
            await sentiment_service.last_update(session=session, tickers=names, start=since, end=day),
        ]
        changed = max((c for c in changes if c is not None), default=None)
        written = await session.scalar(
            select(func.min(FeatureRow.updated_at)).where(
                FeatureRow.version == FEATURE_SET_VERSION,
                FeatureRow.trade_date == day,
                FeatureRow.ticker.in_(sorted(expected)),
            )
        )
        # now() is the transaction's start: a tie counts as outdated (a rebuild is never wrong).
        if changed is not None and (written is None or changed >= written):
            return None
    return StoredDay(stored.reset_index(drop=True), skipped)


def features_between(
    inputs: FeatureInputs, start: date, end: date, *, cross_section: bool = True
) -> pd.DataFrame:
    """The one feature implementation (`build_features`) over loaded inputs, cut to `start`..`end`.

    `cross_section=False`: the per-ticker columns only, the cross-sectional ones NaN (a ticker batch of the
    features step; `complete_day` fills them over the whole day).
    """
    if inputs.prices.empty:
        return pd.DataFrame(columns=["ticker", "trade_date", *FEATURE_COLUMNS])
    features = per_ticker_features(inputs.prices, inputs.sentiment, inputs.market)
    window = (features["trade_date"] >= start) & (features["trade_date"] <= end)
    features = features[window].reset_index(drop=True)
    if cross_section:
        # Ranked within each day, so cutting first gives the same values for a fraction of the work.
        add_cross_section(features, inputs.sectors)
    return features


async def store(*, session: AsyncSession, features: pd.DataFrame, version: str = FEATURE_SET_VERSION) -> int:
    """Upsert feature rows by (ticker, trade_date, version); undefined values are stored as null.

    Live inference stores one session at a time (hundreds of rows), so a plain upsert is plenty.
    """
    values = features[list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    rows = [
        {
            "ticker": t,
            "trade_date": d,
            "version": version,
            "values": {
                name: (None if np.isnan(v) else float(v))
                for name, v in zip(FEATURE_COLUMNS, row, strict=True)
            },
        }
        for t, d, row in zip(features["ticker"], features["trade_date"], values, strict=True)
    ]
    if rows:
        stmt = dialect_insert(session, table_of(FeatureRow))
        stmt = stmt.on_conflict_do_update(
            index_elements=["ticker", "trade_date", "version"],
            set_={"values": stmt.excluded["values"], "updated_at": func.now()},
        )
        await session.execute(stmt, rows)
    return len(rows)


async def complete_day(*, session: AsyncSession, day: date, tickers: Sequence[str]) -> int:
    """Fill the cross-sectional columns of `day`'s stored rows of `tickers`, each row placed among all of
    them; returns the rows updated.

    The last part of a fanned-out features step: its ticker batches stored the per-ticker columns
    (`features_between(cross_section=False)`), and only the whole day can rank them. `tickers` are the
    rows the batches stored, so a row left from an earlier run of another universe is not ranked in.
    The values equal a single `features_between` over all the tickers: the same inputs (stored floats
    read back exactly), the same day's rows in the same (ticker) order.
    """
    if not tickers:
        return 0
    stored = await load(session=session, tickers=tickers, start=day, end=day)
    missing = sorted(set(tickers) - set(stored["ticker"]))
    if missing:
        raise DataSourceError(
            f"no stored features on {day.isoformat()} for {len(missing)} ticker(s) "
            f"({', '.join(missing[:5])}): their batch did not store them; run the features step again"
        )
    # Python's string order, as `build_features` sorts: the database's collation may differ.
    stored = stored.sort_values("ticker", kind="stable", ignore_index=True)
    sectors = await market_service.sectors(session=session, tickers=sorted(tickers))
    add_cross_section(stored, sectors)
    return await store(session=session, features=stored)


async def load(
    *,
    session: AsyncSession,
    tickers: Sequence[str],
    start: date,
    end: date,
    version: str = FEATURE_SET_VERSION,
) -> pd.DataFrame:
    """Stored features (ticker, trade_date and FEATURE_COLUMNS; NaN where undefined), oldest first."""
    query = select(FeatureRow.ticker, FeatureRow.trade_date, FeatureRow.values).where(
        FeatureRow.version == version, FeatureRow.trade_date >= start, FeatureRow.trade_date <= end
    )
    if tickers:
        query = query.where(FeatureRow.ticker.in_(list(tickers)))
    rows = (await session.execute(query.order_by(FeatureRow.ticker, FeatureRow.trade_date))).all()
    frame = pd.DataFrame(
        [{name: v.get(name) for name in FEATURE_COLUMNS} for _, _, v in rows], columns=list(FEATURE_COLUMNS)
    ).astype("float64")
    frame.insert(0, "trade_date", [r[1] for r in rows])
    frame.insert(0, "ticker", [r[0] for r in rows])
    return frame
