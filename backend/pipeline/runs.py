"""`pipeline_runs` service: claim a (task, trading date), finish it, recover runs whose worker died.

The unique row is the idempotency key: a step whose row says `success` is not run again for that date,
and a row still `running` past its deadline (the task's hard time limit) belongs to a killed worker and is
marked failed by whichever run looks next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import utcnow
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.pipeline.models import PipelineRun

KILLED = "killed midway: the worker stopped before the run finished (found by a later run)"
ClaimState = Literal["claimed", "done", "busy"]


@dataclass
class Claim:
    state: ClaimState
    run: PipelineRun


async def get(*, session: AsyncSession, task: str, trading_date: date) -> PipelineRun | None:
    """The run of `task` for `trading_date`, if any."""
    return await session.scalar(
        select(PipelineRun).where(PipelineRun.task == task, PipelineRun.trading_date == trading_date)
    )


async def fail_stale(*, session: AsyncSession, now: datetime | None = None) -> list[PipelineRun]:
    """Mark failed every `running` row past its deadline (its worker was killed); returns those runs."""
    now = now or utcnow()
    result = await session.scalars(
        update(PipelineRun)
        .where(PipelineRun.status == "running", PipelineRun.deadline_at < now)
        .values(status="failed", error=KILLED, finished_at=now)
        .returning(PipelineRun)
    )
    return list(result.all())


async def claim(
    *,
    session: AsyncSession,
    task: str,
    trading_date: date,
    task_id: str | None,
    deadline: datetime,
    rerun: bool = False,
    resume: bool = False,
) -> Claim:
    """Take the (task, trading date) row for this attempt.

    Returns `done` when it already succeeded and `rerun` is off (a skipped or failed run is taken again:
    the step before may have succeeded since), `busy` when another live
    attempt holds it, else `claimed` with the row set to `running`. A row held by the same Celery task id
    is a redelivery or retry of this very task: the attempt before it is over, so it is taken over (and
    counted in `attempts`).
    """
    now = utcnow()
    values = {
        "task": task,
        "trading_date": trading_date,
        "status": "running",
        "started_at": now,
        "deadline_at": deadline,
        "counts": {},
        "task_id": task_id,
        "attempts": 1,
    }
    inserted = await session.execute(
        dialect_insert(session, table_of(PipelineRun))
        .values(values)
        .on_conflict_do_nothing(index_elements=["task", "trading_date"])
    )
    query = select(PipelineRun).where(PipelineRun.task == task, PipelineRun.trading_date == trading_date)
    run = (await session.scalars(query.with_for_update().execution_options(populate_existing=True))).one()
    if inserted.rowcount:  # type: ignore[attr-defined]
        return Claim("claimed", run)
    if run.status == "success" and not rerun:
        return Claim("done", run)
    if run.status == "running" and run.task_id != task_id and run.deadline_at >= now:
        return Claim("busy", run)
    if resume and run.status == "running" and run.task_id == task_id:
        return Claim("claimed", run)  # the same attempt, back to collect what its batches stored
    run.status, run.started_at, run.deadline_at, run.finished_at = "running", now, deadline, None
    run.error, run.counts, run.task_id, run.attempts = None, {}, task_id, run.attempts + 1
    await session.flush()
    return Claim("claimed", run)


async def finish(
    *,
    session: AsyncSession,
    run_id: int,
    status: Literal["success", "failed", "skipped"],
    counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> PipelineRun:
    """Close a run with its outcome; returns the updated row."""
    run = await session.get(PipelineRun, run_id, populate_existing=True, with_for_update=True)
    if run is None:  # pragma: no cover - rows are never deleted
        raise LookupError(f"pipeline run {run_id} vanished")
    run.status, run.finished_at, run.error = status, utcnow(), error
    if counts is not None:
        run.counts = counts
    await session.flush()
    return run


async def note(*, session: AsyncSession, run_id: int, counts: dict[str, Any]) -> None:
    """Progress of a running run (e.g. batches dispatched), kept in its counts."""
    await session.execute(update(PipelineRun).where(PipelineRun.id == run_id).values(counts=counts))


async def named(*, session: AsyncSession, tasks: Sequence[str], trading_date: date) -> Sequence[PipelineRun]:
    """The runs of `tasks` for a date (e.g. the batches of a fanned-out step), those that exist."""
    return (
        await session.scalars(
            select(PipelineRun).where(
                PipelineRun.task.in_(list(tasks)), PipelineRun.trading_date == trading_date
            )
        )
    ).all()


async def list_runs(
    *,
    session: AsyncSession,
    limit: int = 50,
    task: str | None = None,
    status: str | None = None,
    before: tuple[date, int] | None = None,
) -> Sequence[PipelineRun]:
    """The newest runs first (by trading date, then id); `before` is the (date, id) of the previous page's
    last row."""
    query = select(PipelineRun).order_by(PipelineRun.trading_date.desc(), PipelineRun.id.desc())
    if task is not None:
        query = query.where(PipelineRun.task == task)
    if status is not None:
        query = query.where(PipelineRun.status == status)
    if before is not None:
        day, run_id = before
        query = query.where(
            (PipelineRun.trading_date < day) | ((PipelineRun.trading_date == day) & (PipelineRun.id < run_id))
        )
    return (await session.scalars(query.limit(limit))).all()


async def last_per_task(*, session: AsyncSession) -> list[PipelineRun]:
    """Each task's newest run (by trading date), by task name. Rows named `step:part` are left out: the
    batches of a fanned-out step (`prices:batch-...`, whose step's own row tells how it went) and the API's
    backtest runs (`backtest:run-N`, listed under `GET /api/v1/backtests`)."""
    newest = (
        select(PipelineRun.task, func.max(PipelineRun.trading_date).label("day"))
        .where(PipelineRun.task.not_like("%:%"))
        .group_by(PipelineRun.task)
        .subquery()
    )
    rows = await session.scalars(
        select(PipelineRun)
        .join(newest, (PipelineRun.task == newest.c.task) & (PipelineRun.trading_date == newest.c.day))
        .order_by(PipelineRun.task)
    )
    return list(rows.all())
