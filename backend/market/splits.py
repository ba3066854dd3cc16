"""Stock splits as events: the one source for every split adjustment (indicators, holdings, backtests).

Stored prices are as traded, so a 4:1 split shows as a 75% drop in `close` on its ex-date. Nothing infers
splits from price jumps: Yahoo's actions (or a split the user declares for a CSV import) become rows of
`split_events`, and these functions turn them into per-row numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.market.models import SplitEvent

# A consistent overlap ratio further than this from 1 means the two fetches are on different price scales.
SCALE_TOLERANCE = 0.005
# A vendor's adj_close / close moving this much in one session is a split (dividends move it by a few %).
ADJUSTED_SPLIT_JUMP = 0.1
# Ratios a split can have (p-for-q with small p, q); a measured ratio within 2% snaps to the nearest one.
NICE_RATIOS = sorted({p / q for p in range(1, 51) for q in range(1, 11) if p != q})


def ratio_on_date(prices: pd.DataFrame, splits: pd.DataFrame) -> pd.Series:
    """Per row of `prices` (ticker, trade_date), the ratio of a split effective that session, else 1.0."""
    if splits.empty or prices.empty:
        return pd.Series(1.0, index=prices.index)
    by_key = {(t, d): float(r) for t, d, r in splits[["ticker", "ex_date", "ratio"]].itertuples(index=False)}
    values = [by_key.get(key, 1.0) for key in zip(prices["ticker"], prices["trade_date"], strict=True)]
    return pd.Series(values, index=prices.index, dtype="float64")


def events_from_adjusted(bars: pd.DataFrame) -> pd.DataFrame:
    """Split events implied by a vendor's adjusted close, for one ticker's bars sorted by date.

    Only for sources that send as-traded prices with an adjusted close but no corporate actions (the
    bundled sample, a CSV with adj_close): the factor adj_close / close falls by the split ratio across the
    ex-date. Yahoo's data never shows this (its close is split-adjusted): its splits come as actions.
    """
    close = bars["close"].to_numpy(dtype="float64")
    adj = bars["adj_close"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = adj / close
        jump = factor[1:] / factor[:-1]
    big = np.isfinite(jump) & (jump > 0) & (np.abs(jump - 1.0) > ADJUSTED_SPLIT_JUMP)
    # A bad print in close (not in adj_close) moves the factor and moves it back the next day: no split.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_jump = np.log(np.where(big, jump, 1.0))
    undone = big[:-1] & big[1:] & (np.abs(log_jump[:-1] + log_jump[1:]) < 0.5 * np.abs(log_jump[:-1]))
    reverting = np.zeros(len(jump), dtype=bool)
    reverting[:-1] |= undone
    reverting[1:] |= undone
    at = np.flatnonzero(big & ~reverting) + 1
    ratios = [_snap(float(factor[i] / factor[i - 1])) for i in at]
    return pd.DataFrame(
        {
            "ticker": bars["ticker"].to_numpy()[at],
            "ex_date": bars["trade_date"].to_numpy()[at],
            "ratio": pd.Series(ratios, dtype="float64"),
        }
    )


def _snap(ratio: float) -> float:
    nearest = min(NICE_RATIOS, key=lambda r: abs(np.log(ratio / r)))
    return round(nearest, 10) if abs(np.log(ratio / nearest)) < 0.02 else round(ratio, 6)


def later_splits_factor(dates: np.ndarray, ex_dates: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """For each date, the product of the ratios of splits effective after it: a bar's as-traded price
    divided by this factor is on the scale of the newest split (one ticker)."""
    factor = np.ones(len(dates), dtype="float64")
    for ex_date, ratio in zip(ex_dates, ratios, strict=True):
        factor[dates < ex_date] *= ratio
    return factor


def overlap_scale(stored: pd.DataFrame, fresh: pd.DataFrame, column: str) -> float | None:
    """stored / fresh for `column` on the dates both have, when it is one constant factor (the whole
    history rescaled, as Yahoo does after a split or dividend); None without overlap or when the rows
    differ unevenly (a corrected bar, not a new scale)."""
    both = stored[["trade_date", column]].merge(fresh[["trade_date", column]], on="trade_date")
    if both.empty:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = both[f"{column}_x"].to_numpy(float) / both[f"{column}_y"].to_numpy(float)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.size == 0:
        return None
    k = float(np.median(ratio))
    return k if np.all(np.abs(ratio / k - 1.0) < SCALE_TOLERANCE) else None


def jump_matches(before_close: float, after_open: float, ratio: float, tolerance: float = 0.25) -> bool:
    """True when the price moved from `before_close` to `after_open` by about 1/`ratio` (an unadjusted
    split); a move within `tolerance` of the split's size counts."""
    if before_close <= 0 or after_open <= 0:
        return False
    return abs(np.log(before_close / after_open) - np.log(ratio)) < np.log(1.0 + tolerance)


