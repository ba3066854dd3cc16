"""The live paper portfolio: summary, positions, closed trades, equity curve, metrics, kill switch."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from backend.api.cache import cached
from backend.api.deps import ReadDep, SessionDep, WriteDep
from backend.api.pagination import Cursor, Limit, MoneyPage, decode_cursor, page
from backend.api.params import EndDate, StartDate, check_range
from backend.pipeline import notifications
from backend.portfolio import service as portfolio_service
from backend.portfolio.schemas import (
    CURRENCY,
    EquityPointRead,
    PortfolioSummaryRead,
    PositionRead,
    TradeRead,
)

router = APIRouter(prefix="/portfolio", tags=["portfolio"])


class MetricsRead(BaseModel):
    currency: str = CURRENCY
    as_of: date | None
    performance: dict[str, Any] | None = Field(
        description="equity metrics (return, CAGR, Sharpe, Sortino, drawdown, exposure, monthly returns) and "
        "trade metrics (count, win rate, profit factor, by exit reason); null before the first session"
    )


class HaltIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "earnings week"}]})

    reason: str = Field(default="set by hand", min_length=1, max_length=200)


@router.get("", response_model=PortfolioSummaryRead, summary="Portfolio summary")
@cached
async def summary(session: SessionDep, _: ReadDep) -> PortfolioSummaryRead:
    """Equity, cash, today's and total P&L, drawdown against the halt limit, kill switch."""
    return await portfolio_service.summary(session=session)


@router.get("/positions", response_model=MoneyPage[PositionRead], summary="Open positions")
@cached
async def positions(
    session: SessionDep, _: ReadDep, limit: Limit = 100, cursor: Cursor = None
) -> MoneyPage[PositionRead]:
    """Holdings marked at their last price, with unrealised P&L, by ticker."""
    report = await portfolio_service.report(session=session, with_performance=False)
    after = decode_cursor(cursor, str)
    rows = sorted(
        (p for p in report.positions if after is None or p.ticker > after[0]), key=lambda p: p.ticker
    )
    items, next_cursor = page(rows[: limit + 1], limit, lambda p: (p.ticker,))
    return MoneyPage(items=items, next_cursor=next_cursor)


@router.get("/trades", response_model=MoneyPage[TradeRead], summary="Closed trades")
@cached
async def trades(
    session: SessionDep, _: ReadDep, limit: Limit = 100, cursor: Cursor = None
) -> MoneyPage[TradeRead]:
    """Closed round trips newest first, after slippage and commissions."""
    portfolio = await portfolio_service.live_portfolio(session=session, create=False, lock=False)
    after = decode_cursor(cursor, int)
    rows = await portfolio_service.closed_trades(
        session=session, portfolio_id=portfolio.id, after_id=after[0] if after else None, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda t: (t.id,))
    return MoneyPage(items=[TradeRead.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.get("/equity", response_model=MoneyPage[EquityPointRead], summary="Equity curve")
@cached
async def equity(
    session: SessionDep,
    _: ReadDep,
    start: StartDate = None,
    end: EndDate = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> MoneyPage[EquityPointRead]:
    """The book marked at each session's close, oldest first."""
    check_range(start, end)
    portfolio = await portfolio_service.live_portfolio(session=session, create=False, lock=False)
    after = decode_cursor(cursor, date)
    rows = await portfolio_service.equity_curve(
        session=session,
        portfolio_id=portfolio.id,
        start=start,
        end=end,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.trade_date,))
    return MoneyPage(items=[EquityPointRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/metrics", response_model=MetricsRead, summary="Performance metrics")
@cached
async def metrics(session: SessionDep, _: ReadDep) -> MetricsRead:
    """The same metrics as `tft-trader portfolio show` and the backtests."""
    report = await portfolio_service.report(session=session, with_performance=True)
    return MetricsRead(as_of=report.as_of, performance=report.performance)


@router.post("/halt", response_model=PortfolioSummaryRead, summary="Kill switch on (write key)")
async def halt(
    session: SessionDep, _: WriteDep, body: Annotated[HaltIn | None, Body()] = None
) -> PortfolioSummaryRead:
    """No new entries until resumed; holdings keep their stops and targets."""
    reason = (body or HaltIn()).reason
    async with session.begin():
        report = await portfolio_service.set_kill_switch(session=session, on=True, reason=reason)
    await notifications.publish_kill_switch(on=True, reason=reason)
    return PortfolioSummaryRead.model_validate(
        report.model_dump(include=set(PortfolioSummaryRead.model_fields))
    )


@router.post("/resume", response_model=PortfolioSummaryRead, summary="Kill switch off (write key)")
async def resume(session: SessionDep, _: WriteDep) -> PortfolioSummaryRead:
    """New entries allowed again; the drawdown is measured from today's equity."""
    async with session.begin():
        report = await portfolio_service.set_kill_switch(session=session, on=False)
    await notifications.publish_kill_switch(on=False, reason=None)
    return PortfolioSummaryRead.model_validate(
        report.model_dump(include=set(PortfolioSummaryRead.model_fields))
    )
