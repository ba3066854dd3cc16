"""The daily chain on a real worker: sample prices, the synthetic Reddit feed and a small trained model;
reruns change nothing, bad input fails with a clear message in pipeline_runs, killed runs are recovered."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from celery import chain
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from backend.cli import app
from backend.core.calendar import trading_days
from backend.core.settings import Settings, override_settings
from backend.features.models import FeatureRow
from backend.market.models import StockPrice, Ticker
from backend.ml.models import Prediction
from backend.notify import events as notify_events
from backend.notify.models import NotificationEvent
from backend.pipeline.models import PipelineRun
from backend.pipeline.runs import KILLED
from backend.portfolio.models import EquitySnapshotRow, Portfolio
from backend.sentiment.models import SentimentDaily
from backend.signals.models import TradingSignal
from backend.tasks import daily as daily_tasks
from backend.tasks import handoff, jobs
from backend.tasks.app import celery_app
from tests.flows import SMALL_MODEL, in_db, sample_with_model

runner = CliRunner()
SMALL = SMALL_MODEL
TICKERS = ["AAPL", "MSFT"]
D1, D2, D3, D4 = trading_days(date(2012, 6, 29), date(2012, 7, 5))  # Jun 29, Jul 2, 3, 5 (4th shut)
COUNTED = {
    "stock_prices": StockPrice,
    "features": FeatureRow,
    "sentiment_daily": SentimentDaily,
    "predictions": Prediction,
    "trading_signals": TradingSignal,
    "equity_snapshots": EquitySnapshotRow,
    "portfolios": Portfolio,
    "pipeline_runs": PipelineRun,
}
TIMEOUT = 180


def counts() -> dict[str, int]:
    async def work(session: AsyncSession) -> dict[str, int]:
        return {
            name: (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for name, model in COUNTED.items()
        }

    return in_db(work)


def failure_events() -> list[dict[str, Any]]:
    """The outbox's "pipeline failure" events, oldest first."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(NotificationEvent)
            .where(NotificationEvent.type == notify_events.PIPELINE_FAILED)
            .order_by(NotificationEvent.id)
        )
        return [dict(r.payload) for r in rows]

    return in_db(work)


def runs_for(day: date) -> dict[str, PipelineRun]:
    async def work(session: AsyncSession) -> dict[str, PipelineRun]:
        rows = await session.scalars(select(PipelineRun).where(PipelineRun.trading_date == day))
        return {r.task: r for r in rows}

    return in_db(work)


@pytest.fixture
def trained_db(worker: Any, fresh_db: str) -> Iterator[str]:
    """Sample prices, four months of the synthetic feed and a small model trained at the close of D1."""
    with override_settings(ml=SMALL):
        outcome = sample_with_model(as_of=D1, tickers=TICKERS)
        assert outcome.promotion.promoted
        yield outcome.model.version


@pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)
def test_daily_chain_end_to_end_on_a_worker_and_reruns_change_nothing(trained_db: str) -> None:
    version = trained_db
    before = counts()
    result = daily_tasks.daily_chain(D2.isoformat(), TICKERS).apply_async()
    final = result.get(timeout=TIMEOUT)
    assert final["status"] == "success" and final["task"] == "signals"

    runs = runs_for(D2)
    assert {t: r.status for t, r in runs.items()} == dict.fromkeys(
        ["prices", "features", "predictions", "signals"], "success"
    )
    assert all(r.attempts == 1 and r.finished_at is not None and r.error is None for r in runs.values())
    assert runs["predictions"].counts["model_version"] == version
    assert runs["predictions"].counts["predictions"] == 2
    assert runs["features"].counts["features"] == 2
    assert runs["signals"].counts["sessions"] == [D2.isoformat()]
    after = counts()
    assert after["pipeline_runs"] == before["pipeline_runs"] + 4
    assert after["predictions"] == before["predictions"] + 2
    assert after["portfolios"] == 1 and after["equity_snapshots"] == 1
    assert after["stock_prices"] == before["stock_prices"]  # the refetch found every bar stored already

    again = daily_tasks.daily_chain(D2.isoformat(), TICKERS).apply_async().get(timeout=TIMEOUT)
    assert again["note"] == "already done for this date: nothing changed"
    assert counts() == after
    assert {t: (r.attempts, r.status) for t, r in runs_for(D2).items()} == {t: (1, "success") for t in runs}


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_bad_input_fails_with_a_clear_message_in_pipeline_runs(worker: Any, fresh_db: str) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    holiday = date(2012, 7, 4)
    with pytest.raises(Exception, match="2012-07-04 is not an NYSE session"):
        daily_tasks.prices.apply_async(kwargs={"as_of": holiday.isoformat()}).get(timeout=TIMEOUT)
    run = runs_for(holiday)["prices"]
    assert run.status == "failed" and run.error is not None
    assert "2012-07-04 is not an NYSE session (weekend or holiday)" in run.error

    with pytest.raises(Exception, match="no bar for 2012-07-03"):
        daily_tasks.prices.apply_async(kwargs={"as_of": D3.isoformat(), "tickers": ["ZZZZ"]}).get(
            timeout=TIMEOUT
        )
    run = runs_for(D3)["prices"]
    assert run.status == "failed" and run.attempts == 1  # bad input is not retried
    assert run.error is not None and "ZZZZ: not in the bundled sample" in run.error
    # Each failed step reaches the user: a "pipeline failure" event in the notification outbox.
    failures = failure_events()
    assert [(e["step"], e["trade_date"]) for e in failures] == [
        ("prices", holiday.isoformat()),
        ("prices", D3.isoformat()),
    ]
    assert "ZZZZ: not in the bundled sample" in failures[1]["error"]

    # The step after a failed one records why it did not run, instead of running on missing data.
    skipped = daily_tasks.features.apply_async(kwargs={"as_of": D3.isoformat()}).get(timeout=TIMEOUT)
    assert skipped["status"] == "skipped"
    assert skipped["counts"]["reason"].startswith("prices for 2012-07-03 failed: DataSourceError")


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_a_killed_run_is_marked_failed_and_its_redelivery_takes_over(worker: Any, fresh_db: str) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    long_ago = datetime.now(UTC) - timedelta(hours=5)

    async def killed(session: AsyncSession) -> None:
        common = {"status": "running", "counts": {}, "started_at": long_ago, "attempts": 1}
        await session.execute(
            insert(PipelineRun),
            [
                # A worker died 5 hours ago in the middle of D3's features: its deadline has passed.
                {**common, "task": "features", "trading_date": D3, "task_id": "dead",
                 "deadline_at": long_ago + timedelta(minutes=31)},
                # A worker died in D4's prices just now; the broker redelivers the same message (same id).
                {**common, "task": "prices", "trading_date": D4, "task_id": "redelivered",
                 "deadline_at": datetime.now(UTC) + timedelta(minutes=30)},
            ],
        )  # fmt: skip

    in_db(killed)
    jobs.heartbeat.apply_async().get(timeout=TIMEOUT)  # any later run sweeps the dead one
    dead = runs_for(D3)["features"]
    assert (dead.status, dead.error) == ("failed", KILLED)
    assert dead.finished_at is not None
    assert [(e["step"], e["trade_date"]) for e in failure_events()] == [("features", D3.isoformat())]

    out = daily_tasks.prices.apply_async(kwargs={"as_of": D4.isoformat()}, task_id="redelivered").get(
        timeout=TIMEOUT
    )
    assert out["status"] == "success" and out["attempts"] == 2
    # A different task finding a live `running` row leaves it alone (the other worker is still at it).
    live = runs_for(D4)["prices"]
    assert live.task_id == "redelivered" and live.status == "success"


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_a_step_waits_for_the_step_before_within_a_bound(worker: Any, fresh_db: str) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    with override_settings(tasks={"step_wait_seconds": 60}):
        waiting = daily_tasks.features.apply_async(kwargs={"as_of": D3.isoformat(), "tickers": TICKERS})
        # features polls every second; prices arrives while it waits and it then runs.
        daily_tasks.prices.apply_async(kwargs={"as_of": D3.isoformat(), "tickers": TICKERS}).get(
            timeout=TIMEOUT
        )
        out = waiting.get(timeout=TIMEOUT)
    assert out["status"] == "success" and out["counts"]["features"] == 2
    with override_settings(tasks={"step_wait_seconds": 2}):
        late = daily_tasks.predictions.apply_async(kwargs={"as_of": D4.isoformat()}).get(timeout=TIMEOUT)
    assert late["status"] == "skipped"
    assert late["counts"]["reason"] == "features for 2012-07-05 not run after waiting 2 s"


