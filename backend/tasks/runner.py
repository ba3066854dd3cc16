"""The one place that runs a task's flow: session, sync -> async bridge, `pipeline_runs`, waits, retries.

Celery tasks are synchronous; each call gets a fresh event loop (`asyncio.run`) and the engines created
on it are disposed before the loop closes, so no async engine ever crosses loops (a prefork child, a
solo worker and the test thread all behave the same).

A step for a trading date:
1. marks failed any `running` row whose deadline passed (a killed worker's run);
2. returns at once if the step already succeeded for that date: idempotent per date (a skipped or failed
   step runs again when asked: the step before may have succeeded since);
3. checks that the step before it succeeded for that date; if it has not finished yet the task is retried
   after `tasks.step_poll_seconds`, up to `tasks.step_wait_seconds`; a failed or skipped (or too late)
   step before it records this one `skipped: <reason>`;
4. claims the (task, trading date) row and runs the flow; the outcome goes into the same row.
Transient errors (network, a database restart) are retried with exponential backoff and jitter; the last
failure, and every other error, ends the run `failed` and calls `on_run_failed` in the same transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, NoReturn, TypeVar

from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import ET, is_trading_day, session_close, utcnow
from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.db.engine import run_on_new_loop, transaction
from backend.events import bus
from backend.notify import events as notify_events
from backend.pipeline import runs as runs_service
from backend.pipeline.models import PipelineRun
from backend.tasks import metrics

log = logging.getLogger(__name__)
DEFAULT_TIME_LIMIT = 3600
T = TypeVar("T")


@dataclass
class StepResult:
    """What a flow reports: counts for `pipeline_runs`, or why it had nothing to do."""

    counts: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


@dataclass(frozen=True)
class Step:
    name: str  # the `pipeline_runs.task` value
    after: str | None = None  # the step that must have succeeded for the same trading date
    rerun: bool = False  # periodic passes (monitor, scrape): every call runs, never two at once
    sessions_only: bool = True  # the date must be an NYSE session (not for the heartbeat)
    notify: bool = True  # a batch of a step leaves the failure notice to its step


class Pending(Exception):
    """The flow handed work to other tasks (ticker batches): the run stays `running` and the task comes
    back after `tasks.step_poll_seconds` with `collecting=True` to count what they stored.

    `pin`: task arguments the later calls must keep (the ticker list the batches were cut from), as the
    trading date is kept: a universe that changes meanwhile must not change what is collected.
    """

    def __init__(
        self, reason: str, counts: dict[str, Any] | None = None, pin: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.counts = counts or {}
        self.pin = pin or {}


class _Wait(Exception):
    """The step before has not finished yet: come back later."""


Flow = Callable[[date], Awaitable[StepResult]]
# Runs on the task's event loop once its run is recorded `success` (or found so): e.g. a batch waking its
# step when it was the last one.
AfterSuccess = Callable[[PipelineRun], Awaitable[None]]


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: the network or the database went away, not bad input or a bug."""
    if isinstance(exc, OperationalError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:1000]


async def on_run_failed(session: AsyncSession, run: PipelineRun) -> None:
    """Called in the transaction that marks `run` failed: logged, counted, and a "pipeline failure" event
    in the notification outbox, so a broken night reaches the user and not only the logs."""
    log.error("pipeline step %s for %s failed: %s", run.task, run.trading_date, run.error)
    metrics.step_status(run.task, "failed")
    await notify_events.emit_pipeline_failure(
        session=session,
        step=run.task,
        trade_date=run.trading_date,
        error=run.error or "failed",
        attempt=run.id,
    )


def parse_as_of(as_of: str | None) -> date | None:
    if as_of is None:
        return None
    try:
        return date.fromisoformat(as_of)
    except ValueError:
        raise ValidationFailed(f"as_of {as_of!r} is not a date: pass YYYY-MM-DD") from None


