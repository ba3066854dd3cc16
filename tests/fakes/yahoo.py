"""Recorded Yahoo Finance responses, rebuilt in exactly the shape `yfinance.download` returns.

`tests/data/yahoo/split_windows.csv` holds real daily bars around AAPL's 4:1 split (2020-08-31) and NVDA's
10:1 split (2024-06-10) as Yahoo serves them with `auto_adjust=False, actions=True`: Open/High/Low/Close and
Volume already split-adjusted, `Adj Close` also dividend-adjusted, `Stock Splits` / `Dividends` on the
ex-dates. `download_frame` assembles them the way yfinance 1.x's `multi.download` does: one frame per
ticker, `pd.concat(axis=1, keys=tickers, names=['Ticker', 'Price'])`, levels swapped to (Price, Ticker) and
sorted, dates unioned across tickers (NaN where a ticker has no bar), a tz-naive 'Date' index for daily
bars (`ignore_tz`), or New York time as `Ticker.history` gives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

RECORDED = Path(__file__).parent.parent / "data" / "yahoo" / "split_windows.csv"
FIELDS = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]


def recorded_bars(ticker: str) -> pd.DataFrame:
    """One ticker's recorded rows, Yahoo's column names, a DatetimeIndex named 'Date'."""
    raw = pd.read_csv(RECORDED, comment="#", parse_dates=["Date"])
    one = raw[raw["Ticker"] == ticker].drop(columns="Ticker").set_index("Date")
    return one[FIELDS]


def download_frame(
    per_ticker: dict[str, pd.DataFrame], *, actions: bool = True, tz: str | None = None
) -> pd.DataFrame:
    """yfinance's multi-ticker frame: (Price, Ticker) MultiIndex columns, sorted, union of dates."""
    frames = {}
    for sym, one in per_ticker.items():
        one = one if actions else one.drop(columns=["Dividends", "Stock Splits"])
        if tz is not None:
            one = one.tz_localize(tz)
        frames[sym] = one
    data = pd.concat(frames.values(), axis=1, sort=True, keys=frames.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    data.index.name = "Date"
    return data.sort_index(level=0, axis=1)


def recorded_download(per_ticker: dict[str, pd.DataFrame], *, tz: str | None = None) -> Any:
    """A stand-in for `yfinance.download` serving `per_ticker` (honours start; records every call)."""
    calls: list[dict[str, Any]] = []

    def download(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        calls.append({"tickers": list(tickers), **kwargs})
        start = pd.Timestamp(kwargs["start"]) if kwargs.get("start") else None
        served = {}
        for sym in tickers:
            one = per_ticker[sym]
            served[sym] = one[one.index >= start] if start is not None else one
        return download_frame(served, actions=bool(kwargs.get("actions")), tz=tz)

    download.calls = calls  # type: ignore[attr-defined]
    return download
