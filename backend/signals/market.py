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
from typing import TYPE_CHECKING, Any

from backend.market.models import BAR_COLUMNS
from backend.signals.exits import Bar

if TYPE_CHECKING:  # annotations only: the frames arrive built, and quick CLI reads skip pandas
    import pandas as pd

LIQUIDITY_WINDOW = 20
# The price columns `market_frame` reads (a caller may load only these).
MARKET_PRICE_COLUMNS = ("ticker", "trade_date", *BAR_COLUMNS, "rsi_14", "macd")
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
    """(ticker, trade_date) rows with COLUMNS plus `sector`; every value uses data up to that close only.

    `prices` as `market.service.load_usable_bars` returns them: `split_ratio` (from the split events) is
    the split that took effect that session, which rescales holdings; without the column there is none.
    """
    ordered = prices.sort_values(["ticker", "trade_date"], kind="stable").reset_index(drop=True)
    frame = ordered[list(MARKET_PRICE_COLUMNS)].copy()
    frame["split_ratio"] = ordered.get("split_ratio", 1.0)
    dollar_volume = frame["close"].astype("float64") * frame["volume"].astype("float64")
    # Rolled per ticker (the frame is sorted by ticker): one vectorised pass instead of one call per ticker.
    rolled = dollar_volume.groupby(frame["ticker"], sort=False).rolling(LIQUIDITY_WINDOW).mean()
    frame["adv_20d"] = rolled.to_numpy()
    key = ["ticker", "trade_date"]
    frame = frame.merge(features[[*key, "atr_pct", "market_above_sma200"]], on=key, how="left")
    if sentiment.empty:
        for column in ("sentiment_score", "sentiment_trend", "sentiment_mentions"):
            frame[column] = math.nan
    else:
        mood = sentiment[[*key, "score", "trend", "mentions"]].rename(
            columns={"score": "sentiment_score", "trend": "sentiment_trend", "mentions": "sentiment_mentions"}
        )
        frame = frame.merge(mood, on=key, how="left")
    frame["sector"] = frame["ticker"].map(lambda t: sectors.get(t))
    return frame.drop(columns=["volume", "adj_close"])


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
