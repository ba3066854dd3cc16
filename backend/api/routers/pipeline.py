"""Pipeline runs: the `pipeline_runs` record, and queueing the daily chain on the workers."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import ReadDep, SessionDep, WriteDep
from backend.api.errors import ErrorResponse
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, page
from backend.api.params import SYMBOL_PATTERN
from backend.market import service as market_service
from backend.market.symbols import normalize_symbols
from backend.pipeline import runs as runs_service
from backend.pipeline.schemas import PipelineQueued, PipelineRunRead, RunStatus
from backend.tasks import dispatch

router = APIRouter(prefix="/pipeline", tags=["pipeline"])


class PipelineRunIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"as_of": "2013-03-01", "tickers": ["AAPL", "MSFT"]}]}
    )

    as_of: date | None = Field(
        default=None, description="trading date; default: the newest stored session that has settled"
    )
    tickers: list[Annotated[str, Field(pattern=SYMBOL_PATTERN)]] | None = Field(
        default=None, max_length=500, description="default: the watchlist, holdings and trending tickers"
    )


@router.get("/runs", response_model=Page[PipelineRunRead], summary="Pipeline runs")
async def list_runs(
    session: SessionDep,
    _: ReadDep,
    task: Annotated[
        str | None,
        Query(max_length=64, pattern=r"^[a-z0-9_:\-]+$", description="prices, features, predictions, ..."),
    ] = None,
    status: Annotated[RunStatus | None, Query(description="running, success, failed or skipped")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[PipelineRunRead]:
    """Each step's run per trading date, newest first (the same rows as `tft-trader runs list`)."""
    before = decode_cursor(cursor, date, int)
    rows = await runs_service.list_runs(
        session=session,
        task=task,
        status=status,
        before=(before[0], before[1]) if before else None,
        limit=limit + 1,
    )
    rows, next_cursor = page(list(rows), limit, lambda r: (r.trading_date, r.id))
    return Page(items=[PipelineRunRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/runs",
    status_code=202,
    response_model=PipelineQueued,
    summary="Queue the daily chain (write key)",
    responses={503: {"model": ErrorResponse, "description": "Redis (the task queue) is unreachable"}},
)
async def queue_run(
    session: SessionDep, _: WriteDep, body: Annotated[PipelineRunIn | None, Body()] = None
) -> PipelineQueued:
    """prices -> features -> predictions -> signals for one trading date on the Celery workers (like
    `tft-trader pipeline enqueue`); each step records itself in `GET /api/v1/pipeline/runs`."""
    wanted = body or PipelineRunIn()
    day = wanted.as_of or await market_service.default_as_of(session=session)
    tickers = normalize_symbols(wanted.tickers) if wanted.tickers else None
    # Celery's client is blocking: off the event loop.
    return await asyncio.to_thread(dispatch.enqueue_daily, as_of=day, tickers=tickers)
