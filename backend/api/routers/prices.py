"""Daily bars with their indicators for a date range."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from backend.api.cache import cached
from backend.api.deps import ReadDep, SessionDep
from backend.api.pagination import Cursor, Limit, MoneyPage, Page, decode_cursor, page
from backend.api.params import EndDate, StartDate, Symbol, check_range
from backend.market import quality as market_quality
from backend.market import service as market_service
from backend.market.schemas import PriceBarRead, PriceFlagRead

router = APIRouter(prefix="/prices", tags=["prices"])


@router.get("/{symbol}", response_model=MoneyPage[PriceBarRead], summary="OHLCV and indicators")
@cached
async def prices(
    symbol: Symbol,
    session: SessionDep,
    _: ReadDep,
    start: StartDate = None,
    end: EndDate = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> MoneyPage[PriceBarRead]:
    """Bars oldest first from `start` to `end` (inclusive); 404 for an unknown ticker."""
    check_range(start, end)
    ticker = await market_service.require_ticker(session=session, symbol=symbol)
    after = decode_cursor(cursor, date)
    rows = await market_service.bars(
        session=session,
        symbol=ticker.symbol,
        start=start,
        end=end,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.trade_date,))
    return MoneyPage(items=[PriceBarRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{symbol}/flags", response_model=Page[PriceFlagRead], summary="Data-quality flags")
async def flags(
    symbol: Symbol, session: SessionDep, _: ReadDep, limit: Limit = 500, cursor: Cursor = None
) -> Page[PriceFlagRead]:
    """The ticker's stored data-quality flags oldest first (spikes that revert, unadjusted splits, open or
    close outside the day's range, zero volume, bars excluded by hand); 404 for an unknown ticker."""
    ticker = await market_service.require_ticker(session=session, symbol=symbol)
    after = decode_cursor(cursor, date, str)
    rows = await market_quality.flags_page(
        session=session, ticker=ticker.symbol, after=(after[0], after[1]) if after else None, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.trade_date, r.kind))
    return Page(items=[PriceFlagRead.model_validate(r) for r in rows], next_cursor=next_cursor)
