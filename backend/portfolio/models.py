"""Paper portfolios: the live one and one per backtest run, each with its positions, trades and equity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UTCDateTime

LIVE_PORTFOLIO = "live"


class Portfolio(TimestampMixin, Base):
    """A paper book's header: cash, high-water mark, kill switch and how far it has been processed."""

    __tablename__ = "portfolios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # "live" or "backtest"
    starting_capital: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    peak_equity: Mapped[float] = mapped_column(Float)
    kill_switch: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    kill_switch_reason: Mapped[str | None] = mapped_column(String(200))
    last_session: Mapped[date | None] = mapped_column(Date)
    last_signal_date: Mapped[date | None] = mapped_column(Date)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # the risk settings it runs with


class PositionRow(Base):
    """An open position (one per ticker and portfolio); `exit_order` sells it at the next open."""

    __tablename__ = "positions"

    portfolio_id: Mapped[int] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    signal_date: Mapped[date | None] = mapped_column(Date)
    shares: Mapped[int] = mapped_column(Integer)
    entry_price: Mapped[float] = mapped_column(Float)
    fill_price: Mapped[float] = mapped_column(Float)
    entry_date: Mapped[date] = mapped_column(Date)
    stop_price: Mapped[float] = mapped_column(Float)
    target_price: Mapped[float] = mapped_column(Float)
    cost_basis: Mapped[float] = mapped_column(Float)
    sector: Mapped[str | None] = mapped_column(String(80))
    last_price: Mapped[float | None] = mapped_column(Float)
    highest_close: Mapped[float | None] = mapped_column(Float)
    exit_order: Mapped[str | None] = mapped_column(String(20))


class TradeRow(Base):
    """A closed round trip, after slippage and both commissions."""

    __tablename__ = "trades"
    __table_args__ = (UniqueConstraint("portfolio_id", "ticker", "entry_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"), index=True)
    ticker: Mapped[str] = mapped_column(String(10))
    signal_date: Mapped[date | None] = mapped_column(Date)
    shares: Mapped[int] = mapped_column(Integer)
    entry_date: Mapped[date] = mapped_column(Date)
    entry_fill: Mapped[float] = mapped_column(Float)
    exit_date: Mapped[date] = mapped_column(Date)
    exit_price: Mapped[float] = mapped_column(Float)
    exit_fill: Mapped[float] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(20))
    cost_basis: Mapped[float] = mapped_column(Float)
    proceeds: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    return_pct: Mapped[float] = mapped_column(Float)


class EquitySnapshotRow(Base):
    """The book marked at a session's close."""

    __tablename__ = "equity_snapshots"

    portfolio_id: Mapped[int] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    cash: Mapped[float] = mapped_column(Float)
    positions_value: Mapped[float] = mapped_column(Float)
    equity: Mapped[float] = mapped_column(Float)
    n_positions: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


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
