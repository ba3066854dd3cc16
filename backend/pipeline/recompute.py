"""Every model input recomputed from raw data as it was known at a cut-off (the lookahead check's reference).

Nothing stored downstream of the raw inputs is trusted here: indicators come from the stored OHLCV bars up
to the cut-off, sentiment aggregates from the posts created before the cut-off's close (dated by their
creation time, not by the stored trading date), and features from those two plus the index.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence
from datetime import date

import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import add_trading_days, previous_trading_day, session_close, trading_days
from backend.market.indicators import compute_indicators
from backend.market.models import BAR_COLUMNS, INDICATOR_COLUMNS
from backend.sentiment import service as sentiment_service


class BarHistory:
    """Stored raw bars (OHLCV and adjusted close) per ticker, cut at any date without copying."""

    def __init__(self, prices: pd.DataFrame) -> None:
        ordered = prices.sort_values(["ticker", "trade_date"], kind="stable")
        raw = ordered[["ticker", "trade_date", *BAR_COLUMNS]].reset_index(drop=True)
        self._by_ticker = {str(t): g.reset_index(drop=True) for t, g in raw.groupby("ticker", sort=True)}
        self._dates = {t: list(g["trade_date"]) for t, g in self._by_ticker.items()}

    @property
    def tickers(self) -> list[str]:
        return list(self._by_ticker)

    def until(self, day: date, rows: int) -> dict[str, pd.DataFrame]:
        """Each ticker's last `rows` bars on or before `day` (tickers without a bar on `day` left out)."""
        out = {}
        for ticker, bars in self._by_ticker.items():
            end = bisect.bisect_right(self._dates[ticker], day)
            if end and self._dates[ticker][end - 1] == day:
                out[ticker] = bars.iloc[max(0, end - rows) : end]
        return out


def prices_with_indicators(bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Bars with indicators computed from them alone (every row's inputs end at the window's last bar)."""
    frames = []
    for ticker in sorted(bars):
        one = bars[ticker].reset_index(drop=True)
        one = pd.concat([one, compute_indicators(one)], axis=1)
        frames.append(one)
    if not frames:
        return pd.DataFrame(columns=["ticker", "trade_date", *BAR_COLUMNS, *INDICATOR_COLUMNS])
    return pd.concat(frames, ignore_index=True)


async def sentiment_as_of(*, session: AsyncSession, first: date, day: date) -> pd.DataFrame:
    """Daily aggregates for sessions `first`..`day` from the posts created before the close of `day`.

    Posts are dated by their creation time: a post after a session's close (16:00 ET, 13:00 on half days)
    counts for the next session, so the window ends at the close of `day`.
    """
    since = add_trading_days(first, -(sentiment_service.MA_WINDOW - 1))
    sessions = trading_days(since, day)
    opens_after = session_close(previous_trading_day(since))
    cutoff = session_close(day)
    raw = await sentiment_service.load_mentions(session=session, created_from=opens_after, created_to=cutoff)
    if raw.empty:
        return sentiment_service.daily_frame(raw, start=first, end=day)
    closes = pd.DatetimeIndex([session_close(s) for s in sessions])
    created = pd.DatetimeIndex(pd.to_datetime(raw["created_at"], utc=True))
    # The session whose close first follows the post (strictly: a post at 16:00:00 is after the close).
    position = closes.searchsorted(created, side="right")
    raw = raw.assign(trade_date=[sessions[i] for i in position])
    return sentiment_service.daily_frame(raw, start=first, end=day)


def stored_rows(frame: pd.DataFrame, day: date, tickers: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of a (ticker, trade_date) frame for `day`, indexed by ticker."""
    rows = frame[frame["trade_date"] == day]
    if tickers is not None:
        rows = rows[rows["ticker"].isin(list(tickers))]
    return rows.set_index("ticker")


def rows_between(frame: pd.DataFrame, first: date, last: date, tickers: Collection[str]) -> pd.DataFrame:
    """The rows of a (ticker, trade_date) frame from `first` to `last` for `tickers`, indexed by both."""
    rows = frame[
        (frame["trade_date"] >= first) & (frame["trade_date"] <= last) & frame["ticker"].isin(list(tickers))
    ]
    return rows.set_index(["ticker", "trade_date"])
