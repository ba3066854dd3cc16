"""Signals and the day's candidates in the database: stored signals read for the API and the dashboard
(filtered, newest first, one with its why); the day's ranked candidates upserted per (portfolio, trade
date, ticker) and read back by date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import NotFound
from backend.core.settings import RiskSettings
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.portfolio.models import LIVE_PORTFOLIO, Portfolio
from backend.signals.candidates import CandidateRow, rank_candidates
from backend.signals.generate import GenerationReport
from backend.signals.market import MarketDay
from backend.signals.models import DailyCandidate, TradingSignal

if TYPE_CHECKING:  # pandas costs about a second at import: `signals candidates` reads rows only
    import pandas as pd

CANDIDATE_FIELDS = tuple(CandidateRow.__dataclass_fields__)


async def store_candidates(*, session: AsyncSession, portfolio_id: int, rows: Sequence[CandidateRow]) -> int:
    """Replace each session's candidates of `rows` for the portfolio (the top N can change on a rerun)."""
    if not rows:
        return 0
    table = table_of(DailyCandidate)
    days = sorted({r.trade_date for r in rows})
    keep = {(r.trade_date, r.ticker) for r in rows}
    existing = await session.execute(
        select(table.c.trade_date, table.c.ticker).where(
            table.c.portfolio_id == portfolio_id, table.c.trade_date.in_(days)
        )
    )
    stale = [(d, t) for d, t in existing.all() if (d, t) not in keep]
    for day, ticker in stale:
        await session.execute(
            delete(table).where(
                table.c.portfolio_id == portfolio_id, table.c.trade_date == day, table.c.ticker == ticker
            )
        )
    values = [{"portfolio_id": portfolio_id, **r.as_dict()} for r in rows]
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["portfolio_id", "trade_date", "ticker"],
        set_={c: stmt.excluded[c] for c in CANDIDATE_FIELDS if c not in ("trade_date", "ticker")}
        | {"updated_at": func.now()},
    )
    await session.execute(stmt, values)
    return len(values)


async def record_candidates(
    *,
    session: AsyncSession,
    portfolio_id: int,
    predictions: pd.DataFrame,
    report: GenerationReport,
    market: MarketDay,
    risk: RiskSettings,
) -> list[CandidateRow]:
    """Rank the session's candidates after its signal run and store them for the portfolio."""
    rows = rank_candidates(predictions, report, market, risk)
    await store_candidates(session=session, portfolio_id=portfolio_id, rows=rows)
    return rows


async def list_candidates(
    *, session: AsyncSession, trade_date: date | None = None, portfolio: str = LIVE_PORTFOLIO
) -> tuple[date | None, list[DailyCandidate]]:
    """A session's candidates by rank (default: the portfolio's newest session with candidates)."""
    found = await session.scalar(select(Portfolio).where(Portfolio.name == portfolio))
    if found is None:
        raise NotFound(f"no portfolio {portfolio!r}: run `tft-trader pipeline run` first")
    if trade_date is None:
        trade_date = await session.scalar(
            select(func.max(DailyCandidate.trade_date)).where(DailyCandidate.portfolio_id == found.id)
        )
        if trade_date is None:
            return None, []
    rows = await session.scalars(
        select(DailyCandidate)
        .where(DailyCandidate.portfolio_id == found.id, DailyCandidate.trade_date == trade_date)
        .order_by(DailyCandidate.rank)
    )
    return trade_date, list(rows.all())


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
