"""Market data tables: the ticker universe and daily bars with their indicators."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UTCDateTime

TICKER_SOURCES = ("seed", "sample", "watchlist", "trending", "import")
# What a symbol is: a share (common stock, ADR, class share) or an exchange-traded fund. Warrants, units,
# rights and preferreds are left out of the universe: they are not what a post or a watchlist means.
ASSET_TYPES = ("stock", "etf")
INDICATOR_COLUMNS = (
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "volume_ratio",
)
BAR_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


class Ticker(TimestampMixin, Base):
    """A symbol the system knows: seeded index members, the user's watchlist, Reddit's trending names."""

    __tablename__ = "tickers"
    __table_args__ = (
        CheckConstraint(f"source IN {TICKER_SOURCES!r}", name="source"),
        CheckConstraint(f"asset_type IN {ASSET_TYPES!r}", name="asset_type"),
    )

    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(80))
    industry: Mapped[str | None] = mapped_column(String(200))
    exchange: Mapped[str | None] = mapped_column(String(20))
    # US dollars at the listing snapshot's last sale; None where unknown (ETFs, watchlist-only symbols).
    market_cap: Mapped[float | None] = mapped_column(Float)
    asset_type: Mapped[str | None] = mapped_column(String(8))
    # False once the exchanges' symbol directories stop listing it: kept for history, never deleted.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    source: Mapped[str] = mapped_column(String(12), default="import")


class StockPrice(Base):
    """One daily bar per (ticker, trading date) with the indicators computed from the bars up to it.

    Prices are as traded; `adj_close` is split- and dividend-adjusted. Indicators are computed on the
    adjusted series and expressed on the row's own price scale, so a split never looks like a crash.
    Indicators not yet defined (too little lookback) are NULL, never 0.
    """

    __tablename__ = "stock_prices"
    __table_args__ = (
        Index("ix_stock_prices_trade_date", "trade_date"),
        CheckConstraint("high >= low", name="high_ge_low"),
        CheckConstraint("low >= 0 AND volume >= 0", name="non_negative"),
    )

    # No foreign key to tickers: `ingest` creates the ticker row in the same transaction, and PostgreSQL's
    # per-row FK trigger was half the cost of a bulk load (4.5 s of 8.6 s for 630,000 rows).
    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    adj_close: Mapped[float] = mapped_column(Float)
    volume: Mapped[int] = mapped_column(BigInteger)
    rsi_14: Mapped[float | None] = mapped_column(Float)
    macd: Mapped[float | None] = mapped_column(Float)
    macd_signal: Mapped[float | None] = mapped_column(Float)
    macd_hist: Mapped[float | None] = mapped_column(Float)
    bb_upper: Mapped[float | None] = mapped_column(Float)
    bb_middle: Mapped[float | None] = mapped_column(Float)
    bb_lower: Mapped[float | None] = mapped_column(Float)
    sma_50: Mapped[float | None] = mapped_column(Float)
    sma_200: Mapped[float | None] = mapped_column(Float)
    ema_12: Mapped[float | None] = mapped_column(Float)
    ema_26: Mapped[float | None] = mapped_column(Float)
    volume_ratio: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


# yahoo: its actions; user: `prices split`; adj_close: implied by a vendor adjusted close (no actions)
SPLIT_SOURCES = ("yahoo", "user", "adj_close")
FLAG_KINDS = ("spike", "unadjusted_split", "ohlc_range", "zero_volume", "day_glitch", "manual")


class SplitEvent(Base):
    """A stock split effective at the open of `ex_date`: `ratio` new shares per old one (4.0 for 4:1,
    0.1 for a 1:10 reverse split). Stored prices are as traded, so the close drops by `ratio` that day;
    these events, not jumps in the prices, drive every split adjustment (indicators, holdings, backtests).
    """

    __tablename__ = "split_events"
    __table_args__ = (
        CheckConstraint("ratio > 0", name="ratio_positive"),
        CheckConstraint(f"source IN {SPLIT_SOURCES!r}", name="source"),
    )

    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    ex_date: Mapped[date] = mapped_column(Date, primary_key=True)
    ratio: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class PriceFlag(Base):
    """A data-quality finding on one stored bar; `excluded` bars are left out of indicators and features."""

    __tablename__ = "price_flags"
    __table_args__ = (
        Index("ix_price_flags_trade_date", "trade_date"),
        CheckConstraint(f"kind IN {FLAG_KINDS!r}", name="kind"),
    )

    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    detail: Mapped[str] = mapped_column(String(200))
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class WatchlistEntry(Base):
    """A ticker the user follows (API `watchlist`); kept apart from `tickers.source`, which says where a
    symbol came from and would be lost by a flag stored there."""

    __tablename__ = "watchlist"

    ticker: Mapped[str] = mapped_column(ForeignKey("tickers.symbol", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
