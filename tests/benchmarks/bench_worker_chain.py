"""The daily chain on Celery workers for 500 synthetic tickers (stored prices, no network): 1 vs 2 worker
processes, wall time and speed-up. Run by hand (not part of the test suite; needs PostgreSQL and Redis):

    uv run --no-sync python tests/benchmarks/bench_worker_chain.py [--tickers 500] [--batch-size 50] \
        [--repeat 3]

Set-up (not timed): a fresh PostgreSQL database, --tickers random-walk tickers with 600 sessions of bars
and indicators, a small XGBoost + LightGBM model trained on 10 of them, then VACUUM ANALYZE (autovacuum is
off on this machine, on by default elsewhere). Timed: features -> predictions -> signals for the last
session, enqueued as the chain `tft-trader pipeline enqueue` queues (the prices step needs Yahoo, so it is
left out), on a prefork worker with --concurrency 1 and then 2; between the runs the date's features,
predictions, runs and the live portfolio are deleted. With --repeat N the two run alternately N times each
(1, 2, 1, 2, ...: a shared machine's load hits both alike) and the medians count. Each step's time is
printed, for a step in batches also when its batches ran. Goal: < 60 s with one worker process and
>= 1.6x faster with two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date

import asyncpg
import pandas as pd
import redis
from celery import chain
from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import make_url

from backend.core.calendar import trading_days, utcnow
from backend.core.settings import normalize_database_url, override_settings
from backend.db import migrate
from backend.db.engine import dispose_engines, transaction
from backend.features.models import FeatureRow
from backend.market import service as market_service
from backend.market.providers import PriceBatch
from backend.ml.models import Prediction
from backend.pipeline import ml as ml_pipeline
from backend.pipeline.models import PipelineRun
from backend.portfolio.models import Portfolio
from backend.tasks import daily as daily_tasks
from backend.tasks import jobs
from backend.tasks.app import celery_app, celery_config
from tests.factories import make_bars

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/12"
START = date(2016, 1, 4)  # the bundled S&P 500 (the offline market index) ends 2018
SESSIONS = 600
SMALL = {"xgb_n_estimators": 30, "lgbm_n_estimators": 30, "walk_forward_splits": 2, "validation_days": 40,
         "calibration_days": 60, "min_train_days": 150}  # fmt: skip


def names(n: int) -> list[str]:
    return [f"W{chr(65 + i // 26 // 26 % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(n)]


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def prepare(url: str, tickers: list[str]) -> date:
    bars = pd.concat(
        [make_bars(t, n=SESSIONS, seed=i, start=START, drift=0.0004) for i, t in enumerate(tickers)],
        ignore_index=True,
    )
    async with transaction() as session:
        await market_service.ingest(session=session, batch=PriceBatch("bench", bars))
    as_of = trading_days(START, date(2030, 1, 1))[SESSIONS - 1]
    with override_settings(ml=SMALL):
        await ml_pipeline.train_detached(
            as_of=as_of, tickers=tickers[:10], member_names=["xgboost", "lightgbm"]
        )
    await dispose_engines()
    # As autovacuum would have done by the evening on a production server (this machine runs PostgreSQL
    # with autovacuum off): without statistics the planner plans for empty tables, and without the
    # visibility map no count is an index-only scan.
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return as_of


async def reset(as_of: date) -> None:
    # A step's last poll may outlive the run that finished it (the worker is stopped at once): drop what
    # the last worker left queued, so it does not run during the next timing.
    celery_app.control.purge()
    async with transaction() as session:
        for model in (FeatureRow, Prediction):
            await session.execute(delete(model).where(model.trade_date == as_of))
        await session.execute(delete(PipelineRun))
        await session.execute(delete(Portfolio))
        # The prices step needs Yahoo: the synthetic bars are stored already, so it is recorded as done.
        now = utcnow()
        session.add(
            PipelineRun(
                task="prices", trading_date=as_of, status="success", started_at=now, finished_at=now,
                deadline_at=now, counts={"note": "synthetic bars stored by the benchmark"}, attempts=1,
            )
        )  # fmt: skip
    await dispose_engines()


async def stored(as_of: date) -> tuple[int, int, str]:
    """Feature and prediction rows for `as_of`, and each step's time from `pipeline_runs` (for a step in
    batches: when its batches ran, and the time from the last batch to the step's end)."""
    async with transaction() as session:
        features = await session.scalar(select(func.count()).where(FeatureRow.trade_date == as_of))
        predictions = await session.scalar(select(func.count()).where(Prediction.trade_date == as_of))
        steps = ("features", "predictions", "signals")
        runs = (
            await session.scalars(
                select(PipelineRun).where(
                    or_(PipelineRun.task.in_(steps), *(PipelineRun.task.startswith(f"{s}:") for s in steps))
                )
            )
        ).all()
    await dispose_engines()
    steps = []
    for run in sorted((r for r in runs if ":" not in r.task), key=lambda r: r.started_at):
        if run.finished_at is None:
            continue
        line = f"{run.task} {(run.finished_at - run.started_at).total_seconds():.2f} s"
        parts = [r for r in runs if r.task.startswith(f"{run.task}:batch-") and r.finished_at is not None]
        if parts:
            first = (min(r.started_at for r in parts) - run.started_at).total_seconds()
            last = max(r.finished_at for r in parts if r.finished_at is not None)
            span = (last - run.started_at).total_seconds()
            rest = (run.finished_at - last).total_seconds()
            line += f" ({len(parts)} batches {first:.2f}..{span:.2f} s, then {rest:.2f} s to finish)"
        steps.append(line)
    return int(features or 0), int(predictions or 0), ", ".join(steps)


