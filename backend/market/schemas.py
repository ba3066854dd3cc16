"""Read schemas of the market domain (API and dashboard)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class TickerRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "symbol": "AAPL",
                    "name": "Apple Inc.",
                    "sector": "Information Technology",
                    "industry": "Technology Hardware",
                    "exchange": "NASDAQ",
                    "active": True,
                    "source": "seed",
                    "watchlist": True,
                }
            ]
        },
    )

    symbol: str
    name: str | None
    sector: str | None
    industry: str | None
    exchange: str | None
    active: bool
    source: str = Field(description="where the symbol came from: seed, sample, watchlist, trending, import")
    watchlist: bool = False


class PriceBarRead(BaseModel):
    """A daily bar (as traded; `adj_close` split/dividend-adjusted) and its indicators (null in warm-up)."""

    model_config = ConfigDict(from_attributes=True)

    trade_date: date
    open: float
    high: float
    low: float
    close: float
    adj_close: float
    volume: int
    rsi_14: float | None
    macd: float | None
    macd_signal: float | None
    macd_hist: float | None
    bb_upper: float | None
    bb_middle: float | None
    bb_lower: float | None
    sma_50: float | None
    sma_200: float | None
    ema_12: float | None
    ema_26: float | None
    volume_ratio: float | None


class TickerDetailRead(TickerRead):
    """A ticker with its latest bar."""

    latest_bar: PriceBarRead | None
    bars_stored: int


class PriceFlagRead(BaseModel):
    """A data-quality finding on one stored bar (`tft-trader prices check`); an excluded bar is left out
    of indicators and features."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "ticker": "AAPL",
                    "trade_date": "2012-06-01",
                    "kind": "spike",
                    "detail": "close +42% then back within 2 sessions",
                    "excluded": False,
                }
            ]
        },
    )

    ticker: str
    trade_date: date
    kind: str = Field(description="spike, unadjusted_split, ohlc_range, zero_volume or manual")
    detail: str
    excluded: bool
