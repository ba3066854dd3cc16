"""What one session's signal run and position monitor read about each ticker, known at that close.

`market_frame` joins prices (OHLC, RSI, MACD, 20-day dollar volume), the features the risk manager needs
(ATR%, the market regime) and the day's Reddit mood; `MarketDay` is one session of it, by ticker. The live
pipeline and the backtest build both with these functions from the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from backend.signals.exits import Bar

LIQUIDITY_WINDOW = 20
SPLIT_THRESHOLD = 0.1  # a 10% jump in the adjustment factor is a split; dividends are far smaller
COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "rsi_14",
    "macd",
    "atr_pct",
    "adv_20d",
    "market_above_sma200",
    "sentiment_score",
    "sentiment_trend",
    "sentiment_mentions",
    "split_ratio",
)


def market_frame(
    prices: pd.DataFrame,
    features: pd.DataFrame,
    sentiment: pd.DataFrame,
    sectors: Mapping[str, str | None],
) -> pd.DataFrame:
    """(ticker, trade_date) rows with COLUMNS plus `sector`; every value uses data up to that close only."""
    frame = prices.sort_values(["ticker", "trade_date"], kind="stable")[
        ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume", "rsi_14", "macd"]
    ].reset_index(drop=True)
    frame["split_ratio"] = split_ratios(frame)
    dollar_volume = frame["close"].astype("float64") * frame["volume"].astype("float64")
    frame["adv_20d"] = dollar_volume.groupby(frame["ticker"]).transform(
        lambda s: s.rolling(LIQUIDITY_WINDOW, min_periods=LIQUIDITY_WINDOW).mean()
    )
    key = ["ticker", "trade_date"]
    frame = frame.merge(features[[*key, "atr_pct", "market_above_sma200"]], on=key, how="left")
    if sentiment.empty:
        for column in ("sentiment_score", "sentiment_trend", "sentiment_mentions"):
            frame[column] = np.nan
    else:
        mood = sentiment[[*key, "score", "trend", "mentions"]].rename(
            columns={"score": "sentiment_score", "trend": "sentiment_trend", "mentions": "sentiment_mentions"}
        )
        frame = frame.merge(mood, on=key, how="left")
    frame["sector"] = frame["ticker"].map(lambda t: sectors.get(t))
    return frame.drop(columns=["volume", "adj_close"])


def split_ratios(prices: pd.DataFrame) -> pd.Series:
    """Per row, the split that took effect that session (2.0 for 2:1), else 1.0; `prices` sorted by ticker
    then date.

    The adjustment factor adj_close / close of a row moves only with events after it, so its jump from one
    session to the next is that session's split (times a dividend factor within a few percent of 1). Moves
    under `SPLIT_THRESHOLD` are dividends: the paper book ignores them, as most brokers' P&L views do.
    """
    factor = prices["adj_close"].astype("float64") / prices["close"].astype("float64")
    ratio = factor / factor.groupby(prices["ticker"]).shift(1)
    is_split = np.isfinite(ratio) & (ratio > 0) & ((ratio - 1.0).abs() > SPLIT_THRESHOLD)
    return ratio.where(is_split, 1.0)


@dataclass(frozen=True)
class MarketDay:
    """One session's market rows by ticker; a ticker without a row had no bar that day."""

    trade_date: date
    rows: dict[str, dict[str, Any]]

    def bar(self, ticker: str) -> Bar | None:
        row = self.rows.get(ticker)
        if row is None:
            return None
        prices = (_num(row[k]) for k in ("open", "high", "low", "close"))
        return Bar(self.trade_date, *prices)

    def value(self, ticker: str, column: str) -> float | None:
        """A finite number, or None when the ticker or the value is missing."""
        row = self.rows.get(ticker)
        if row is None:
            return None
        value = _num(row.get(column))
        return value if math.isfinite(value) else None

    def sector(self, ticker: str) -> str | None:
        row = self.rows.get(ticker)
        sector = row.get("sector") if row is not None else None
        return sector if isinstance(sector, str) and sector else None


def market_days(frame: pd.DataFrame, start: date, end: date) -> dict[date, MarketDay]:
    """The sessions of `frame` from `start` to `end`, each as a `MarketDay`."""
    window = frame[(frame["trade_date"] >= start) & (frame["trade_date"] <= end)]
    days: dict[date, MarketDay] = {}
    records: list[dict[str, Any]] = window.to_dict("records")  # type: ignore[assignment]
    for record in records:
        day: date = record.pop("trade_date")
        if day not in days:
            days[day] = MarketDay(day, {})
        days[day].rows[record["ticker"]] = record
    return dict(sorted(days.items()))


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan
