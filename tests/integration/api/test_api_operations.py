"""The operations endpoints on a seeded database (PostgreSQL and SQLite): the day's candidates, health with
the active model and the last run per step, pipeline runs, data-quality flags, risk settings, backtest
detail, and notification subscriptions with a real test send to a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.api.app import create_app
from backend.backtest.models import BacktestRun
from backend.core.calendar import previous_trading_day
from backend.core.settings import get_settings, override_settings
from backend.db.base import table_of
from backend.db.engine import dispose_engines
from backend.events import bus
from backend.market.models import PriceFlag
from backend.ml.models import ModelVersion
from backend.pipeline.models import PipelineRun
from backend.signals import service as signals_service
from backend.signals.candidates import CandidateRow
from tests import api_data
from tests.api_data import assert_error, bearer
from tests.flows import in_db, run
from tests.integration.api.conftest import Seeded, seed_database
from tests.receivers import webhook_receiver

pytestmark = pytest.mark.postgres
UNTRUSTED = "rank IC 0.010 (t 0.4) is not above 0 with t >= 2 over non-overlapping periods"
T0 = datetime(2013, 1, 2, 22, 0, tzinfo=UTC)


def candidate(day: date, rank: int, ticker: str, *, signal: bool, ev: float, p: float) -> CandidateRow:
    return CandidateRow(
        trade_date=day,
        ticker=ticker,
        rank=rank,
        call="BUY",
        confidence=p,
        expected_value=ev,
        entry_price=100.0 + rank,
        stop_price=96.0 + rank,
        target_price=108.0 + rank,
        is_signal=signal,
        reasons=[] if signal else ["below_confidence_bar"],
        why="signal: BUY" if signal else f"P(win) below the bar 0.60 (P(win) {p:.2f})",
        drivers=[{"feature": "rsi_14", "value": 40.0 + rank, "contribution": 0.1 / rank}],
        model_version="20130101-000000",
        model_trusted=True,
    )


def run_row(task: str, day: date, status: str, minutes: int, **extra: Any) -> dict[str, Any]:
    started = T0 + timedelta(days=(day - date(2013, 1, 2)).days, minutes=minutes)
    return {
        "task": task,
        "trading_date": day,
        "status": status,
        "started_at": started,
        "finished_at": started + timedelta(seconds=30) if status != "running" else None,
        "deadline_at": started + timedelta(hours=1),
        "counts": extra.pop("counts", {}),
        "error": extra.pop("error", None),
        "attempts": 1,
    }


def backtest_results() -> dict[str, Any]:
    curve = [["2009-12-31", 100_000.0], ["2010-01-04", 100_500.0], ["2010-01-05", 101_000.0]]
    flat = [["2009-12-31", 100_000.0], ["2010-01-04", 100_000.0], ["2010-01-05", 99_000.0]]
    hold = [["2009-12-31", 100_000.0], ["2010-01-04", 101_000.0], ["2010-01-05", 102_000.0]]
    book = {"total_return": 0.01, "sharpe": 1.5, "max_drawdown": 0.0, "n_trades": 2, "win_rate": 0.5}
    return {
        "strategy": {**book, "by_month": {}},
        "baselines": {
            "rsi_mean_reversion": {**book, "total_return": -0.01, "n_trades": 1},
            "macd_momentum": {**book, "total_return": 0.0, "n_trades": 0},
        },
        "benchmark": {"total_return": 0.02, "cagr": 4.1, "sharpe": 2.0, "max_drawdown": 0.0},
        "equity_curve": curve,
        "baseline_equity_curves": {"rsi_mean_reversion": flat, "macd_momentum": flat, "buy_and_hold": hold},
        "caveats": ["survivorship: ...", "dividends: ..."],
    }


async def seed_operations(session, seed: Seeded) -> None:
    last, before = seed.last, previous_trading_day(seed.last)
    rows = [
        candidate(before, 1, "MSFT", signal=False, ev=0.001, p=0.55),
        candidate(last, 1, "AAPL", signal=True, ev=0.02, p=0.71),
        candidate(last, 2, "MSFT", signal=False, ev=0.01, p=0.58),
        candidate(last, 3, "XOM", signal=False, ev=-0.002, p=0.52),
    ]
    await signals_service.store_candidates(session=session, portfolio_id=seed.portfolio_id, rows=rows)
    await session.execute(
        table_of(PipelineRun).insert(),
        [
            run_row("prices", before, "success", 0, counts={"tickers": 3}),
            run_row("prices", last, "success", 0, counts={"tickers": 3}),
            run_row("features", last, "success", 30, counts={"features": 3}),
            run_row("predictions", last, "failed", 60, error="DataSourceError: no model"),
            run_row("prices:batch-0001", last, "success", 1),
            run_row("backtest:run-9", last, "running", 2),
        ],
    )
    await session.execute(
        table_of(PriceFlag).insert(),
        [
            {"ticker": "AAPL", "trade_date": date(2012, 3, 1), "kind": "spike", "detail": "close +40%",
             "excluded": False},
            {"ticker": "AAPL", "trade_date": date(2012, 3, 1), "kind": "zero_volume", "detail": "volume 0",
             "excluded": False},
            {"ticker": "AAPL", "trade_date": date(2012, 5, 1), "kind": "manual", "detail": "by hand",
             "excluded": True},
            {"ticker": "MSFT", "trade_date": date(2012, 5, 1), "kind": "spike", "detail": "close -30%",
             "excluded": False},
        ],
    )  # fmt: skip
    quality = {"trusted": False, "untrusted_reasons": [UNTRUSTED]}
    session.add(
        ModelVersion(
            version="20130101-000000", members=["xgboost"], weights={"xgboost": 1.0},
            feature_set_version="v2", feature_columns=["rsi_14"], tickers=["AAPL"],
            train_start=date(2012, 1, 3), train_end=last,
            as_of=last, n_samples=500, class_balance={}, metrics={}, calibration={}, oos_score=0.12,
            promotion={}, notes=[], trusted=False, quality=quality, is_active=True,
        )
    )  # fmt: skip
    session.add(
        BacktestRun(
            status="finished", start_date=date(2010, 1, 4), end_date=date(2010, 1, 5), tickers=["AAPL"],
            retrain_every=5, settings={"members": ["xgboost"]}, results=backtest_results(),
        )
    )  # fmt: skip


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def ops(request: pytest.FixtureRequest, make_database, tmp_path_factory) -> Iterator[Seeded]:
    url = make_database(request.param)
    data_dir = tmp_path_factory.mktemp("ops")
    notify = {"allow_private_webhooks": True, "require_https": False}  # the receiver is on 127.0.0.1
    tasks = {"queue": f"tft-ops-{uuid.uuid4().hex[:8]}"}  # a live-event channel of this module's own
    with override_settings(
        database_url=url, data_dir=data_dir, api={"public_read": False}, notify=notify, tasks=tasks
    ):
        seed = seed_database(url, data_dir)
        in_db(lambda session: seed_operations(session, seed))
        yield seed


@pytest.fixture
async def client(ops: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(ops.read_key)
    ) as c:
        yield c
    redis = getattr(app.state, "redis", None)
    if redis is not None:
        await redis.aclose()
    await dispose_engines()


async def test_candidates_default_to_the_newest_session_with_why(client, ops):
    r = await client.get("/api/v1/candidates")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["trade_date"] == ops.last.isoformat() and body["portfolio"] == "live"
    assert (body["model_version"], body["model_trusted"], body["n_signals"]) == ("20130101-000000", True, 1)
    assert [(c["rank"], c["ticker"], c["is_signal"]) for c in body["items"]] == [
        (1, "AAPL", True),
        (2, "MSFT", False),
        (3, "XOM", False),
    ]
    aapl, msft = body["items"][0], body["items"][1]
    assert aapl["reasons"] == [] and aapl["expected_value"] == pytest.approx(0.02)
    assert msft["reasons"] == ["below_confidence_bar"] and "below the bar" in msft["why"]
    assert (msft["entry_price"], msft["stop_price"], msft["target_price"]) == (102.0, 98.0, 110.0)
    assert msft["drivers"] == [{"feature": "rsi_14", "value": 42.0, "contribution": 0.05}]


async def test_candidates_of_a_given_date_pages_and_unknown_portfolio(client, ops):
    before = previous_trading_day(ops.last).isoformat()
    body = (await client.get("/api/v1/candidates", params={"date": before})).json()
    assert body["trade_date"] == before and [c["ticker"] for c in body["items"]] == ["MSFT"]
    assert body["n_signals"] == 0
    first = (await client.get("/api/v1/candidates", params={"limit": 2})).json()
    assert [c["rank"] for c in first["items"]] == [1, 2] and first["next_cursor"]
    rest = (
        await client.get("/api/v1/candidates", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [c["rank"] for c in rest["items"]] == [3] and rest["next_cursor"] is None
    empty = (await client.get("/api/v1/candidates", params={"date": "2012-01-03"})).json()
    assert empty["items"] == [] and empty["trade_date"] == "2012-01-03" and empty["model_trusted"] is None
    error = assert_error(await client.get("/api/v1/candidates", params={"portfolio": "nope"}), 404)
    assert "nope" in error["message"]
    assert_error(await client.get("/api/v1/candidates", params={"date": "yesterday"}), 422)
    assert_error(await client.get("/api/v1/candidates", headers={"Authorization": ""}), 401)


async def test_health_shows_the_active_model_untrusted_and_the_last_run_per_step(client, ops):
    body = (await client.get("/api/v1/health", headers={"Authorization": ""})).json()
    assert body["status"] == "ok"
    assert body["active_model"] == {
        "version": "20130101-000000",
        "as_of": ops.last.isoformat(),
        "oos_score": 0.12,
        "trusted": False,
        "untrusted_reasons": [UNTRUSTED],
    }
    runs = {r["task"]: r for r in body["last_runs"]}
    assert sorted(runs) == ["features", "predictions", "prices"]  # no batch rows, no API backtests
    assert runs["prices"]["trading_date"] == ops.last.isoformat() and runs["prices"]["counts"] == {
        "tickers": 3
    }
    assert runs["predictions"]["status"] == "failed" and "no model" in runs["predictions"]["error"]


async def test_health_is_degraded_without_redis_and_503_without_the_database(ops):
    with override_settings(redis_url="redis://127.0.0.1:6399/0"):
        app = create_app()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/api/v1/health")
        await dispose_engines()
    assert r.status_code == 200 and r.json()["status"] == "degraded" and not r.json()["redis"]["ok"]
    assert r.json()["active_model"]["version"] == "20130101-000000"
    dead = "postgresql+asyncpg://postgres@127.0.0.1:5499/nope"
    with override_settings(database_url=dead):
        app = create_app()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/api/v1/health")
        await dispose_engines()
    assert_error(r, 503, "database_unavailable")


async def test_pipeline_runs_filter_and_page(client, ops):
    body = (await client.get("/api/v1/pipeline/runs")).json()
    keys = [(r["trading_date"], r["id"]) for r in body["items"]]
    assert len(keys) == 6 and keys == sorted(keys, reverse=True)
    failed = (await client.get("/api/v1/pipeline/runs", params={"status": "failed"})).json()["items"]
    assert [(r["task"], r["error"]) for r in failed] == [("predictions", "DataSourceError: no model")]
    prices = (await client.get("/api/v1/pipeline/runs", params={"task": "prices", "limit": 1})).json()
    assert prices["items"][0]["trading_date"] == ops.last.isoformat() and prices["next_cursor"]
    older = (
        await client.get("/api/v1/pipeline/runs", params={"task": "prices", "cursor": prices["next_cursor"]})
    ).json()
    assert [r["trading_date"] for r in older["items"]] == [previous_trading_day(ops.last).isoformat()]
    assert_error(await client.get("/api/v1/pipeline/runs", params={"status": "done"}), 422)
    assert_error(await client.get("/api/v1/pipeline/runs", params={"task": "x'; drop table"}), 422)


async def test_price_flags_of_a_ticker(client):
    body = (await client.get("/api/v1/prices/aapl/flags", params={"limit": 2})).json()
    assert [(f["trade_date"], f["kind"]) for f in body["items"]] == [
        ("2012-03-01", "spike"),
        ("2012-03-01", "zero_volume"),
    ]
    rest = (await client.get("/api/v1/prices/AAPL/flags", params={"cursor": body["next_cursor"]})).json()
    assert rest["items"] == [
        {
            "ticker": "AAPL",
            "trade_date": "2012-05-01",
            "kind": "manual",
            "detail": "by hand",
            "excluded": True,
        }
    ]
    assert (await client.get("/api/v1/prices/XOM/flags")).json() == {"items": [], "next_cursor": None}
    assert "ZZZZ" in assert_error(await client.get("/api/v1/prices/ZZZZ/flags"), 404)["message"]


async def test_risk_settings_in_force(client):
    with override_settings(risk={"min_confidence": 0.7}):
        body = (await client.get("/api/v1/settings/risk")).json()
    risk = get_settings().risk
    assert body["min_confidence"] == 0.7 and body["currency"] == "USD"
    assert (body["max_positions"], body["max_drawdown_pct"]) == (risk.max_positions, risk.max_drawdown_pct)
    assert body["max_position_pct"] == 0.20 and body["max_stop_pct"] == 0.05


async def test_backtest_detail_has_every_book_s_metrics_curves_and_caveats(client):
    run_id = (await client.get("/api/v1/backtests")).json()["items"][0]["id"]
    body = (await client.get(f"/api/v1/backtests/{run_id}")).json()
    assert sorted(body["metrics"]) == ["buy_and_hold", "macd_momentum", "rsi_mean_reversion", "strategy"]
    assert (
        body["metrics"]["strategy"]["total_return"] == 0.01 and body["metrics"]["strategy"]["n_trades"] == 2
    )
    assert body["metrics"]["buy_and_hold"]["total_return"] == 0.02
    assert body["metrics"]["buy_and_hold"]["n_trades"] is None
    assert body["metrics"]["rsi_mean_reversion"]["total_return"] == -0.01
    curves = body["equity_curves"]
    assert sorted(curves) == sorted(body["metrics"])
    assert curves["strategy"][-1] == {"trade_date": "2010-01-05", "equity": 101_000.0}
    assert [p["equity"] for p in curves["buy_and_hold"]] == [100_000.0, 101_000.0, 102_000.0]
    assert body["caveats"] == ["survivorship: ...", "dividends: ..."]


async def test_backtest_start_needs_a_write_key_and_a_possible_request(client, ops):
    body = {"start": "2012-06-01", "end": "2012-06-29", "tickers": ["AAPL"]}
    assert_error(await client.post("/api/v1/backtests", json=body), 403)
    write = bearer(ops.write_key)
    bad = {"start": "2012-06-29", "end": "2012-06-01"}
    assert (
        "before"
        in assert_error(await client.post("/api/v1/backtests", json=bad, headers=write), 422)["message"]
    )
    unknown = {**body, "tickers": ["ZZZZ"]}
    error = assert_error(await client.post("/api/v1/backtests", json=unknown, headers=write), 422)
    assert "ZZZZ" in error["message"]
    short = assert_error(await client.post("/api/v1/backtests", json=body, headers=write), 422)
    assert "not enough history" in short["message"]  # 260 seeded bars: far too few to train before June
    assert_error(await client.post("/api/v1/backtests", json={**body, "x": 1}, headers=write), 422)
    assert len((await client.get("/api/v1/backtests")).json()["items"]) == 1  # nothing was recorded


async def test_subscriptions_crud_test_send_and_deliveries(client, ops):
    write = bearer(ops.write_key)
    email = {"channel": "email", "target": "Me@Example.com", "events": ["signal.new"]}
    assert_error(await client.post("/api/v1/notifications/subscriptions", json=email), 403)
    made = await client.post("/api/v1/notifications/subscriptions", json=email, headers=write)
    assert made.status_code == 201, made.text
    assert made.json()["events"] == ["signal.new"] and made.json()["secret"] is None
    bad = {"channel": "email", "target": "me@example.com", "events": ["signal.nope"]}
    error = assert_error(
        await client.post("/api/v1/notifications/subscriptions", json=bad, headers=write), 422
    )
    assert "signal.nope" in error["message"]
    with webhook_receiver() as receiver:
        receiver.responses["/gone"] = [410]
        hook = {"channel": "webhook", "target": receiver.url("/hook?token=s3cret")}
        created = (await client.post("/api/v1/notifications/subscriptions", json=hook, headers=write)).json()
        assert created["secret"].startswith("whsec_") and created["active"]
        sub_id = created["id"]
        # Read keys see a webhook's host only: its URL may carry a token.
        listed = (await client.get("/api/v1/notifications/subscriptions")).json()["items"]
        assert [s["target"] for s in listed if s["id"] == sub_id] == ["http://127.0.0.1/..."]
        full = (await client.get("/api/v1/notifications/subscriptions", headers=write)).json()["items"]
        assert [s["target"] for s in full if s["id"] == sub_id] == [hook["target"]]

        sent = await client.post(f"/api/v1/notifications/subscriptions/{sub_id}/test", headers=write)
        assert sent.status_code == 200, sent.text
        [attempt] = sent.json()
        assert (attempt["status"], attempt["code"], attempt["event_type"]) == (
            "sent",
            200,
            "notification.test",
        )
        [hit] = receiver.hits("/hook?token=s3cret")
        assert hit.headers["webhook-signature"].startswith("v1,")

        async def add_and_test(path: str) -> tuple[int, dict[str, Any]]:
            body = {"channel": "webhook", "target": receiver.url(path)}
            made = await client.post("/api/v1/notifications/subscriptions", json=body, headers=write)
            new_id = made.json()["id"]
            url = f"/api/v1/notifications/subscriptions/{new_id}/test"
            [outcome] = (await client.post(url, headers=write)).json()
            return new_id, outcome

        receiver.responses["/bad"] = [400]
        stream = bus.subscribe(poll_seconds=0.1)
        assert await anext(stream) is None  # subscribed
        try:
            bad_id, refused = await add_and_test("/bad")
            assert (refused["status"], refused["code"]) == ("failed", 400)  # a 400 is permanent: no retry
            gone_id, gone = await add_and_test("/gone")
            assert (gone["status"], gone["code"]) == ("disabled", 410)  # 410 Gone disables the subscription
            events = [await anext(stream) for _ in range(10)]
        finally:
            await stream.aclose()
        # Each give-up reaches live subscribers, by subscription id (a webhook URL may carry a token).
        failures = [e.data for e in events if e is not None and e.type == bus.NOTIFICATION_FAILED]
        assert [(f["subscription_id"], f["status"], f["code"]) for f in failures] == [
            (bad_id, "failed", 400),
            (gone_id, "disabled", 410),
        ]
        assert all("127.0.0.1" not in str(f) for f in failures)
    deliveries = (await client.get("/api/v1/notifications/deliveries", headers=write)).json()["items"]
    assert [d["subscription_id"] for d in deliveries[:3]] == [gone_id, bad_id, sub_id]
    assert deliveries[2]["status"] == "sent" and deliveries[2]["attempts"] == 1
    failed = await client.get("/api/v1/notifications/deliveries", params={"failed": True})
    assert [d["subscription_id"] for d in failed.json()["items"]] == [bad_id]
    assert failed.json()["items"][0]["target"] == "http://127.0.0.1/..."
    page1 = (await client.get("/api/v1/notifications/deliveries", params={"limit": 2}, headers=write)).json()
    page2 = await client.get(
        "/api/v1/notifications/deliveries", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=write
    )
    assert [d["id"] for d in page1["items"] + page2.json()["items"]] == [d["id"] for d in deliveries]

    disabled = [
        s
        for s in (await client.get("/api/v1/notifications/subscriptions")).json()["items"]
        if s["id"] == gone_id
    ]
    assert not disabled[0]["active"] and disabled[0]["disabled_reason"]
    enabled = await client.post(f"/api/v1/notifications/subscriptions/{gone_id}/enable", headers=write)
    assert enabled.json()["active"] and enabled.json()["disabled_reason"] is None
    removed = await client.delete(f"/api/v1/notifications/subscriptions/{gone_id}", headers=write)
    assert removed.status_code == 200 and removed.json()["id"] == gone_id
    assert_error(await client.delete(f"/api/v1/notifications/subscriptions/{gone_id}", headers=write), 404)
    assert_error(await client.post("/api/v1/notifications/subscriptions/999999/test", headers=write), 404)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_before_the_first_run_candidates_runs_and_health_are_empty_not_errors(
    backend, make_database, tmp_path
):
    url = make_database(backend)

    async def ask(key: str) -> tuple[Any, ...]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app()), base_url="http://t", headers=bearer(key)
        ) as c:
            return (
                (await c.get("/api/v1/candidates")).json(),
                (await c.get("/api/v1/pipeline/runs")).json(),
                (await c.get("/api/v1/health")).json(),
                await c.get("/api/v1/candidates", params={"portfolio": "backtest-3"}),
            )

    with override_settings(database_url=url, data_dir=tmp_path, api={"public_read": False}):
        key = in_db(lambda session: api_data.create_key(session, "fresh", "read"))
        candidates, runs, health, unknown = run(lambda: ask(key))
    assert candidates == {
        "trade_date": None, "portfolio": "live", "currency": "USD", "model_version": None,
        "model_trusted": None, "n_signals": 0, "items": [], "next_cursor": None,
    }  # fmt: skip
    assert runs == {"items": [], "next_cursor": None}
    assert (health["active_model"], health["last_runs"]) == (None, [])
    assert "backtest-3" in assert_error(unknown, 404)["message"]
