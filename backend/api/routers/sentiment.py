"""Reddit sentiment: trending tickers, a ticker's daily series and its recent posts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import ReadDep, SessionDep
from backend.api.errors import ApiError
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor, page
from backend.api.params import EndDate, StartDate, Symbol, check_range
from backend.core.calendar import utcnow
from backend.market import service as market_service
from backend.sentiment import service as sentiment_service
from backend.sentiment.schemas import PostRead, SentimentDailyRead, TrendingRead

router = APIRouter(prefix="/sentiment", tags=["sentiment"])


@router.get("/trending", response_model=Page[TrendingRead], summary="Most-mentioned tickers now")
async def trending(
    session: SessionDep,
    _: ReadDep,
    at: Annotated[
        datetime | None, Query(description="end of the window (ISO-8601 with offset); default now")
    ] = None,
    hours: Annotated[int, Query(ge=1, le=24 * 30, description="window length in hours")] = 24,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[TrendingRead]:
    """Tickers by mentions in the `hours` before `at`, most first."""
    if at is not None and at.tzinfo is None:
        raise ApiError(422, "at needs a UTC offset, e.g. 2013-03-01T21:00:00Z")
    offset = (decode_cursor(cursor, int) or (0,))[0]
    if offset < 0:
        raise ApiError(400, "cursor is not one this API issued", code="bad_cursor")
    rows = await sentiment_service.trending(
        session=session, now=at or utcnow(), hours=hours, top_n=offset + limit + 1
    )
    window = rows[offset : offset + limit]
    items = [TrendingRead(rank=offset + i + 1, ticker=t, mentions=n) for i, (t, n) in enumerate(window)]
    more = len(rows) > offset + limit
    return Page(items=items, next_cursor=encode_cursor(offset + limit) if more else None)


@router.get("/{symbol}/daily", response_model=Page[SentimentDailyRead], summary="Daily sentiment series")
async def daily(
    symbol: Symbol,
    session: SessionDep,
    _: ReadDep,
    start: StartDate = None,
    end: EndDate = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> Page[SentimentDailyRead]:
    """A ticker's daily aggregates oldest first; 404 for an unknown ticker."""
    check_range(start, end)
    ticker = await market_service.require_ticker(session=session, symbol=symbol)
    after = decode_cursor(cursor, date)
    rows = await sentiment_service.daily_series(
        session=session,
        ticker=ticker.symbol,
        start=start,
        end=end,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.trade_date,))
    return Page(items=[SentimentDailyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{symbol}/posts", response_model=Page[PostRead], summary="Recent posts about a ticker")
async def posts(
    symbol: Symbol, session: SessionDep, _: ReadDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[PostRead]:
    """Posts and comments that mention the ticker, newest first; `synthetic` marks the sample feed."""
    ticker = await market_service.require_ticker(session=session, symbol=symbol)
    before = decode_cursor(cursor, str, int)
    key = None
    if before is not None:
        try:
            at = datetime.fromisoformat(before[0])
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise ApiError(400, "cursor is not one this API issued", code="bad_cursor")
        key = (at, before[1])
    rows = await sentiment_service.recent_posts(
        session=session, ticker=ticker.symbol, before=key, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda r: (r[0].created_at.isoformat(), r[0].id))
    items = [PostRead.model_validate({**_post_fields(post), "sentiment": score}) for post, score in rows]
    return Page(items=items, next_cursor=next_cursor)


def _post_fields(post: object) -> dict[str, object]:
    return {name: getattr(post, name) for name in PostRead.model_fields if name != "sentiment"}