def scheduled_day(now: datetime) -> date | None:
    """The trading date an after-close step scheduled at `now` works on; None when there is no session
    today (weekend, holiday) or it has not closed yet."""
    today = now.astimezone(ET).date()
    if not is_trading_day(today) or now < session_close(today):
        return None
    return today


def run_step(
    task: Task,
    step: Step,
    flow: Flow,
    *,
    as_of: str | None,
    waited: int = 0,
    default_day: Callable[[datetime], date | None] = scheduled_day,
    after_success: AfterSuccess | None = None,
) -> dict[str, Any]:
    """Run `flow` for the trading date `as_of` (default: `default_day(now)`) under `step`'s rules."""
    now = utcnow()
    day = parse_as_of(as_of) or default_day(now)
    if day is None:
        log.info("%s: no session to work on at %s (weekend, holiday or before the close)", step.name, now)
        return {"status": "no-session", "task": step.name}
    started = time.monotonic()
    transient_retries = task.request.retries - waited
    try:
        final = not _may_retry(transient_retries)
        outcome = run_on_new_loop(
            lambda: _run(task, step, day, flow, waited, final=final, after_success=after_success)
        )
    except _Wait as wait:
        log.info("%s for %s waits: %s", step.name, day, wait)
        raise _retry(task, day, waited + 1, countdown=get_settings().tasks.step_poll_seconds) from None
    except Pending as pending:
        log.info("%s for %s: %s", step.name, day, pending)
        raise _retry(
            task,
            day,
            waited + 1,
            countdown=get_settings().tasks.step_poll_seconds,
            collecting=True,
            pin=pending.pin,
        ) from None
    except Exception as exc:
        metrics.task_finished(step.name, time.monotonic() - started, failed=True)
        if is_transient(exc) and _may_retry(transient_retries):
            countdown = get_exponential_backoff_interval(
                factor=2,
                retries=transient_retries,
                maximum=get_settings().tasks.retry_backoff_max_seconds,
                full_jitter=True,
            )
            log.warning("%s for %s: %s; retry in %s s", step.name, day, one_line(exc), countdown)
            raise _retry(task, day, waited, countdown=max(countdown, 1), exc=exc) from exc
        raise
    metrics.task_finished(step.name, time.monotonic() - started, failed=False)
    return outcome


def _may_retry(transient_retries: int) -> bool:
    return transient_retries < get_settings().tasks.max_retries


def _retry(
    task: Task,
    day: date,
    waited: int,
    *,
    countdown: float,
    exc: BaseException | None = None,
    collecting: bool = False,
    pin: dict[str, Any] | None = None,
) -> NoReturn:
    # The date is pinned: a retry after midnight must still work on the date the first attempt chose.
    kwargs = {**(task.request.kwargs or {}), **(pin or {}), "as_of": day.isoformat(), "waited": waited}
    if collecting:
        kwargs["collecting"] = True
    raise task.retry(kwargs=kwargs, countdown=countdown, exc=exc)


