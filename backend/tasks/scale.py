"""Scale-out: the per-ticker steps (prices, features) as a group of ticker batches, then the step's last part.

The step's first call cuts its tickers into batches of `tasks.batch_size` and dispatches them as a Celery
group. Each batch is a run of its own, named for its place and its tickers
(`features:batch-002-of-010-<digest>`) and idempotent per date like every step: a redelivered or repeated
batch changes nothing, and a batch of other tickers (the universe changed between two attempts on one
date) is a new run, not "already done". The step counts its batches' `pipeline_runs` rows instead of
trusting a Redis chord (chord_unlock has open bugs on Redis, celery #9674), then does its own last part
over everything the batches stored: for features, the cross-sectional columns, which rank each ticker
among all of the day's (a batch cannot). So the rows equal a single-process run's, and adding workers
shortens the step.

No idle wait after the last batch: the batch that finds every batch of the step succeeded wakes the step
at once (one wake per step attempt). The step's own retry every `tasks.step_poll_seconds` stays as the
fallback, for a wake lost with a killed worker. The step's run is idempotent per date, so a wake and a poll
that both collect do the last part twice at worst; the rest of a chain is sent once (`handoff`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from celery import Task, group

from backend.core.errors import DataSourceError
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.pipeline import daily
from backend.pipeline import prices as prices_pipeline
from backend.pipeline import runs as runs_service
from backend.pipeline.models import PipelineRun
from backend.tasks import handoff
from backend.tasks.app import celery_app
from backend.tasks.runner import Flow, Pending, Step, StepResult, run_step

log = logging.getLogger(__name__)
RETRYING_NOTE = "(transient: retrying)"


@dataclass(frozen=True)
class Batch:
    name: str  # its `pipeline_runs.task`
    tickers: list[str]


def plan(step: str, tickers: Sequence[str]) -> list[Batch]:
    """`tickers` (sorted) cut into batches of `tasks.batch_size`."""
    size = get_settings().tasks.batch_size
    ordered = sorted(set(tickers))
    groups = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    return [Batch(batch_name(step, i, len(groups), g), g) for i, g in enumerate(groups)]


def batch_name(step: str, index: int, total: int, tickers: Sequence[str]) -> str:
    digest = hashlib.sha1(",".join(tickers).encode()).hexdigest()[:8]
    return f"{step}:batch-{index + 1:03d}-of-{total:03d}-{digest}"


async def _prices(day: date, tickers: list[str]) -> dict[str, Any]:
    out = await prices_pipeline.fetch_after_close(as_of=day, tickers=tickers)
    return {"tickers": out.tickers, "inserted": out.inserted, "updated": out.updated, "errors": out.errors}


async def _features(day: date, tickers: list[str]) -> dict[str, Any]:
    # Per-ticker columns only: the cross-sectional ones need the whole day (`_complete_features`).
    out = await daily.build_features(as_of=day, tickers=tickers, cross_section=False)
    return {"features": out.rows, "skipped": out.skipped}


BATCH_WORK: dict[str, Callable[[date, list[str]], Awaitable[dict[str, Any]]]] = {
    "prices": _prices,
    "features": _features,
}


async def _complete_features(day: date, tickers: Sequence[str], counts: dict[str, Any]) -> dict[str, Any]:
    # The rows the batches stored: each batch's tickers but those it skipped (too little history, no bar).
    stored = sorted(set(tickers) - set(counts.get("skipped") or {}))
    if len(stored) != counts.get("features"):
        raise DataSourceError(
            f"the features batches for {day.isoformat()} report {counts.get('features')} rows for "
            f"{len(stored)} tickers: run the features step again"
        )
    return {"ranked": await daily.complete_features(as_of=day, tickers=stored)}


# A step's own last part once every batch reported, over all of its tickers.
COMPLETE: dict[str, Callable[[date, Sequence[str], dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "features": _complete_features,
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
    self: Any,
    step: str,
    as_of: str,
    tickers: list[str],
    index: int,
    total: int,
    waited: int = 0,
    wake: dict[str, Any] | None = None,
) -> Any:
    """One ticker batch of a step for one date; `wake` (the step's task and its batches): how to wake the
    step when this batch turns out to be the last one to succeed."""
    work = BATCH_WORK[step]
    last: list[bool] = []

    async def flow(day: date) -> StepResult:
        return StepResult(await work(day, tickers))

    async def after_success(run: PipelineRun) -> None:
        if wake is not None:
            last.append(await _all_succeeded(run.trading_date, wake["batches"]))

    name = batch_name(step, index, total, tickers)
    out = run_step(
        self, Step(name, notify=False), flow, as_of=as_of, waited=waited, after_success=after_success
    )
    if wake is not None and last and last[0]:
        _wake(wake)
    return out


async def _all_succeeded(day: date, names: Sequence[str]) -> bool:
    async with transaction() as session:
        runs = await runs_service.named(session=session, tasks=names, trading_date=day)
    return sum(r.status == "success" for r in runs) == len(names)


def _wake(wake: dict[str, Any]) -> None:
    """Send the step its collecting call now (once per step attempt; its poll is the fallback)."""
    try:
        if handoff.first("wake", wake["task_id"]):
            celery_app.send_task(wake["task"], kwargs=wake["kwargs"], task_id=wake["task_id"])
    except Exception:
        # Best effort: the step's poll collects a little later instead.
        log.exception("could not wake %s %s; its next poll collects", wake["task"], wake["task_id"])


def should_fan_out(tickers: Sequence[str]) -> bool:
    return len(tickers) > get_settings().tasks.batch_size


async def fan_out(
    task: Task,
    step: str,
    day: date,
    tickers: Sequence[str],
    *,
    collecting: bool,
    waited: int,
    noted: dict[str, Any] | None = None,
) -> StepResult:
    """Dispatch the batches (first call), then count what they reported and finish the step (later calls).

    `noted`: counts of the first call's own work (e.g. the sentiment aggregation), kept in the step's.
    """
    batches = plan(step, tickers)
    total, names = len(batches), [b.name for b in batches]
    pinned = sorted(set(tickers))
    if not collecting:
        handoff.park(task)  # before any batch can finish and wake the step
        wake = {
            "task": task.name,
            "task_id": task.request.id,
            "kwargs": {"as_of": day.isoformat(), "tickers": pinned, "collecting": True},
            "batches": names,
        }
        group(
            batch.si(step=step, as_of=day.isoformat(), tickers=b.tickers, index=i, total=total, wake=wake)
            for i, b in enumerate(batches)
        ).apply_async()
        counts = {**(noted or {}), "batches": total, "tickers": len(pinned)}
        raise Pending(f"{total} batches dispatched", counts, pin={"tickers": pinned})
    async with transaction() as session:
        rows = await runs_service.named(session=session, tasks=names, trading_date=day)
        own = await runs_service.get(session=session, task=step, trading_date=day)
    carried = {k: v for k, v in ((own.counts if own else None) or {}).items() if k != "reported"}
    failed = [r for r in rows if r.status == "failed" and not (r.error or "").endswith(RETRYING_NOTE)]
    if failed:
        first = sorted(failed, key=lambda r: r.task)[0]
        raise DataSourceError(f"{len(failed)} of {total} batches failed; {first.task}: {first.error}")
    done = sorted((r for r in rows if r.status == "success"), key=lambda r: r.task)
    if len(done) < total:
        waited_s = waited * get_settings().tasks.step_poll_seconds
        limit = task.time_limit or 0
        if waited_s > limit:
            raise DataSourceError(f"{total - len(done)} of {total} batches did not report within {limit} s")
        raise Pending(f"{len(done)}/{total} batches reported", {**carried, "reported": len(done)})
    counts = {**carried, **merge([r.counts for r in done]), "batches": total}
    complete = COMPLETE.get(step)
    if complete is not None:
        counts.update(await complete(day, pinned, counts))
    return StepResult(counts)


def run_fanned(task: Task, step: Step, flow: Flow, *, as_of: str | None, waited: int) -> dict[str, Any]:
    """`run_step` for a step that may fan out; a collecting call that ends normally sends the rest of the
    chain the step's first call parked (if no other call of the step sent it already)."""
    outcome = run_step(task, step, flow, as_of=as_of, waited=waited)
    if (task.request.kwargs or {}).get("collecting") and outcome.get("status") in ("success", "skipped"):
        handoff.resume(task, outcome)
    return outcome


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