@dataclass
class Rescale:
    """How to bring one ticker's stored rows onto the scale of a fresh fetch."""

    price: float = 1.0  # stored OHLC / fresh OHLC (volume the other way)
    adj: float = 1.0  # stored adj_close / fresh adj_close
    adj_events: list[tuple[date, float]] = field(default_factory=list)  # without overlap: new splits

    @property
    def needed(self) -> bool:
        return self.price != 1.0 or self.adj != 1.0 or bool(self.adj_events)

    def describe(self) -> str:
        parts = []
        if self.price != 1.0:
            parts.append(f"prices / {self.price:.4g}")
        if self.adj != 1.0:
            parts.append(f"adj_close / {self.adj:.6g}")
        parts += [f"adj_close before {d} / {r:g}" for d, r in self.adj_events]
        return ", ".join(parts)

    def apply(self, rows: pd.DataFrame) -> pd.DataFrame:
        """`rows` (stored bars not in the fresh fetch) on the fresh fetch's scale."""
        out = rows.copy()
        if self.price != 1.0:
            for column in ("open", "high", "low", "close"):
                out[column] = out[column] / self.price
            out["volume"] = np.rint(out["volume"].to_numpy(float) * self.price).astype("int64")
        if self.adj != 1.0:
            out["adj_close"] = out["adj_close"] / self.adj
        for ex_date, ratio in self.adj_events:
            before = out["trade_date"] < ex_date
            out.loc[before, "adj_close"] = out.loc[before, "adj_close"] / ratio
        return out


def detect_rescale(stored: pd.DataFrame, fresh: pd.DataFrame, new_events: pd.DataFrame) -> Rescale:
    """Compare a fresh fetch with the stored rows of one ticker.

    Yahoo re-bases its whole history after each split (and its Adj Close after each dividend). Where the
    fetch overlaps stored rows, a constant stored/fresh factor says the stored rows are on an older scale;
    without overlap, a split event first seen in this fetch moves the adj_close of the rows before it.
    """
    rest = stored[~stored["trade_date"].isin(set(fresh["trade_date"]))]
    if rest.empty:
        return Rescale()
    price = overlap_scale(stored, fresh, "close")
    adj = overlap_scale(stored, fresh, "adj_close")
    rescale = Rescale()
    if price is not None and abs(price - 1.0) > SCALE_TOLERANCE:
        rescale.price = price
    if adj is not None:
        if abs(adj - 1.0) > 1e-9:
            rescale.adj = adj
    elif not new_events.empty:
        first = rest["trade_date"].min()
        rescale.adj_events = [
            (d, float(r))
            for d, r in zip(new_events["ex_date"], new_events["ratio"], strict=True)
            if d > first
        ]
    return rescale


async def record_splits(*, session: AsyncSession, splits: pd.DataFrame, source: str) -> pd.DataFrame:
    """Upsert split events by (ticker, ex_date); returns the ones that were not stored with that ratio."""
    if splits.empty:
        return splits
    known = await load_splits(session=session, tickers=sorted(set(splits["ticker"])))
    merged = splits.merge(known, on=["ticker", "ex_date"], how="left", suffixes=("", "_stored"))
    new = merged[~np.isclose(merged["ratio"], merged["ratio_stored"].fillna(-1.0))][list(splits.columns)]
    if not new.empty:
        stmt = dialect_insert(session, table_of(SplitEvent))
        stmt = stmt.on_conflict_do_update(
            index_elements=["ticker", "ex_date"],
            set_={"ratio": stmt.excluded.ratio, "source": stmt.excluded.source},
        )
        rows = [
            {"ticker": t, "ex_date": d, "ratio": float(r), "source": source}
            for t, d, r in new[["ticker", "ex_date", "ratio"]].itertuples(index=False)
        ]
        await session.execute(stmt, rows)
    return new.reset_index(drop=True)


async def load_splits(*, session: AsyncSession, tickers: Sequence[str] = ()) -> pd.DataFrame:
    """Stored split events (ticker, ex_date, ratio, source), by ticker and date; all tickers when empty."""
    query = select(SplitEvent.ticker, SplitEvent.ex_date, SplitEvent.ratio, SplitEvent.source)
    if tickers:
        query = query.where(SplitEvent.ticker.in_(list(tickers)))
    rows = (await session.execute(query.order_by(SplitEvent.ticker, SplitEvent.ex_date))).all()
    return pd.DataFrame(
        {
            "ticker": [r[0] for r in rows],
            "ex_date": [r[1] for r in rows],
            "ratio": pd.Series([r[2] for r in rows], dtype="float64"),
            "source": [r[3] for r in rows],
        }
    )
