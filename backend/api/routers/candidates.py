"""`GET /api/v1/candidates`: a session's ranked candidates and why each is or is not a signal."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.cache import cached
from backend.api.deps import ReadDep, SessionDep
from backend.api.pagination import Cursor, Limit, decode_cursor, page
from backend.portfolio import service as portfolio_service
from backend.portfolio.models import LIVE_PORTFOLIO
from backend.signals import service as signals_service
from backend.signals.schemas import CandidateRead, CandidatesRead

router = APIRouter(tags=["signals"])


@router.get("/candidates", response_model=CandidatesRead, summary="The day's ranked candidates")
@cached
async def candidates(
    session: SessionDep,
    _: ReadDep,
    date_: Annotated[
        date | None,
        Query(alias="date", description="trading date (ISO-8601); default: the newest with candidates"),
    ] = None,
    portfolio: Annotated[
        str,
        Query(
            max_length=40,
            pattern=r"^[A-Za-z0-9_\-]+$",
            description="`live`, or a backtest's book `backtest-<run id>`",
        ),
    ] = LIVE_PORTFOLIO,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> CandidatesRead:
    """The top candidates by expected value of a session's close with P(win), EV, entry/stop/target, top
    drivers and why each is or is not a signal (the same rows as `tft-trader signals candidates`); 404 for
    an unknown portfolio."""
    after = decode_cursor(cursor, int)
    if (
        portfolio == LIVE_PORTFOLIO
        and await portfolio_service.get_portfolio(session=session, name=portfolio) is None
    ):
        # Before the first pipeline run: nothing yet, not an error (an unknown backtest book is a 404).
        empty = CandidatesRead(
            trade_date=date_, portfolio=portfolio, model_version=None, model_trusted=None, n_signals=0,
            items=[], next_cursor=None,
        )  # fmt: skip
        return empty
    found, rows = await signals_service.list_candidates(
        session=session, trade_date=date_, portfolio=portfolio
    )
    items = [CandidateRead.model_validate(r) for r in rows]
    first = items[0] if items else None
    n_signals = sum(1 for c in items if c.is_signal)
    if after is not None:
        items = [c for c in items if c.rank > after[0]]
    items, next_cursor = page(items[: limit + 1], limit, lambda c: (c.rank,))
    return CandidatesRead(
        trade_date=found,
        portfolio=portfolio,
        model_version=first.model_version if first else None,
        model_trusted=first.model_trusted if first else None,
        n_signals=n_signals,
        items=items,
        next_cursor=next_cursor,
    )
