"""Scale-out: the per-ticker steps (prices, features, predictions) as a group of ticker batches.

The step's own task dispatches the batches and then comes back (every `tasks.step_poll_seconds`) to count
the batches' `pipeline_runs` rows for the date, instead of trusting a Redis chord (chord_unlock has open
bugs on Redis, celery #9674). Each batch is a run of its own (`features:batch-002-of-010`), idempotent per
date like every step: a redelivered or repeated batch changes nothing. Adding workers shortens the step;
the rows are the same as in one process, since each ticker's work does not depend on the others'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from celery import group

from backend.core.errors import DataSourceError
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.pipeline import daily
from backend.pipeline import prices as prices_pipeline
from backend.pipeline import runs as runs_service
from backend.tasks.app import celery_app
from backend.tasks.runner import Pending, Step, StepResult, run_step

RETRYING_NOTE = "(transient: retrying)"


def split(tickers: Sequence[str], size: int) -> list[list[str]]:
    ordered = sorted(tickers)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def batch_name(step: str, index: int, total: int) -> str:
    return f"{step}:batch-{index + 1:03d}-of-{total:03d}"


async def _prices(day: date, tickers: list[str]) -> dict[str, Any]:
    out = await prices_pipeline.fetch_after_close(as_of=day, tickers=tickers)
    return {"tickers": out.tickers, "inserted": out.inserted, "updated": out.updated, "errors": out.errors}


async def _features(day: date, tickers: list[str]) -> dict[str, Any]:
    out = await daily.build_features(as_of=day, tickers=tickers)
    return {"features": out.rows, "skipped": out.skipped}


async def _predictions(day: date, tickers: list[str]) -> dict[str, Any]:
    out = await daily.predict(as_of=day, tickers=tickers)
    return {"model_version": out.model_version, "predictions": out.predictions, "skipped": out.skipped}


BATCH_WORK: dict[str, Callable[[date, list[str]], Awaitable[dict[str, Any]]]] = {
    "prices": _prices,
    "features": _features,
    "predictions": _predictions,
}


@celery_app.task(
    name="tft.batch",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    soft_time_limit=1500,
    time_limit=1800,
)
def batch(
    self: Any, step: str, as_of: str, tickers: list[str], index: int, total: int, waited: int = 0
) -> Any:
    """One ticker batch of a step for one date."""
    work = BATCH_WORK[step]

    async def flow(day: date) -> StepResult:
        return StepResult(await work(day, tickers))

    return run_step(
        self, Step(batch_name(step, index, total), notify=False), flow, as_of=as_of, waited=waited
    )


def should_fan_out(tickers: Sequence[str]) -> bool:
    return len(tickers) > get_settings().tasks.batch_size


async def fan_out(
    step: str, day: date, tickers: Sequence[str], *, collecting: bool, waited: int, time_limit: int
) -> StepResult:
    """Dispatch the batches (first call), then count what they reported (later calls)."""
    groups = split(tickers, get_settings().tasks.batch_size)
    total = len(groups)
    if not collecting:
        group(
            batch.si(step=step, as_of=day.isoformat(), tickers=g, index=i, total=total)
            for i, g in enumerate(groups)
        ).apply_async()
        raise Pending(f"{total} batches dispatched", {"batches": total, "tickers": len(tickers)})
    async with transaction() as session:
        rows = await runs_service.batch_runs(session=session, step=step, trading_date=day)
    mine = {r.task: r for r in rows if r.task.endswith(f"-of-{total:03d}")}
    failed = [
        r for r in mine.values() if r.status == "failed" and not (r.error or "").endswith(RETRYING_NOTE)
    ]
    if failed:
        first = sorted(failed, key=lambda r: r.task)[0]
        raise DataSourceError(f"{len(failed)} of {total} batches failed; {first.task}: {first.error}")
    done = sorted((r for r in mine.values() if r.status == "success"), key=lambda r: r.task)
    if len(done) < total:
        waited_s = waited * get_settings().tasks.step_poll_seconds
        if waited_s > time_limit:
            raise DataSourceError(
                f"{total - len(done)} of {total} batches did not report within {time_limit} s"
            )
        raise Pending(f"{len(done)}/{total} batches reported", {"batches": total, "reported": len(done)})
    return StepResult({**merge([r.counts for r in done]), "batches": total})


def merge(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch counts added up: numbers summed, dicts merged, anything else kept when all batches agree."""
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, bool) or not isinstance(value, int | dict):
                out.setdefault(key, value)
            elif isinstance(value, dict):
                out[key] = {**out.get(key, {}), **value}
            else:
                out[key] = out.get(key, 0) + value
    return out
