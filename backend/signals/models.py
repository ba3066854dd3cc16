"""`trading_signals`: approved entries and rejected candidates, one per (portfolio, ticker, trading date)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UTCDateTime


class TradingSignal(TimestampMixin, Base):
    __tablename__ = "trading_signals"
    __table_args__ = (
        UniqueConstraint("portfolio_id", "ticker", "trade_date"),
        Index("ix_trading_signals_portfolio_id_status", "portfolio_id", "status"),
        Index("ix_trading_signals_trade_date", "trade_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    ticker: Mapped[str] = mapped_column(String(10))
    trade_date: Mapped[date] = mapped_column(Date)
    signal: Mapped[str] = mapped_column(String(4))
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10))  # pending, active, closed, expired, rejected
    entry_price: Mapped[float] = mapped_column(Float)
    stop_price: Mapped[float | None] = mapped_column(Float)
    target_price: Mapped[float | None] = mapped_column(Float)
    stop_pct: Mapped[float | None] = mapped_column(Float)
    target_pct: Mapped[float | None] = mapped_column(Float)
    risk_reward: Mapped[float | None] = mapped_column(Float)
    position_size_pct: Mapped[float] = mapped_column(Float)
    shares: Mapped[int] = mapped_column(Integer)
    sector: Mapped[str | None] = mapped_column(String(80))
    rsi: Mapped[float | None] = mapped_column(Float)
    macd: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[float | None] = mapped_column(Float)
    sentiment_trend: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(40))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    messages: Mapped[list[str]] = mapped_column(JSON)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fill_price: Mapped[float | None] = mapped_column(Float)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exit_price: Mapped[float | None] = mapped_column(Float)
    exit_reason: Mapped[str | None] = mapped_column(String(20))
    pnl: Mapped[float | None] = mapped_column(Float)
    return_pct: Mapped[float | None] = mapped_column(Float)


class DailyCandidate(TimestampMixin, Base):
    """One of a session's top candidates by expected value, and why it is or is not a signal."""

    __tablename__ = "daily_candidates"
    __table_args__ = (
        UniqueConstraint("portfolio_id", "trade_date", "ticker"),
        Index("ix_daily_candidates_portfolio_id_trade_date", "portfolio_id", "trade_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    trade_date: Mapped[date] = mapped_column(Date)
    ticker: Mapped[str] = mapped_column(String(10))
    rank: Mapped[int] = mapped_column(Integer)
    call: Mapped[str] = mapped_column(String(4))  # the model's BUY / HOLD / SELL
    confidence: Mapped[float] = mapped_column(Float)  # calibrated P(win)
    expected_value: Mapped[float | None] = mapped_column(Float)
    entry_price: Mapped[float | None] = mapped_column(Float)
    stop_price: Mapped[float | None] = mapped_column(Float)
    target_price: Mapped[float | None] = mapped_column(Float)
    is_signal: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON)  # machine-readable; empty for a signal
    why: Mapped[str] = mapped_column(String(400))
    drivers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(40))
    model_trusted: Mapped[bool] = mapped_column(Boolean)
