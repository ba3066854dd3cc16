"""Bulk price ingestion into PostgreSQL: 500 tickers x 1,260 trading days (630,000 rows) with indicators.

Run by hand (not part of the test suite):

    uv run --no-sync python tests/benchmarks/bench_ingest.py [--tickers 500] [--days 1260] [--repeat 3]

Each repetition uses a brand-new database and measures, side by side:
  * ingest      - the full `market_service.ingest` path: indicators + staging COPY + merge upsert
  * indicators  - indicator computation alone (pandas-ta-classic on TA-Lib)
  * write path  - `bulk_upsert` of the precomputed rows into an empty stock_prices table
  * plain COPY  - asyncpg `copy_records_to_table` of the same rows into an unindexed table with no checks
  * re-run      - the same ingest again (every row unchanged: the idempotent path)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg
import pandas as pd

from backend.core.settings import override_settings
from backend.db import migrate
from backend.db.base import table_of
from backend.db.engine import create_engine, session_factory
from backend.db.upsert import bulk_upsert, frame_records
from backend.market import service as market_service
from backend.market.indicators import compute_indicators
from backend.market.models import INDICATOR_COLUMNS, StockPrice
from backend.market.providers import PriceBatch
from backend.market.service import PRICE_COLUMNS
from tests.conftest import PG_ADMIN_URL, _pg_database_url
from tests.factories import make_bars


def universe(n_tickers: int, n_days: int) -> pd.DataFrame:
    names = [
        f"T{chr(65 + i // 26 // 26 % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(n_tickers)
    ]
    return pd.concat([make_bars(s, n=n_days, seed=i) for i, s in enumerate(names)], ignore_index=True)


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fresh_database() -> tuple[str, str]:
    name = f"tft_bench_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    return name, _pg_database_url(name)


async def timed_ingest(url: str, bars: pd.DataFrame) -> float:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            started = time.perf_counter()
            await market_service.ingest(session=session, batch=PriceBatch("bench", bars))
        return time.perf_counter() - started  # includes the commit
    finally:
        await engine.dispose()


def indicator_rows(bars: pd.DataFrame) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    frames = []
    for _, one in bars.groupby("ticker", sort=True):
        one = one.reset_index(drop=True)
        one[list(INDICATOR_COLUMNS)] = compute_indicators(one)
        frames.append(one)
    rows = pd.concat(frames, ignore_index=True)
    rows["source"] = "bench"
    elapsed = time.perf_counter() - started
    return elapsed, frame_records(rows, PRICE_COLUMNS)


async def timed_write(url: str, bars: pd.DataFrame, records: list[tuple]) -> float:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await market_service.ensure_tickers(
                session=session, symbols=bars["ticker"].unique(), source="import"
            )
        async with session_factory(engine)() as session, session.begin():
            started = time.perf_counter()
            await bulk_upsert(
                session=session,
                table=table_of(StockPrice),
                columns=PRICE_COLUMNS,
                rows=records,
                key=("ticker", "trade_date"),
                group_by="ticker",
            )
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def timed_copy(url: str, records: list[tuple]) -> float:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("CREATE TABLE plain_copy (LIKE stock_prices INCLUDING DEFAULTS)")
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("plain_copy", records=records, columns=list(PRICE_COLUMNS))
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main(n_tickers: int, n_days: int, repeat: int) -> None:
    bars = universe(n_tickers, n_days)
    n = len(bars)
    print(f"{n_tickers} tickers x {n_days} days = {n:,} rows; {repeat} repetitions; median shown\n")
    results: dict[str, list[float]] = {
        k: [] for k in ("ingest", "re-run", "indicators", "write path", "plain COPY")
    }
    for r in range(repeat):
        name, url = await fresh_database()
        try:
            migrate_in_thread = asyncio.to_thread(migrate.upgrade, url)
            await migrate_in_thread
            with override_settings(database_url=url):
                results["ingest"].append(await timed_ingest(url, bars))
                results["re-run"].append(await timed_ingest(url, bars))
        finally:
            await admin(f'DROP DATABASE "{name}" WITH (FORCE)')
        name, url = await fresh_database()
        try:
            await asyncio.to_thread(migrate.upgrade, url)
            seconds, records = indicator_rows(bars)
            results["indicators"].append(seconds)
            results["write path"].append(await timed_write(url, bars, records))
            results["plain COPY"].append(await timed_copy(url, records))
        finally:
            await admin(f'DROP DATABASE "{name}" WITH (FORCE)')
        print(f"  run {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in results.items()))

    print(f"\n{'step':<12} {'median s':>9} {'rows/s':>12}")
    med = {k: statistics.median(v) for k, v in results.items()}
    for k, v in med.items():
        print(f"{k:<12} {v:>9.2f} {n / v:>12,.0f}")
    print(f"\nwrite path / plain COPY time ratio: {med['write path'] / med['plain COPY']:.2f}x")
    print(
        f"full ingest under 30 s: {med['ingest'] < 30}; "
        f"write path >= 50,000 rows/s: {n / med['write path'] >= 50_000}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.tickers, args.days, args.repeat))
