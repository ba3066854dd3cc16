"""Reading stored signals (the API and the dashboard): filtered, newest first, one with its why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import NotFound
from backend.signals.models import TradingSignal


async def list_signals(
    *,
    session: AsyncSession,
    portfolio_id: int,
    statuses: Sequence[str] = (),
    ticker: str | None = None,
    start: date | None = None,
    end: date | None = None,
    min_confidence: float | None = None,
    before: tuple[date, int] | None = None,
    limit: int = 100,
) -> list[TradingSignal]:
    """A portfolio's signals newest first (trading date, then id); `before` is the cursor of the last row."""
    query = select(TradingSignal).where(TradingSignal.portfolio_id == portfolio_id)
    if statuses:
        query = query.where(TradingSignal.status.in_(list(statuses)))
    if ticker:
        query = query.where(TradingSignal.ticker == ticker)
    if start is not None:
        query = query.where(TradingSignal.trade_date >= start)
    if end is not None:
        query = query.where(TradingSignal.trade_date <= end)
    if min_confidence is not None:
        query = query.where(TradingSignal.confidence >= min_confidence)
    if before is not None:
        day, signal_id = before
        query = query.where(
            (TradingSignal.trade_date < day)
            | ((TradingSignal.trade_date == day) & (TradingSignal.id < signal_id))
        )
    query = query.order_by(TradingSignal.trade_date.desc(), TradingSignal.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def get_signal(*, session: AsyncSession, portfolio_id: int, signal_id: int) -> TradingSignal:
    row = await session.get(TradingSignal, signal_id)
    if row is None or row.portfolio_id != portfolio_id:
        raise NotFound(f"no signal {signal_id}: GET /api/v1/signals lists them")
    return row
