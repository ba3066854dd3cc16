"""Backtest runs: list and detail (equity curves and metrics of strategy, baselines and buy-and-hold)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from backend.api.deps import ReadDep, SessionDep
from backend.api.pagination import Cursor, Limit, MoneyPage, decode_cursor, page
from backend.backtest import runs as backtest_runs
from backend.backtest.schemas import BacktestDetailRead, BacktestRunRead

router = APIRouter(prefix="/backtests", tags=["backtests"])


@router.get("", response_model=MoneyPage[BacktestRunRead], summary="Backtest runs")
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
async def get_run(
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, _: ReadDep
) -> BacktestDetailRead:
    """A run with its settings and results (metrics and equity curves)."""
    return BacktestDetailRead.model_validate(await backtest_runs.get_run(session=session, run_id=run_id))