@contextmanager
def second_worker(settings: Settings) -> Iterator[None]:
    """Another worker process on the same queue and database (the in-process one is the first)."""
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.resolved_database_url,
        "TASKS__QUEUE": settings.tasks.queue,
        "TASKS__BATCH_SIZE": str(settings.tasks.batch_size),
        "TASKS__PRICE_PROVIDER": settings.tasks.price_provider,
        "TASKS__STEP_POLL_SECONDS": str(settings.tasks.step_poll_seconds),
    }
    command = [sys.executable, "-m", "celery", "-A", "backend.tasks", "worker", "--pool", "solo"]
    name = f"second-{uuid.uuid4().hex[:8]}@test"
    process = subprocess.Popen([*command, "-n", name, "--loglevel", "INFO"], env=env)
    try:
        deadline = time.monotonic() + 120
        while not celery_app.control.inspect(destination=[name], timeout=1).ping():
            assert time.monotonic() < deadline, "the second worker did not start"
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def stored_rows(day: date) -> dict[str, list[tuple[Any, ...]]]:
    async def work(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
        out = {}
        for name, model in (("features", FeatureRow), ("predictions", Prediction)):
            columns = [c for c in model.__table__.c if c.name not in ("created_at", "updated_at")]
            rows = await session.execute(select(*columns).where(model.trade_date == day))
            out[name] = sorted(tuple(zip([c.name for c in columns], r, strict=True)) for r in rows)
        return out

    return in_db(work)


def flat(value: Any, path: str = "") -> dict[str, Any]:
    """Nested rows as path -> leaf, numbers as floats (for pytest.approx)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{path}/{key}").items()}
    if isinstance(value, list | tuple):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{path}/{i}").items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {path: float(value)}
    return {path: value}


def forget(day: date) -> None:
    """Drop a date's features, predictions and their runs, as if the steps had never run."""

    async def work(session: AsyncSession) -> None:
        for model in (FeatureRow, Prediction):
            await session.execute(delete(model).where(model.trade_date == day))
        await session.execute(
            delete(PipelineRun).where(
                PipelineRun.trading_date == day, PipelineRun.task.not_in(["prices", "signals"])
            )
        )

    in_db(work)


SAMPLE = ["AAPL", "FB", "GOOG", "IBM", "MSFT"]  # FB: too little history by D2 (listed in May 2012)
TECH = ["AAPL", "GOOG", "IBM", "MSFT"]


def chain_ids(result: Any) -> list[str]:
    """The task ids of a chain's steps, first to last (the result links back from the last)."""
    ids = []
    while result is not None:
        ids.append(result.id)
        result = result.parent
    return ids[::-1]


def drain(worker: Any, timeout: float = 60) -> None:
    """Wait until the in-process worker holds no task, scheduled ones included: a fanned-out step's poll
    still comes after the last batch woke and finished it, and must not land in the next test's
    database. A solo worker answers control messages only between tasks: no answer means busy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inspect = celery_app.control.inspect(destination=[worker.hostname], timeout=1)
        replies = [inspect.scheduled(), inspect.active(), inspect.reserved()]
        if all(r is not None for r in replies) and not any(v for r in replies for v in r.values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker still holds tasks after {timeout} s")


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_batches_on_two_workers_store_the_same_rows_as_one_process(worker: Any, trained_db: str) -> None:
    async def sectors(session: AsyncSession) -> None:
        # One sector of four: the sector-relative returns compare with the sector, not the market.
        await session.execute(update(Ticker).where(Ticker.symbol.in_(TECH)).values(sector="Technology"))

    in_db(sectors)
    kwargs = {"as_of": D2.isoformat(), "tickers": SAMPLE}
    with override_settings(tasks={"batch_size": 2}) as settings, second_worker(settings):
        result = daily_tasks.daily_chain(D2.isoformat(), SAMPLE).apply_async()
        final = result.get(timeout=TIMEOUT)
    drain(worker)
    prices_id, features_id, predictions_id, signals_id = chain_ids(result)
    assert final["status"] == "success" and final["task"] == "signals"
    runs = runs_for(D2)
    features = runs["features"].counts
    # Prices and features fan out in 3 batches of 2 tickers; the features step then ranks the 4 rows the
    # batches stored (FB skipped) over the whole day.
    assert features["batches"] == 3 and features["features"] == 4 and features["ranked"] == 4
    assert set(features["skipped"]) == {"FB"} and features["sentiment_rows"] > 0
    assert runs["predictions"].counts["predictions"] == 4
    assert runs["predictions"].counts["model_version"] == trained_db
    batches = sorted(t for t in runs if ":batch-" in t)
    assert [b.rsplit("-", 1)[0] for b in batches] == [
        f"{step}:batch-00{i}-of-003" for step in ("features", "prices") for i in (1, 2, 3)
    ]
    assert all(runs[b].status == "success" for b in batches)
    assert runs["prices"].attempts == 1 and runs["features"].attempts == 1  # collecting is the same attempt
    # The last batch woke each step (a Redis marker per step task), and the chain went on once: its parked
    # rest was taken (no key left), and no second copy of a later step overwrote the signals' result.
    redis_client = handoff.client()
    assert redis_client.exists(handoff.key("wake", prices_id), handoff.key("wake", features_id)) == 2
    assert redis_client.exists(handoff.key("chain", prices_id), handoff.key("chain", features_id)) == 0
    assert "note" not in celery_app.AsyncResult(signals_id).get(timeout=TIMEOUT)
    assert celery_app.AsyncResult(predictions_id).get(timeout=TIMEOUT)["status"] == "success"
    scaled = stored_rows(D2)
    ranks = sorted(dict(r)["values"]["xs_rank_ret_5d"] for r in scaled["features"])
    assert ranks == [0.125, 0.375, 0.625, 0.875]  # ranked among all four tickers, not within a batch

    forget(D2)
    assert stored_rows(D2) == {"features": [], "predictions": []}
    with override_settings(tasks={"batch_size": 50}):
        single = daily_tasks.features.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)
        daily_tasks.predictions.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)
    assert "batches" not in single["counts"] and single["counts"]["features"] == 4
    # Row for row, to 1e-9 (in fact to the last bit: the per-ticker rolling windows and the day's ranks
    # do not depend on how the tickers were batched).
    single_rows, scaled_rows = flat(stored_rows(D2)), flat(scaled)
    assert single_rows.keys() == scaled_rows.keys()
    numbers = [k for k, v in scaled_rows.items() if isinstance(v, float)]
    assert len(numbers) > 200
    assert {k: v for k, v in single_rows.items() if k not in numbers} == {
        k: v for k, v in scaled_rows.items() if k not in numbers
    }
    assert [single_rows[k] for k in numbers] == pytest.approx([scaled_rows[k] for k in numbers], rel=1e-9)
    assert single_rows == scaled_rows


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_a_lost_wake_is_covered_by_the_steps_poll_and_the_chain_still_goes_on_once(
    worker: Any, trained_db: str
) -> None:
    kwargs = {"as_of": D3.isoformat(), "tickers": SAMPLE}
    with override_settings(tasks={"batch_size": 2}):
        daily_tasks.prices.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)
        flow = chain(daily_tasks.features.si(**kwargs), daily_tasks.predictions.si(**kwargs))
        features_id, predictions_id = chain_ids(flow.freeze())
        # As if the last batch had won the wake and died before sending it: only the poll can collect.
        assert handoff.first("wake", features_id)
        result = flow.apply_async()
        assert result.id == predictions_id
        predicted = result.get(timeout=TIMEOUT)
    drain(worker)
    assert predicted["status"] == "success" and predicted["counts"]["predictions"] == 4
    assert "note" not in celery_app.AsyncResult(predictions_id).get(timeout=TIMEOUT)  # sent once
    run = runs_for(D3)["features"]
    assert (run.status, run.attempts, run.counts["ranked"]) == ("success", 1, 4)
    assert not handoff.client().exists(handoff.key("chain", features_id))


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_a_late_poll_of_a_past_attempt_changes_nothing(worker: Any, fresh_db: str) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    kwargs = {"as_of": D3.isoformat(), "tickers": SAMPLE, "collecting": True}
    # The step's row is gone (or another attempt holds it): the poll must not start a run of its own.
    late = daily_tasks.features.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)
    assert late["status"] == "stale" and "features" not in runs_for(D3)

    async def held_elsewhere(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        await session.execute(
            insert(PipelineRun).values(
                task="features", trading_date=D4, status="running", counts={}, started_at=now,
                attempts=1, task_id="another-attempt", deadline_at=now + timedelta(minutes=30),
            )
        )  # fmt: skip

    in_db(held_elsewhere)
    other = daily_tasks.features.apply_async(kwargs={**kwargs, "as_of": D4.isoformat()}).get(timeout=TIMEOUT)
    assert other["status"] == "stale"
    assert (runs_for(D4)["features"].task_id, runs_for(D4)["features"].status) == (
        "another-attempt",
        "running",
    )
    daily_tasks.prices.apply_async(kwargs={"as_of": D3.isoformat(), "tickers": TICKERS}).get(timeout=TIMEOUT)
    held = daily_tasks.features.apply_async(kwargs={"as_of": D3.isoformat(), "tickers": TICKERS})
    assert held.get(timeout=TIMEOUT)["status"] == "success"
    again = daily_tasks.features.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)
    assert again["note"] == "already done for this date: nothing changed"
    assert runs_for(D3)["features"].task_id == held.id


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_periodic_jobs_record_why_they_had_nothing_to_do(worker: Any, fresh_db: str) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    monitored = jobs.monitor.apply_async(kwargs={"as_of": D3.isoformat()}).get(timeout=TIMEOUT)
    assert monitored["status"] == "skipped"
    assert "no live portfolio yet" in monitored["counts"]["reason"]
    with override_settings(reddit={"client_id": "", "client_secret": ""}):
        scraped = jobs.reddit.apply_async(kwargs={"as_of": D3.isoformat()}).get(timeout=TIMEOUT)
    assert scraped["status"] == "skipped" and "REDDIT__CLIENT_ID" in scraped["counts"]["reason"]
    # Periodic passes run again on every call (rerun), in the same row for the day.
    again = jobs.monitor.apply_async(kwargs={"as_of": D3.isoformat()}).get(timeout=TIMEOUT)
    assert again["attempts"] == 2 and runs_for(D3)["monitor"].status == "skipped"


# The database "restarts" under the features step: the first insert into `features` makes PostgreSQL end
# every connection to this database, the task's own included, in the middle of its transaction. A
# sequence, not a table, counts the kills: nextval survives the rollback the dropped connection causes.
KILL_ON_FIRST_INSERT = [
    "CREATE SEQUENCE test_kills",
    """
    CREATE FUNCTION test_kill_connections() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF nextval('test_kills') = 1 THEN
            PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid();
            PERFORM pg_terminate_backend(pg_backend_pid());
        END IF;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER test_kill_connections BEFORE INSERT ON features "
    "FOR EACH STATEMENT EXECUTE FUNCTION test_kill_connections()",
]


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_a_database_restart_mid_task_is_retried_with_backoff_and_the_run_succeeds(
    worker: Any, fresh_db: str
) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    kwargs = {"as_of": D2.isoformat(), "tickers": TICKERS}
    daily_tasks.prices.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)

    async def arm(session: AsyncSession) -> None:
        for statement in KILL_ON_FIRST_INSERT:
            await session.execute(text(statement))

    in_db(arm)
    started = time.monotonic()
    out = daily_tasks.features.apply_async(kwargs=kwargs).get(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    async def kills(session: AsyncSession) -> int:
        return int((await session.execute(text("SELECT last_value FROM test_kills"))).scalar_one())

    # The trigger fired on the first attempt (dropping its connection) and let the second one's inserts
    # through (asyncpg's executemany runs the statement once per row: one call per ticker).
    assert in_db(kills) == 1 + len(TICKERS)
    assert out["status"] == "success" and out["counts"]["features"] == 2
    run = runs_for(D2)["features"]
    assert (run.status, run.attempts, run.error) == ("success", 2, None)
    assert run.finished_at is not None
    assert elapsed >= 1.0  # the retry waited its backoff (at least a second) before trying again
    assert counts()["features"] == 2
    # A transient failure that was retried and then succeeded is not a failure to tell the user about.
    assert failure_events() == []