def timed_chain(url: str, queue: str, as_of: date, processes: int, batch_size: int) -> float:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "TASKS__QUEUE": queue,
        "TASKS__BATCH_SIZE": str(batch_size),
        "TASKS__STEP_POLL_SECONDS": "1",
    }
    name = f"bench-{processes}-{uuid.uuid4().hex[:6]}@bench"
    command = [sys.executable, "-m", "celery", "-A", "backend.tasks", "worker", "--pool", "prefork"]
    worker = subprocess.Popen(
        [*command, "--concurrency", str(processes), "-n", name, "--loglevel", "WARNING"], env=env
    )
    try:
        while not celery_app.control.inspect(destination=[name], timeout=1).ping():
            time.sleep(0.5)
        # Warm the children (imports, calendar) so the timing is the chain, not the start-up.
        warm = [jobs.heartbeat.si() for _ in range(processes * 2)]
        for signature in warm:
            signature.apply_async()
        time.sleep(5)
        kwargs = {"as_of": as_of.isoformat()}
        started = time.perf_counter()
        chain(
            daily_tasks.features.si(**kwargs),
            daily_tasks.predictions.si(**kwargs),
            daily_tasks.signals.si(**kwargs),
        ).apply_async().get(timeout=1800)
        return time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    db_name = f"tft_bench_{uuid.uuid4().hex[:10]}"
    queue = f"tft-bench-{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{db_name}"'))
    url = normalize_database_url(f"postgresql://postgres@127.0.0.1:5432/{db_name}")
    try:
        migrate.upgrade(url)
        with override_settings(database_url=url, redis_url=REDIS_URL, tasks={"queue": queue}) as settings:
            celery_app.conf.update(celery_config(settings))
            tickers = names(args.tickers)
            started = time.perf_counter()
            as_of = asyncio.run(prepare(url, tickers))
            print(f"set-up: {args.tickers} tickers x {SESSIONS} sessions + a small model: "
                  f"{time.perf_counter() - started:.0f} s; chain for {as_of}")  # fmt: skip
            seconds: dict[int, list[float]] = {1: [], 2: []}
            loads = []
            for _ in range(args.repeat):
                for processes in (1, 2):
                    asyncio.run(reset(as_of))
                    seconds[processes].append(timed_chain(url, queue, as_of, processes, args.batch_size))
                    loads.append(os.getloadavg()[0])
                    features, predictions, steps = asyncio.run(stored(as_of))
                    print(
                        f"{processes} worker process(es): {seconds[processes][-1]:.1f} s "
                        f"({features} feature rows, {predictions} predictions; {steps})"
                    )
            one, two = statistics.median(seconds[1]), statistics.median(seconds[2])
            print(f"medians of {args.repeat}: 1 worker {one:.1f} s, 2 workers {two:.1f} s")
            print(f"speed-up with 2: {one / two:.2f}x (goal >= 1.6x; one worker goal < 60 s)")
            print(
                f"load average (1 min) after each run: {min(loads):.1f}..{max(loads):.1f} "
                f"on {os.cpu_count()} CPUs"
            )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{queue}*"))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
