"""Outbox delivery throughput: N events to one local webhook receiver, on SQLite and PostgreSQL.

Run by hand (not part of the test suite):

    uv run --no-sync python tests/benchmarks/bench_notify.py [--events 200]

Measures, per database: writing N events in one transaction (the pipeline's cost), fan-out, and the sweep
that claims, signs, POSTs and records each delivery (4 in flight), on a fresh database each time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg

from backend.core.settings import override_settings
from backend.db import migrate
from backend.db.engine import dispose_engines, transaction
from backend.notify import delivery, events, service
from tests.conftest import PG_ADMIN_URL, _pg_database_url
from tests.receivers import webhook_receiver


async def measure(n: int, url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    async with transaction() as session:
        await service.add_webhook(session=session, url=url, event_names=["pipeline.failed"])
    started = time.perf_counter()
    async with transaction() as session:
        for i in range(n):
            await events.emit_pipeline_failure(
                session=session, step=f"bench-{i}", trade_date=date(2026, 1, 2), error="x"
            )
    out["write events"] = time.perf_counter() - started
    started = time.perf_counter()
    outcomes = await delivery.deliver_due(limit=n)
    out["fan-out + deliver"] = time.perf_counter() - started
    assert len(outcomes) == n and all(o.status == "sent" for o in outcomes), outcomes[:3]
    await dispose_engines()
    return out


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    n = parser.parse_args().events
    with webhook_receiver() as receiver:
        for backend in ("sqlite", "postgresql"):
            if backend == "sqlite":
                db = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
            else:
                name = f"tft_bench_{uuid.uuid4().hex[:8]}"
                asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
                db = _pg_database_url(name)
            try:
                migrate.upgrade(db)
                notify = {"allow_private_webhooks": True, "require_https": False, "batch_size": n}
                with override_settings(database_url=db, notify=notify):
                    timings = asyncio.run(measure(n, receiver.url("/ok")))
                line = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
                rate = n / timings["fan-out + deliver"]
                print(f"{backend}: {n} events: {line} ({rate:.0f} deliveries/s)")
            finally:
                if backend == "postgresql":
                    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        assert len(receiver.received) == 2 * n


if __name__ == "__main__":
    main()
