"""Reading stored backtest runs (light on imports: the API lists them without the ML stack)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.backtest.models import BacktestRun
from backend.core.calendar import utcnow
from backend.core.errors import NotFound


async def get_run(*, session: AsyncSession, run_id: int) -> BacktestRun:
    run = await session.get(BacktestRun, run_id)
    if run is None:
        raise NotFound(f"no backtest run {run_id}")
    return run


async def list_runs(
    *, session: AsyncSession, before_id: int | None = None, limit: int = 100
) -> list[BacktestRun]:
    """Backtest runs newest first, before the cursor id."""
    query = select(BacktestRun)
    if before_id is not None:
        query = query.where(BacktestRun.id < before_id)
    return list((await session.scalars(query.order_by(BacktestRun.id.desc()).limit(limit))).all())


async def mark_failed(*, session: AsyncSession, run_id: int, error: str) -> None:
    """End a run `failed` with why (e.g. a queued run the workers never received)."""
    await session.execute(
        update(BacktestRun)
        .where(BacktestRun.id == run_id)
        .values(status="failed", error=error[:2000], finished_at=utcnow())
    )
