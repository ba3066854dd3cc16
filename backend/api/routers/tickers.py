"""Tickers: list and search, detail, and the user's watchlist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.api.deps import ReadDep, SessionDep, WriteDep
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, page
from backend.api.params import Symbol
from backend.market import service as market_service
from backend.market.schemas import PriceBarRead, TickerDetailRead, TickerRead

router = APIRouter(prefix="/tickers", tags=["tickers"])


@router.get("", response_model=Page[TickerRead], summary="List or search tickers")
async def list_tickers(
    session: SessionDep,
    _: ReadDep,
    q: Annotated[
        str | None, Query(max_length=100, description="part of the symbol or company name", examples=["app"])
    ] = None,
    watchlist: Annotated[bool, Query(description="only tickers on the watchlist")] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[TickerRead]:
    """Known tickers by symbol; `q` searches symbol and name."""
    after = decode_cursor(cursor, str)
    rows = await market_service.list_tickers(
        session=session, query=q, watchlist_only=watchlist, after=after[0] if after else None, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda t: (t.symbol,))
    listed = await market_service.watchlisted(session=session, symbols=[t.symbol for t in rows])
    items = [TickerRead.model_validate(t).model_copy(update={"watchlist": t.symbol in listed}) for t in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{symbol}", response_model=TickerDetailRead, summary="One ticker with its latest bar")
async def get_ticker(symbol: Symbol, session: SessionDep, _: ReadDep) -> TickerDetailRead:
    """The ticker (404 when unknown), whether it is watchlisted, its latest bar and how many are stored."""
    ticker = await market_service.require_ticker(session=session, symbol=symbol)
    latest = await market_service.latest_bar(session=session, symbol=ticker.symbol)
    counts = await market_service.bar_counts(session=session, tickers=[ticker.symbol])
    listed = await market_service.watchlisted(session=session, symbols=[ticker.symbol])
    return TickerDetailRead(
        **TickerRead.model_validate(ticker).model_dump(exclude={"watchlist"}),
        watchlist=ticker.symbol in listed,
        latest_bar=PriceBarRead.model_validate(latest) if latest else None,
        bars_stored=counts.get(ticker.symbol, 0),
    )


@router.put(
    "/{symbol}/watchlist",
    status_code=204,
    response_class=Response,
    summary="Add a ticker to the watchlist (write key)",
)
async def add_to_watchlist(symbol: Symbol, session: SessionDep, _: WriteDep) -> Response:
    """Idempotent; 404 for a ticker the system does not know."""
    async with session.begin():
        await market_service.add_to_watchlist(session=session, symbol=symbol)
    return Response(status_code=204)


@router.delete(
    "/{symbol}/watchlist",
    status_code=204,
    response_class=Response,
    summary="Remove a ticker from the watchlist (write key)",
)
async def remove_from_watchlist(symbol: Symbol, session: SessionDep, _: WriteDep) -> Response:
    """Idempotent; 404 for a ticker the system does not know."""
    async with session.begin():
        await market_service.require_ticker(session=session, symbol=symbol)
        await market_service.remove_from_watchlist(session=session, symbol=symbol)
    return Response(status_code=204)
