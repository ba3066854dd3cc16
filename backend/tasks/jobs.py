"""Periodic jobs: hourly Reddit scrape, position monitor, nightly sentiment, weekly retraining, heartbeat,
and backtests on request. Thin wrappers: each opens its own sessions through one flow and the runner."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from backend.core.calendar import ET as NEW_YORK
from backend.core.calendar import (
    add_trading_days,
    is_market_open,
    is_trading_day,
    last_completed_session,
    trading_date_for,
    utcnow,
)
from backend.core.errors import NotFound, TFTError
from backend.tasks import metrics
from backend.tasks.app import celery_app
from backend.tasks.runner import Step, StepResult, run_step

log = logging.getLogger(__name__)
RETRYING: dict[str, Any] = {"bind": True, "max_retries": None}
SENTIMENT_SESSIONS = 10


def _today_in_market_hours(now: datetime) -> date | None:
    """Today's trading date while the market is open (09:30 to the close, 13:00 on half days)."""
    return now.astimezone(NEW_YORK).date() if is_market_open(now) else None


def _current_trading_date(now: datetime) -> date:
    return trading_date_for(now)


def _last_close(now: datetime) -> date:
    return last_completed_session(now)


@celery_app.task(name="tft.monitor", soft_time_limit=600, time_limit=720, acks_late=True, **RETRYING)
def monitor(self: Any, as_of: str | None = None, waited: int = 0) -> Any:
    """One position-monitor pass in market hours: unprocessed sessions, then the holdings' latest prices."""

    async def flow(day: date) -> StepResult:
        from backend.pipeline import daily
        from backend.pipeline.prices import provider

        source = provider()
        quotes = getattr(source, "latest_prices", None)
        try:
            reports = await daily.monitor(quotes=quotes)
        except NotFound as exc:  # nothing to watch before the first daily run: not a failure to report
            return StepResult(skipped=str(exc))
        closed = [t.ticker for r in reports for t in r.closed]
        return StepResult({"sessions": len(reports), "closed": closed})

    step = Step("monitor", rerun=True)
    return run_step(self, step, flow, as_of=as_of, waited=waited, default_day=_today_in_market_hours)


@celery_app.task(name="tft.reddit", soft_time_limit=2400, time_limit=2700, acks_late=True, **RETRYING)
def reddit(self: Any, as_of: str | None = None, waited: int = 0) -> Any:
    """Scrape Reddit (posts after the close count for the next trading date); resumable, idempotent."""

    async def flow(day: date) -> StepResult:
        from backend.pipeline import reddit as reddit_pipeline
        from backend.sentiment.reddit import RedditClient

        try:
            client = RedditClient()
        except TFTError as exc:  # no credentials configured: the feature is off, say why in the run
            return StepResult(skipped=str(exc))
        outcome = await reddit_pipeline.scrape(client=client)
        stored = outcome.stored
        return StepResult(
            {
                "new_posts": stored.new_posts,
                "refreshed": stored.refreshed_posts,
                "mentions": stored.mentions,
                "errors": outcome.report.errors,
            }
        )

    return run_step(
        self, Step("reddit", rerun=True), flow, as_of=as_of, waited=waited, default_day=_current_trading_date
    )


@celery_app.task(name="tft.sentiment", soft_time_limit=900, time_limit=1200, acks_late=True, **RETRYING)
def sentiment(self: Any, as_of: str | None = None, waited: int = 0) -> Any:
    """Nightly: the daily aggregates of the last sessions and the trending tickers for tomorrow's fetch."""

    async def flow(day: date) -> StepResult:
        from backend.db.engine import transaction
        from backend.sentiment import service as sentiment_service

        async with transaction() as session:
            result = await sentiment_service.aggregate_daily(
                session=session, start=add_trading_days(day, -SENTIMENT_SESSIONS), end=day
            )
            trending = await sentiment_service.mark_trending(session=session, now=utcnow())
        return StepResult({"rows": result.totals().total, "trending": trending})

    return run_step(
        self, Step("sentiment", rerun=True), flow, as_of=as_of, waited=waited, default_day=_last_close
    )


@celery_app.task(name="tft.retrain", soft_time_limit=3 * 3600, time_limit=3 * 3600 + 600, **RETRYING)
def retrain(self: Any, as_of: str | None = None, waited: int = 0) -> Any:
    """Weekly walk-forward retraining on data known at the last close; promoted only if it beats the active
    model. Not acks_late: a redelivered retrain would fit for hours again; a lost one waits a week."""

    async def flow(day: date) -> StepResult:
        from backend.pipeline import ml as ml_pipeline

        outcome = await ml_pipeline.train_detached(as_of=day)
        return StepResult(
            {
                "version": outcome.model.version,
                "promoted": outcome.promotion.promoted,
                "reason": outcome.promotion.reason,
                "samples": outcome.model.n_samples,
            }
        )

    return run_step(self, Step("retrain"), flow, as_of=as_of, waited=waited, default_day=_last_close)


@celery_app.task(name="tft.heartbeat", soft_time_limit=60, time_limit=90, **RETRYING)
def heartbeat(self: Any, as_of: str | None = None, waited: int = 0) -> Any:
    """Proof that beat schedules and a worker runs: the day's `heartbeat` row gets the time of each beat."""
    now = utcnow()
    metrics.HEARTBEAT.set(now.timestamp())

    async def flow(day: date) -> StepResult:
        return StepResult({"at": now.isoformat(), "trading_day": is_trading_day(day)})

    return run_step(
        self,
        Step("heartbeat", rerun=True, sessions_only=False),
        flow,
        as_of=as_of,
        waited=waited,
        default_day=lambda moment: moment.astimezone(NEW_YORK).date(),
    )


@celery_app.task(name="tft.backtest", soft_time_limit=4 * 3600, time_limit=4 * 3600 + 600, **RETRYING)
def backtest(
    self: Any,
    start: str,
    end: str,
    tickers: list[str] | None = None,
    waited: int = 0,
    run_id: int | None = None,
    **_: Any,
) -> Any:
    """A replay START..END (of the `queued` run `run_id` when the API recorded one); its `backtest_runs` id
    goes into `pipeline_runs` (task `backtest`, date END)."""

    async def flow(day: date) -> StepResult:
        from backend.backtest import service as backtest_service

        request = backtest_service.BacktestRequest(start=date.fromisoformat(start), end=day, tickers=tickers)
        results = await backtest_service.run_backtest(request, run_id=run_id)
        return StepResult({"run_id": results["run_id"], "start": start})

    # A run the API queued gets its own `pipeline_runs` row: two replays ending on the same date must not
    # find each other "busy", and the end date need not be a session (the replay checks the range).
    step = (
        Step(f"backtest:run-{run_id}", rerun=True, sessions_only=False)
        if run_id is not None
        else Step("backtest", rerun=True)
    )
    return run_step(self, step, flow, as_of=end, waited=waited)
