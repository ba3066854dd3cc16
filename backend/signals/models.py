"""`daily_candidates`: a session's top candidates and why each is or is not a signal (`trading_signals`,
the book's record of its signals, is in `backend.portfolio.models`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin

# The book stores its signals (`trading_signals` is the portfolio's record); re-exported for the signal code.
from backend.portfolio.models import TradingSignal

__all__ = ["DailyCandidate", "TradingSignal"]


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
