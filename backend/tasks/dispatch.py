"""Queueing work on the workers from an edge (the CLI's `pipeline enqueue`, the API's POSTs).

Redis is checked before anything is sent: otherwise Celery's result backend retries for a minute before
failing obscurely. An unreachable broker is a `DataSourceError` naming the URL (a 503 in the API, exit 1
in the CLI), and nothing is queued.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from kombu.exceptions import OperationalError

from backend.core.errors import DataSourceError
from backend.core.settings import get_settings
from backend.pipeline.schemas import PipelineQueued, StepQueued
from backend.tasks.app import celery_app

RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 1}


def _unavailable(exc: Exception) -> DataSourceError:
    url = get_settings().redis_url
    return DataSourceError(
        f"Redis is unavailable at {url} ({exc}): start it or set REDIS_URL; nothing was queued"
    )


def _check_broker() -> None:
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except (OperationalError, OSError) as exc:
        raise _unavailable(exc) from None


def enqueue_daily(*, as_of: date, tickers: list[str] | None = None) -> PipelineQueued:
    """Queue prices -> features -> predictions -> signals for `as_of`; returns each step's task id."""
    from backend.tasks.daily import daily_chain

    _check_broker()
    flow = daily_chain(as_of.isoformat(), tickers)
    try:
        result = flow.apply_async(retry=True, retry_policy=RETRY_POLICY)
    except (OperationalError, OSError) as exc:
        raise _unavailable(exc) from None
    ids: list[str] = []
    node: Any = result
    while node is not None:  # the chain's result links back from the last step to the first
        ids.append(node.id)
        node = node.parent
    names = [str(sig.task) for sig in flow.tasks]
    queued = [StepQueued(task=n, task_id=i) for n, i in zip(names, reversed(ids), strict=True)]
    return PipelineQueued(task_id=result.id, as_of=as_of, steps=queued)


def enqueue_backtest(*, run_id: int, start: date, end: date, tickers: list[str] | None) -> str:
    """Queue the replay of a `queued` backtest run; returns the Celery task id."""
    from backend.tasks.jobs import backtest

    _check_broker()
    try:
        result = backtest.apply_async(
            kwargs={"start": start.isoformat(), "end": end.isoformat(), "tickers": tickers, "run_id": run_id},
            retry=True,
            retry_policy=RETRY_POLICY,
        )
    except (OperationalError, OSError) as exc:
        raise _unavailable(exc) from None
    return str(result.id)
