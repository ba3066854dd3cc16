"""The after-close chain as scheduled steps: prices 16:30, features 17:00, predictions 17:30, signals 17:45.

Each task is a thin wrapper: it receives a trading date (default: today's session, once closed), and the
runner checks the step before it, records the run in `pipeline_runs` and retries transient errors. All of
them are idempotent per trading date (upserts, the portfolio's signal date), so `acks_late` is on: a
worker killed midway leaves the message to be redelivered, and the rerun is harmless.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import chain

from backend.core.errors import DataSourceError
from backend.pipeline import daily
from backend.pipeline import prices as prices_pipeline
from backend.tasks import metrics, scale
from backend.tasks.app import celery_app
from backend.tasks.runner import Step, StepResult, run_step

IDEMPOTENT: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,  # a killed worker's task is redelivered, not dropped
    "max_retries": None,  # the runner counts transient retries and waits itself
}
PRICES = Step("prices")
FEATURES = Step("features", after="prices")
PREDICTIONS = Step("predictions", after="features")
SIGNALS = Step("signals", after="predictions")


@celery_app.task(name="tft.prices", soft_time_limit=1500, time_limit=1800, **IDEMPOTENT)
def prices(
    self: Any,
    as_of: str | None = None,
    tickers: list[str] | None = None,
    waited: int = 0,
    collecting: bool = False,
) -> Any:
    """After-close bars for the watchlist, held and trending tickers (in batches past `tasks.batch_size`)."""

    async def flow(day: date) -> StepResult:
        symbols = tickers or await prices_pipeline.universe()
        if scale.should_fan_out(symbols):
            return await scale.fan_out(self, "prices", day, symbols, collecting=collecting, waited=waited)
        out = await prices_pipeline.fetch_after_close(as_of=day, tickers=symbols)
        counts = {"tickers": out.tickers, "inserted": out.inserted, "updated": out.updated}
        return StepResult({**counts, "unchanged": out.unchanged, "errors": out.errors})

    return scale.run_fanned(self, PRICES, flow, as_of=as_of, waited=waited)


@celery_app.task(name="tft.features", soft_time_limit=1500, time_limit=1800, **IDEMPOTENT)
def features(
    self: Any,
    as_of: str | None = None,
    tickers: list[str] | None = None,
    waited: int = 0,
    collecting: bool = False,
) -> Any:
    """The day's sentiment aggregates, then its features (in ticker batches past `tasks.batch_size`, the
    cross-sectional columns then over the whole day)."""

    async def flow(day: date) -> StepResult:
        if collecting:  # the batches' tickers are pinned; the aggregates were made before they ran
            symbols = tickers or await daily.universe(as_of=day)
            result = await scale.fan_out(self, "features", day, symbols, collecting=True, waited=waited)
            return _some_features(day, result)
        sentiment = {"sentiment_rows": await daily.aggregate_sentiment(as_of=day)}
        symbols = await daily.universe(as_of=day, tickers=tickers)
        if scale.should_fan_out(symbols):
            return await scale.fan_out(
                self, "features", day, symbols, collecting=False, waited=waited, noted=sentiment
            )
        out = await daily.build_features(as_of=day, tickers=symbols)
        return _some_features(day, StepResult({**sentiment, "features": out.rows, "skipped": out.skipped}))

    return scale.run_fanned(self, FEATURES, flow, as_of=as_of, waited=waited)


def _some_features(day: date, result: StepResult) -> StepResult:
    if not result.counts.get("features"):
        raise DataSourceError(f"no features for {day.isoformat()}: no ticker has a stored bar that day")
    return result


@celery_app.task(name="tft.predictions", soft_time_limit=1500, time_limit=1800, **IDEMPOTENT)
def predictions(
    self: Any, as_of: str | None = None, tickers: list[str] | None = None, waited: int = 0
) -> Any:
    """The active model's predictions; a model past its age limit is an alert, not a stop."""

    async def flow(day: date) -> StepResult:
        alert = await daily.model_alert(as_of=day)
        if alert is not None:
            return StepResult({"model_version": None, "predictions": 0, "alert": alert})
        # The features step before stored the day's features (cross-sectional ranks included): read them
        # rather than rebuild (a rebuild still when the model reads history or the rows are incomplete).
        out = await daily.predict(as_of=day, tickers=tickers, stored_features=True)
        counts: dict[str, Any] = {"model_version": out.model_version, "predictions": out.predictions}
        counts["skipped"] = out.skipped
        return StepResult(counts)

    return run_step(self, PREDICTIONS, flow, as_of=as_of, waited=waited)


@celery_app.task(name="tft.signals", soft_time_limit=1500, time_limit=1800, **IDEMPOTENT)
def signals(self: Any, as_of: str | None = None, tickers: list[str] | None = None, waited: int = 0) -> Any:
    """The portfolio catches up to the close, then the risk manager turns predictions into signals."""

    async def flow(day: date) -> StepResult:
        done = await daily.check_as_of(day)
        if done is not None:
            return StepResult({"already_generated": True})
        alert = await daily.model_alert(as_of=day)
        version = None if alert else await daily.active_version()
        step = await daily.make_signals(
            as_of=day, tickers=tickers, model_version=version, stored_features=True
        )
        report = step.signals
        metrics.signals_made(len(report.approved), len(report.rejected))
        counts: dict[str, Any] = {
            "sessions": [s.trade_date.isoformat() for s in step.sessions],
            "candidates": len(step.candidates),
            "approved": [r.ticker for r in report.approved],
            "rejected": len(report.rejected),
            "exit_orders": report.exit_orders,
            "already_generated": report.already_generated,
        }
        if alert:
            counts["alert"] = alert
        return StepResult(counts)

    return run_step(self, SIGNALS, flow, as_of=as_of, waited=waited)


def daily_chain(as_of: str | None = None, tickers: list[str] | None = None) -> Any:
    """prices -> features -> predictions -> signals for one date, each step after the one before."""
    kwargs = {"as_of": as_of, "tickers": tickers}
    return chain(prices.si(**kwargs), features.si(**kwargs), predictions.si(**kwargs), signals.si(**kwargs))
