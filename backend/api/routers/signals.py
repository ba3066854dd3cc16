"""The live portfolio's signals: filtered lists and one signal with its explanation and risk decision."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from backend.api.cache import cached
from backend.api.deps import ReadDep, SessionDep
from backend.api.pagination import Cursor, Limit, MoneyPage, decode_cursor, page
from backend.api.params import SYMBOL_PATTERN, EndDate, StartDate, check_range
from backend.portfolio import service as portfolio_service
from backend.portfolio.models import LIVE_PORTFOLIO
from backend.signals import service as signals_service
from backend.signals.schemas import RiskDecisionRead, SignalDetailRead, SignalRead

router = APIRouter(prefix="/signals", tags=["signals"])
Status = Literal["pending", "active", "closed", "expired", "rejected"]


@router.get("", response_model=MoneyPage[SignalRead], summary="List signals")
@cached
async def list_signals(
    session: SessionDep,
    _: ReadDep,
    status: Annotated[list[Status] | None, Query(description="one or more statuses")] = None,
    ticker: Annotated[str | None, Query(pattern=SYMBOL_PATTERN, examples=["AAPL"])] = None,
    start: StartDate = None,
    end: EndDate = None,
    min_confidence: Annotated[float | None, Query(ge=0.0, le=1.0, description="0..1")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MoneyPage[SignalRead]:
    """Signals of the live portfolio, newest first."""
    check_range(start, end)
    portfolio = await portfolio_service.get_portfolio(session=session, name=LIVE_PORTFOLIO)
    if portfolio is None:  # before the first pipeline run there are no signals yet
        return MoneyPage(items=[], next_cursor=None)
    before = decode_cursor(cursor, date, int)
    rows = await signals_service.list_signals(
        session=session,
        portfolio_id=portfolio.id,
        statuses=status or (),
        ticker=ticker.upper() if ticker else None,
        start=start,
        end=end,
        min_confidence=min_confidence,
        before=(before[0], before[1]) if before else None,
        limit=limit + 1,
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.trade_date, r.id))
    return MoneyPage(items=[SignalRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{signal_id}", response_model=SignalDetailRead, summary="One signal with its why")
@cached
async def get_signal(
    signal_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, _: ReadDep
) -> SignalDetailRead:
    """The signal, the model's explanation, the indicator and sentiment values it saw, the risk decision."""
    portfolio = await portfolio_service.live_portfolio(session=session, create=False, lock=False)
    row = await signals_service.get_signal(session=session, portfolio_id=portfolio.id, signal_id=signal_id)
    return SignalDetailRead(
        **SignalRead.model_validate(row).model_dump(),
        explanation=row.explanation or {},
        indicators={"rsi_14": row.rsi, "macd": row.macd},
        sentiment={"score": row.sentiment, "trend": row.sentiment_trend},
        risk=RiskDecisionRead(
            approved=row.status != "rejected", reasons=list(row.reasons), messages=list(row.messages)
        ),
    )
