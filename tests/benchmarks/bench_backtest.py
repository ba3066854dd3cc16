"""Backtest throughput on this machine, on synthetic random-walk tickers in a fresh PostgreSQL database.

Run by hand (not part of the test suite):

    uv run --no-sync python tests/benchmarks/bench_backtest.py [--replay-tickers 50] [--loop-tickers 500]

Two measurements, one run:
  1. replay: `backtest_service.run_backtest` (the CLI's path: validation, loading, strategy replay with
     weekly XGBoost + LightGBM retraining, both rule baselines, buy-and-hold, storing the run) over two
     years (2015-2016) of --replay-tickers tickers. Target: < 10 minutes.
  2. daily loop: the per-session steps for --loop-tickers tickers without training - `run_session` +
     `generate_signals` with precomputed predictions, timed per session (median), once with the model's
     predictions and once with a "busy" predictor that calls every ticker BUY at 0.9 (every candidate goes
     through the risk manager); plus the model's prediction time per session (block-predicted).
     Target: < 1 s per simulated day.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import date

import asyncpg
import pandas as pd

from backend.backtest import engine
from backend.backtest import service as backtest_service
from backend.core.calendar import previous_trading_day, trading_days
from backend.core.settings import get_settings, normalize_database_url, override_settings
from backend.db import migrate
from backend.db.engine import create_engine, dispose_engines, session_factory
from backend.features.labels import triple_barrier_labels
from backend.market import service as market_service
from backend.market.providers import PriceBatch
from backend.ml import training
from backend.ml.service import prediction_frame
from backend.portfolio.book import PaperBook
from backend.signals.generate import generate_signals
from backend.signals.market import MarketDay
from backend.signals.monitor import run_session
from tests.factories import make_bars

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATA_START = date(2012, 1, 3)
REPLAY_START, REPLAY_END = date(2015, 1, 2), date(2016, 12, 30)


def names(n: int) -> list[str]:
    return [f"B{chr(65 + i // 26 // 26 % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(n)]


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def database_with(n_tickers: int) -> tuple[str, str]:
    """A fresh migrated PostgreSQL database holding n synthetic tickers from 2012 through 2016."""
    name = f"tft_bench_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = normalize_database_url(f"postgresql://postgres@127.0.0.1:5432/{name}")
    await asyncio.to_thread(migrate.upgrade, url)
    n_days = len(trading_days(DATA_START, REPLAY_END))
    bars = pd.concat(
        [
            make_bars(t, n=n_days, seed=i, start=DATA_START, drift=0.0004)
            for i, t in enumerate(names(n_tickers))
        ],
        ignore_index=True,
    )
    db = create_engine(url)
    async with session_factory(db)() as session, session.begin():
        await market_service.ingest(session=session, batch=PriceBatch("bench", bars))
    await db.dispose()
    return name, url


async def replay_benchmark(n_tickers: int) -> None:
    name, url = await database_with(n_tickers)
    try:
        with override_settings(database_url=url):
            started = time.perf_counter()
            results = await backtest_service.run_backtest(
                backtest_service.BacktestRequest(start=REPLAY_START, end=REPLAY_END)
            )
            seconds = time.perf_counter() - started
            await dispose_engines()
        s, b = results["strategy"], results["benchmark"]
        print(
            f"replay {n_tickers} tickers x {results['sessions']} sessions, {results['model']['retrains']} "
            f"retrains, strategy + 2 rule baselines + buy-and-hold: {seconds:.1f} s ({seconds / 60:.2f} min)"
        )
        print(
            f"  strategy return {s['total_return']:+.2%} ({s['n_trades']} trades) vs buy-and-hold "
            f"{b['total_return']:+.2%}; model accuracy {results['model']['oos_accuracy']}"
        )
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed_loop(data: backtest_service.ReplayData, predictor: engine.Predictor) -> list[float]:
    book = PaperBook.new(get_settings().risk)
    seconds = []
    for day in data.sessions:
        today = data.market.get(day) or MarketDay(day, {})
        calls = predictor(day)
        started = time.perf_counter()
        run_session(book, today)
        generate_signals(book, today, calls)
        seconds.append(time.perf_counter() - started)
    return seconds


async def loop_benchmark(n_tickers: int, sessions: int) -> None:
    name, url = await database_with(n_tickers)
    try:
        with override_settings(database_url=url):
            end = trading_days(REPLAY_START, REPLAY_END)[sessions - 1]
            db = create_engine(url)
            async with session_factory(db)() as session:
                started = time.perf_counter()
                data = await backtest_service.load(
                    session=session, request=backtest_service.BacktestRequest(start=REPLAY_START, end=end)
                )
                load_seconds = time.perf_counter() - started
            await db.dispose()
            risk = get_settings().risk
            as_of = previous_trading_day(REPLAY_START)
            known = data.prices[data.prices["trade_date"] <= as_of]
            ts = training.make_training_set(
                data.features[data.features["trade_date"] <= as_of], triple_barrier_labels(known, risk), known
            )
            started = time.perf_counter()
            ensemble = training.fit_final(ts, member_names=["xgboost", "lightgbm"])
            fit_seconds = time.perf_counter() - started
            outcome = training.assess(
                training.walk_forward(ts, member_names=["lightgbm"], n_splits=1)
            ).outcome
            predictor = engine.RetrainingPredictor(
                prices=data.prices,
                features=data.features,
                sessions=data.sessions,
                risk=risk,
                members=["xgboost", "lightgbm"],
                retrain_every=10**6,
                sequence_length=30,
            )
            X = predictor._usable()
            dates = X.index.get_level_values("trade_date")
            window = X[dates >= trading_days(date(2014, 11, 1), REPLAY_START)[0]]
            rows = (window.index.get_level_values("trade_date") >= REPLAY_START).nonzero()[0]
            started = time.perf_counter()
            frame = prediction_frame(ensemble, outcome, window, rows, explain_top=risk.candidates_top_n)
            frame["trusted"] = True
            predict_seconds = (time.perf_counter() - started) / len(data.sessions)
            started = time.perf_counter()
            prediction_frame(ensemble, outcome, window, rows)
            predict_all_seconds = (time.perf_counter() - started) / len(data.sessions)
            by_day = engine.by_session(frame)
            model_loop = timed_loop(data, lambda d: by_day.get(d, engine.EMPTY))
            busy = {d: g.assign(signal="BUY", confidence=0.9) for d, g in by_day.items()}
            busy_loop = timed_loop(data, lambda d: busy.get(d, engine.EMPTY))
        print(
            f"daily loop, {n_tickers} tickers x {len(data.sessions)} sessions "
            f"(loading {load_seconds:.1f} s, one fit {fit_seconds:.1f} s):"
        )
        print(
            f"  predictions per session (block-predicted): SHAP for BUY calls only "
            f"{predict_seconds * 1000:.1f} ms, SHAP for every row {predict_all_seconds * 1000:.1f} ms"
        )
        for label, seconds in (("model predictions", model_loop), ("every ticker BUY 0.9", busy_loop)):
            print(
                f"  session step + signals, {label}: median {statistics.median(seconds) * 1000:.1f} ms, "
                f"max {max(seconds) * 1000:.1f} ms"
            )
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replay-tickers", type=int, default=50)
    parser.add_argument("--loop-tickers", type=int, default=500)
    parser.add_argument("--loop-sessions", type=int, default=60)
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()
    if not args.skip_replay:
        asyncio.run(replay_benchmark(args.replay_tickers))
    asyncio.run(loop_benchmark(args.loop_tickers, args.loop_sessions))


if __name__ == "__main__":
    main()