async def _run(
    task: Task,
    step: Step,
    day: date,
    flow: Flow,
    waited: int,
    *,
    final: bool,
    after_success: AfterSuccess | None = None,
) -> dict[str, Any]:
    async with transaction() as session:
        recovered = await runs_service.fail_stale(session=session)
        for stale in recovered:
            await on_run_failed(session, stale)
        existing = await runs_service.get(session=session, task=step.name, trading_date=day)
    if recovered:
        log.warning("marked %d run(s) failed whose worker died midway", len(recovered))
    if existing is not None and existing.status == "success" and not step.rerun:
        if after_success is not None:
            await after_success(existing)
        return _summary(existing, note="already done for this date: nothing changed")
    collecting = bool((task.request.kwargs or {}).get("collecting"))
    if collecting and (existing is None or existing.task_id != task.request.id):
        # A late poll or wake of an attempt that no longer holds the row (another attempt took it over,
        # or the row was removed): its batches are not the ones to collect, and it must not start a run.
        log.info("%s for %s: a collecting call of a past attempt; nothing to do", step.name, day)
        return {"status": "stale", "task": step.name, "trading_date": day.isoformat()}
    valid = is_trading_day(day) or not step.sessions_only
    skip = await _dependency(step, day, waited) if valid else None
    limit = task.time_limit or DEFAULT_TIME_LIMIT
    async with transaction() as session:
        claim = await runs_service.claim(
            session=session,
            task=step.name,
            trading_date=day,
            task_id=task.request.id,
            deadline=utcnow() + timedelta(seconds=limit + 60),
            rerun=step.rerun,
            resume=bool((task.request.kwargs or {}).get("collecting")),
        )
    if claim.state != "claimed":
        if claim.state == "done" and after_success is not None:
            await after_success(claim.run)
        return _summary(claim.run, note=f"{claim.state}: nothing changed")
    run_id = claim.run.id
    try:
        if not valid:
            raise ValidationFailed(
                f"{day.isoformat()} is not an NYSE session (weekend or holiday): pass a trading date"
            )
        result = StepResult(skipped=skip) if skip else await flow(day)
    except Pending as pending:
        async with transaction() as session:
            await runs_service.note(session=session, run_id=run_id, counts=pending.counts)
        raise
    except Exception as exc:
        await _record_failure(run_id, exc, final=final or not is_transient(exc), notify=step.notify)
        raise
    status: Literal["success", "skipped"] = "skipped" if result.skipped else "success"
    counts = {**result.counts, **({"reason": result.skipped} if result.skipped else {})}
    async with transaction() as session:
        run = await runs_service.finish(
            session=session, run_id=run_id, status=status, counts=counts, error=None
        )
    metrics.step_status(step.name, status)
    await publish_step(run)
    if status == "success" and after_success is not None:
        await after_success(run)
    if result.skipped:
        log.warning("%s for %s skipped: %s", step.name, day, result.skipped)
    return _summary(run)


async def _dependency(step: Step, day: date, waited: int) -> str | None:
    """Why `step` must be skipped for `day` (None: go ahead); raises `_Wait` while it may still wait."""
    if step.after is None:
        return None
    async with transaction() as session:
        before = await runs_service.get(session=session, task=step.after, trading_date=day)
    if before is not None and before.status == "success":
        return None
    if before is not None and before.status in ("failed", "skipped"):
        detail = before.error or (before.counts or {}).get("reason") or ""
        return f"{step.after} for {day.isoformat()} {before.status}" + (f": {detail}" if detail else "")
    settings = get_settings().tasks
    state = "still running" if before is not None else "not run"
    if waited * settings.step_poll_seconds < settings.step_wait_seconds:
        raise _Wait(f"{step.after} for {day.isoformat()} {state}")
    return f"{step.after} for {day.isoformat()} {state} after waiting {settings.step_wait_seconds} s"


async def _record_failure(run_id: int, exc: BaseException, *, final: bool, notify: bool) -> None:
    message = one_line(exc) + ("" if final else " (transient: retrying)")
    try:
        async with transaction() as session:
            run = await runs_service.finish(session=session, run_id=run_id, status="failed", error=message)
            if final and notify:
                await on_run_failed(session, run)
        await publish_step(run)
    except Exception:
        # The database itself may be what failed: the row stays `running` until its deadline, when the
        # next run marks it failed.
        log.exception("could not record the failure of pipeline run %s", run_id)


async def publish_step(run: PipelineRun) -> None:
    """A finished run on the live event bus (`pipeline.step`), after its row is committed."""
    await bus.publish(
        bus.PIPELINE_STEP,
        {
            "run_id": run.id,
            "task": run.task,
            "trading_date": run.trading_date.isoformat(),
            "status": run.status,
            "error": run.error,
        },
    )


def _summary(run: PipelineRun, note: str | None = None) -> dict[str, Any]:
    out = {
        "task": run.task,
        "trading_date": run.trading_date.isoformat(),
        "status": run.status,
        "counts": run.counts,
        "error": run.error,
        "attempts": run.attempts,
    }
    if note:
        out["note"] = note
    return out
