"""Backtest runs: list and detail (equity curves and metrics of strategy, baselines and buy-and-hold)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from backend.api.cache import cached
from backend.api.deps import ReadDep, SessionDep, WriteDep
from backend.api.errors import ErrorResponse
from backend.api.pagination import Cursor, Limit, MoneyPage, decode_cursor, page
from backend.api.params import SYMBOL_PATTERN
from backend.backtest import runs as backtest_runs
from backend.backtest import service as backtest_service
from backend.backtest.schemas import BacktestDetailRead, BacktestQueued, BacktestRunRead
from backend.core.errors import DataSourceError
from backend.market.symbols import normalize_symbols
from backend.tasks import dispatch

router = APIRouter(prefix="/backtests", tags=["backtests"])


class BacktestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"start": "2010-01-04", "end": "2010-12-31", "tickers": ["AAPL", "MSFT", "IBM"]}]
        },
    )

    start: date = Field(description="first session replayed")
    end: date = Field(description="last session replayed")
    tickers: list[Annotated[str, Field(pattern=SYMBOL_PATTERN)]] | None = Field(
        default=None, min_length=1, max_length=500, description="default: every ticker with enough history"
    )
    retrain_every: int | None = Field(
        default=None,
        ge=1,
        le=2520,
        description="sessions between retrains (default BACKTEST__RETRAIN_EVERY_DAYS)",
    )


@router.get("", response_model=MoneyPage[BacktestRunRead], summary="Backtest runs")
@cached
async def list_runs(
    session: SessionDep, _: ReadDep, limit: Limit = 100, cursor: Cursor = None
) -> MoneyPage[BacktestRunRead]:
    """Runs newest first (without their results; see the detail)."""
    before = decode_cursor(cursor, int)
    rows = await backtest_runs.list_runs(
        session=session, before_id=before[0] if before else None, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.id,))
    return MoneyPage(items=[BacktestRunRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{run_id}", response_model=BacktestDetailRead, summary="One backtest run")
@cached
async def get_run(
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, _: ReadDep
) -> BacktestDetailRead:
    """A run with its settings, the metrics and equity curves of the strategy, both rule baselines and
    buy-and-hold, and the caveats; `results` holds everything else the replay reported."""
    return BacktestDetailRead.from_run(await backtest_runs.get_run(session=session, run_id=run_id))


@router.post(
    "",
    status_code=202,
    response_model=BacktestQueued,
    summary="Start a backtest on the workers (write key)",
    responses={503: {"model": ErrorResponse, "description": "Redis (the task queue) is unreachable"}},
)
async def start_run(body: BacktestIn, session: SessionDep, _: WriteDep) -> BacktestQueued:
    """Checks the request (dates inside the stored history, known tickers with enough history to train;
    422 names what is wrong), records a `queued` run and sends it to the Celery workers. The detail shows
    it `running`, then `finished` with the results (or `failed` with the error)."""
    request = backtest_service.BacktestRequest(
        start=body.start,
        end=body.end,
        tickers=normalize_symbols(body.tickers) if body.tickers else None,
        retrain_every=body.retrain_every,
    )
    async with session.begin():
        run = await backtest_service.create_queued(session=session, request=request)
        run_id = run.id
    try:
        task_id = await asyncio.to_thread(
            dispatch.enqueue_backtest,
            run_id=run_id,
            start=request.start,
            end=request.end,
            tickers=request.tickers,
        )
    except DataSourceError as exc:
        async with session.begin():
            await backtest_runs.mark_failed(session=session, run_id=run_id, error=f"not queued: {exc}")
        raise
    return BacktestQueued(run_id=run_id, task_id=task_id)
