"""Row factories: realistic daily bars on real NYSE sessions."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from backend.core.calendar import trading_days
from backend.market.providers import BAR_FRAME_COLUMNS


def make_bars(
    ticker: str = "TEST",
    *,
    n: int = 400,
    start: date = date(2020, 1, 2),
    seed: int = 0,
    price: float = 100.0,
    drift: float = 0.0003,
    vol: float = 0.015,
) -> pd.DataFrame:
    """A geometric random walk of `n` daily bars with consistent OHLC and volume."""
    rng = np.random.default_rng(seed)
    days = trading_days(start, date(start.year + n // 200 + 3, 12, 31))[:n]
    assert len(days) == n, "start too late for n sessions in the calendar"
    close = price * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    open_ = close * np.exp(rng.normal(0, vol / 3, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    volume = rng.integers(1_000_000, 5_000_000, n)
    frame = pd.DataFrame(
        {
            "ticker": ticker,
            "trade_date": days,
            "open": open_.round(4),
            "high": high.round(4),
            "low": low.round(4),
            "close": close.round(4),
            "adj_close": close.round(4),
            "volume": volume,
        }
    )
    return frame[BAR_FRAME_COLUMNS]


def write_csv(frame: pd.DataFrame, path) -> None:
    frame.rename(columns={"trade_date": "date"}).to_csv(path, index=False)
