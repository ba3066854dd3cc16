"""What a user does about the data-quality findings: declare a split a file did not carry, exclude a bad
bar (or include it again), and re-run the check over stored history. Each rewrites the ticker's
indicators so nothing computed from the old state remains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.market import quality, splits
from backend.market import service as market_service

SPLIT_LOOKBACK = timedelta(days=14)  # a session before the ex-date, across any holiday stretch


async def declare_split(
    *, session: AsyncSession, ticker: str, ex_date: date, ratio: float, force: bool = False
) -> str:
    """Record a split for stored as-traded prices (a CSV import without corporate actions).

    The stored prices must show the drop (previous close to the ex-date's open about 1/ratio), unless
    `force`: declaring a split on prices that are already split-adjusted would multiply holdings for
    nothing. The adj_close before the ex-date is divided by the ratio (unless it already is), so
    indicators and features see one continuous series, and every indicator of the ticker is recomputed.

    Returns:
        What was done, in one line.
    """
    if not ratio > 0 or not np.isfinite(ratio):
        raise ValidationFailed(
            f"split ratio must be a positive number (4 for 4:1, 0.1 for 1:10), got {ratio:g}"
        )
    bars = await market_service.load_bars(
        session=session,
        tickers=[ticker],
        start=ex_date - SPLIT_LOOKBACK,
        end=ex_date,
        columns=("trade_date", "open", "close", "adj_close"),
    )
    on_day = bars[bars["trade_date"] == ex_date]
    before = bars[bars["trade_date"] < ex_date]
    if on_day.empty or before.empty:
        raise ValidationFailed(
            f"no stored {ticker} bars on {ex_date} and the session before it; "
            f"a split is declared on the first session that trades split (import or fetch the prices first)"
        )
    prev, bar = before.iloc[-1], on_day.iloc[0]
    if not force and not splits.jump_matches(float(prev["close"]), float(bar["open"]), ratio):
        moved = float(prev["close"]) / float(bar["open"])
        why = (
            "they look split-adjusted already"
            if abs(np.log(moved)) < np.log(1.25)
            else f"the move is {moved:.2f} to 1, not {ratio:g} to 1"
        )
        raise ValidationFailed(
            f"{ticker}'s stored prices show no {ratio:g}:1 split on {ex_date} (close {prev['close']:,.2f} on "
            f"{prev['trade_date']}, open {bar['open']:,.2f}): {why}; use --force to record it anyway"
        )
    known = await splits.load_splits(session=session, tickers=[ticker])
    same = known[(known["ex_date"] == ex_date) & np.isclose(known["ratio"], ratio)]
    if not same.empty:
        return f"{ticker}: the {ratio:g}:1 split on {ex_date} is already recorded ({same['source'].iloc[0]})"
    await splits.record_splits(
        session=session,
        splits=pd.DataFrame({"ticker": [ticker], "ex_date": [ex_date], "ratio": [float(ratio)]}),
        source="user",
    )
    # A vendor's adj_close may already carry the split (its adj/close factor jumps at the ex-date).
    factor_before = float(prev["adj_close"]) / float(prev["close"])
    factor_on = float(bar["adj_close"]) / float(bar["close"])
    adj_has_it = splits.jump_matches(factor_on, factor_before, ratio, tolerance=0.05)

    def rescale(rows: pd.DataFrame) -> pd.DataFrame:
        if not adj_has_it:
            earlier = rows["trade_date"] < ex_date
            rows.loc[earlier, "adj_close"] = rows.loc[earlier, "adj_close"] / ratio
        return rows

    await market_service.rewrite_history(session=session, ticker=ticker, transform=rescale)
    await run_check(session=session, tickers=[ticker])
    return f"{ticker}: {ratio:g}:1 split on {ex_date} recorded; indicators recomputed"


async def set_exclusion(*, session: AsyncSession, ticker: str, days: Sequence[date], excluded: bool) -> int:
    """Exclude (or include again) a ticker's stored bars; returns how many changed state.

    Excluded bars stay stored and visible in `prices check`, but indicators, features, training and the
    paper book do not use them."""
    stored = await market_service.load_bars(
        session=session, tickers=[ticker], start=min(days), end=max(days), columns=("trade_date",)
    )
    missing = sorted(set(days) - set(stored["trade_date"]))
    if missing:
        listed = ", ".join(d.isoformat() for d in missing)
        raise ValidationFailed(f"no stored {ticker} bar on {listed}; nothing was changed")
    changed = await quality.set_excluded(session=session, ticker=ticker, days=days, excluded=excluded)
    if changed:
        await market_service.rewrite_history(session=session, ticker=ticker)
    return changed


async def run_check(*, session: AsyncSession, tickers: Sequence[str] = ()) -> pd.DataFrame:
    """Re-run the data-quality check over the whole stored history of `tickers` (all when empty), store
    the flags, and return every stored flag of those tickers (with `excluded`)."""
    bars = await market_service.load_bars(
        session=session,
        tickers=tickers,
        columns=("ticker", "trade_date", "open", "high", "low", "close", "volume"),
    )
    if not bars.empty:
        events = await splits.load_splits(session=session, tickers=tickers)
        found = quality.check_bars(bars, events, spike_pct=get_settings().prices.spike_pct)
        checked = sorted(bars["ticker"].unique())
        await quality.replace_flags(session=session, flags=found, whole=checked)
    return await quality.list_flags(session=session, tickers=tickers)
