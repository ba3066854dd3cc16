"""The API's POSTs that queue work, on a real Celery worker (Redis DB 13, a queue of its own): the daily
chain and a backtest, each step's status reaching a live-event subscriber from the worker thread."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.cli import app as cli_app
from backend.core.settings import override_settings
from backend.db.engine import dispose_engines
from backend.events import bus
from backend.tasks.app import celery_app, celery_config
from tests import api_data
from tests.api_data import assert_error, bearer
from tests.celery_config import reconfigure
from tests.flows import in_db

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
REDIS_URL = os.environ.get("TFT_TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE = f"tft-api-{uuid.uuid4().hex[:10]}"
TASKS = {"queue": QUEUE, "price_provider": "sample", "step_poll_seconds": 1, "step_wait_seconds": 0}
SMALL_TREES = {"xgb_n_estimators": 20, "lgbm_n_estimators": 20}
runner = CliRunner()


@pytest.fixture(scope="module")
def keys(make_database, tmp_path_factory) -> Iterator[dict[str, str]]:
    """A PostgreSQL database with the bundled sample history, a read and a write key, and a worker."""
    url = make_database("postgresql")
    data_dir = tmp_path_factory.mktemp("workers")
    settings = override_settings(
        database_url=url, data_dir=data_dir, redis_url=REDIS_URL, tasks=TASKS, ml=SMALL_TREES
    )
    with settings as current:
        reconfigure(celery_app, celery_config(current))
        loaded = runner.invoke(cli_app, ["prices", "load-sample"])
        assert loaded.exit_code == 0, loaded.output

        async def make(session: Any) -> dict[str, str]:
            return {s: await api_data.create_key(session, s, s) for s in ("read", "write")}

        made = in_db(make)
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield made
    client: Any = redis.Redis.from_url(REDIS_URL)
    stale = list(client.scan_iter(f"{QUEUE}*")) + list(client.scan_iter(f"*{QUEUE}*"))
    if stale:
        client.delete(*set(stale))


@pytest.fixture
async def client(keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(keys["read"])
    ) as c:
        yield c
    await dispose_engines()


async def collect(stream: Any, done: Any, seconds: float) -> list[bus.Event]:
    """Events from `stream` until `done(events)` is true (or fail after `seconds`)."""
    events: list[bus.Event] = []

    async def read() -> None:
        while not done(events):
            event = await anext(stream)
            if event is not None:
                events.append(event)

    await asyncio.wait_for(read(), seconds)
    return events


async def test_post_pipeline_runs_queues_the_chain_and_the_worker_s_steps_reach_subscribers(client, keys):
    body = {"as_of": "2012-07-02", "tickers": ["aapl", "MSFT"]}
    assert_error(await client.post("/api/v1/pipeline/runs", json=body), 403)
    assert_error(
        await client.post("/api/v1/pipeline/runs", json={"as_of": "x"}, headers=bearer(keys["write"])), 422
    )
    stream = bus.subscribe(poll_seconds=0.2)
    assert await anext(stream) is None  # subscribed before anything is queued
    try:
        r = await client.post("/api/v1/pipeline/runs", json=body, headers=bearer(keys["write"]))
        assert r.status_code == 202, r.text
        queued = r.json()
        assert queued["as_of"] == "2012-07-02"
        assert [s["task"] for s in queued["steps"]] == [
            "tft.prices",
            "tft.features",
            "tft.predictions",
            "tft.signals",
        ]
        assert queued["task_id"] == queued["steps"][-1]["task_id"]

        def finished(events: list[bus.Event]) -> bool:
            return {e.data["task"] for e in events if e.type == bus.PIPELINE_STEP} >= {
                "prices", "features", "predictions",
            }  # fmt: skip

        events = await collect(stream, finished, seconds=240)
    finally:
        await stream.aclose()
    steps = {e.data["task"]: e.data for e in events if e.type == bus.PIPELINE_STEP}
    runs = (await client.get("/api/v1/pipeline/runs", params={"limit": 10})).json()["items"]
    by_task = {r["task"]: r for r in runs if r["trading_date"] == "2012-07-02"}
    # No model has been trained: predictions fail, and a chain stops at its first failed step.
    assert set(by_task) == {"prices", "features", "predictions"}
    for task, run in by_task.items():  # the event tells what the row says
        assert (steps[task]["run_id"], steps[task]["status"], steps[task]["error"]) == (
            run["id"], run["status"], run["error"],
        ), task  # fmt: skip
    assert by_task["prices"]["status"] == "success" and by_task["prices"]["counts"]["tickers"] == 2
    assert by_task["features"]["status"] == "success" and by_task["features"]["counts"]["features"] == 2
    assert by_task["predictions"]["status"] == "failed"
    assert "no trained model yet" in by_task["predictions"]["error"]
    health = (await client.get("/api/v1/health")).json()
    assert {r["task"]: r["status"] for r in health["last_runs"]} == {
        t: r["status"] for t, r in by_task.items()
    }


async def test_post_backtests_runs_on_the_worker_and_the_detail_has_every_book(client, keys):
    write = bearer(keys["write"])
    body = {"start": "2010-01-04", "end": "2010-02-26", "tickers": ["AAPL", "MSFT"], "retrain_every": 40}
    stream = bus.subscribe(poll_seconds=0.2)
    assert await anext(stream) is None
    try:
        r = await client.post("/api/v1/backtests", json=body, headers=write)
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        assert r.json()["status"] == "queued" and r.json()["task_id"]
        task = f"backtest:run-{run_id}"

        def finished(events: list[bus.Event]) -> bool:
            return any(e.type == bus.PIPELINE_STEP and e.data["task"] == task for e in events)

        events = await collect(stream, finished, seconds=480)
    finally:
        await stream.aclose()
    [step] = [e.data for e in events if e.type == bus.PIPELINE_STEP and e.data["task"] == task]
    assert step["status"] == "success", step
    detail = (await client.get(f"/api/v1/backtests/{run_id}")).json()
    assert detail["status"] == "finished" and detail["error"] is None
    assert detail["tickers"] == ["AAPL", "MSFT"] and detail["retrain_every"] == 40
    sessions = 38  # January 2010: 19 sessions (1st and 18th shut); February: 19 (15th shut)
    books = ["buy_and_hold", "macd_momentum", "rsi_mean_reversion", "strategy"]
    assert sorted(detail["metrics"]) == books and sorted(detail["equity_curves"]) == books
    for name, curve in detail["equity_curves"].items():
        assert len(curve) == sessions + 1, name
        assert curve[0] == {"trade_date": "2009-12-31", "equity": 100_000.0}, name
        assert curve[-1]["trade_date"] == "2010-02-26", name
        total = detail["metrics"][name]["total_return"]
        assert total == pytest.approx(curve[-1]["equity"] / 100_000.0 - 1, abs=1e-6), name
    assert detail["metrics"]["buy_and_hold"]["n_trades"] is None
    assert detail["metrics"]["strategy"]["n_trades"] == detail["results"]["strategy"]["n_trades"]
    assert any("survivorship" in c for c in detail["caveats"])
    runs = (await client.get("/api/v1/pipeline/runs", params={"task": task})).json()["items"]
    assert [(r["status"], r["trading_date"], r["counts"]["run_id"]) for r in runs] == [
        ("success", "2010-02-26", run_id)
    ]


async def test_queueing_without_redis_is_a_503_and_a_backtest_run_says_so(client, keys):
    body = {"start": "2010-01-04", "end": "2010-02-26", "tickers": ["AAPL"]}
    with override_settings(redis_url="redis://127.0.0.1:6399/0") as dead:
        reconfigure(celery_app, celery_config(dead))
        try:
            r = await client.post("/api/v1/backtests", json=body, headers=bearer(keys["write"]))
            chain = await client.post(
                "/api/v1/pipeline/runs", json={"as_of": "2012-07-03"}, headers=bearer(keys["write"])
            )
        finally:
            with override_settings() as live:
                reconfigure(celery_app, celery_config(live))
    error = assert_error(r, 503)
    assert "Redis is unavailable at redis://127.0.0.1:6399/0" in error["message"]
    assert "nothing was queued" in assert_error(chain, 503)["message"]
    newest = (await client.get("/api/v1/backtests", params={"limit": 1})).json()["items"][0]
    assert newest["status"] == "failed" and "not queued" in newest["error"]
    assert newest["start_date"] == date(2010, 1, 4).isoformat()
