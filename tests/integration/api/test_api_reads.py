"""Every read endpoint on a seeded database: values checked against the rows written by the seed."""

from __future__ import annotations

from datetime import date

import pytest

from backend.db.engine import transaction
from backend.portfolio import service as portfolio_service
from tests.api_data import TICKERS, assert_error

pytestmark = pytest.mark.postgres


async def test_health_reports_database_redis_and_version(client):
    r = await client.get("/api/v1/health", headers={"Authorization": ""})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["redis"]["ok"]
    assert body["version"] and body["active_model"] is None


async def test_tickers_list_search_and_detail(client, seeded):
    r = await client.get("/api/v1/tickers")
    assert r.status_code == 200, r.text
    assert [t["symbol"] for t in r.json()["items"]] == sorted(TICKERS)
    r = await client.get("/api/v1/tickers", params={"q": "micro"})
    assert [t["symbol"] for t in r.json()["items"]] == ["MSFT"]
    r = await client.get("/api/v1/tickers/aapl")
    body = r.json()
    assert (body["symbol"], body["name"], body["sector"]) == ("AAPL", "Apple Inc.", "Information Technology")
    assert body["bars_stored"] == 260 and body["latest_bar"]["trade_date"] == seeded.last.isoformat()
    assert body["latest_bar"]["sma_50"] is not None


async def test_unknown_ticker_is_a_404_that_names_it(client):
    error = assert_error(await client.get("/api/v1/tickers/ZZZZ"), 404, "not_found")
    assert "ZZZZ" in error["message"] and "unknown ticker" in error["message"]
    assert_error(await client.get("/api/v1/prices/ZZZZ"), 404)


async def test_prices_for_a_date_range_with_indicators(client, seeded):
    r = await client.get("/api/v1/prices/MSFT", params={"start": "2012-06-01", "end": "2012-06-30"})
    body = r.json()
    assert body["currency"] == "USD" and body["next_cursor"] is None
    days = [b["trade_date"] for b in body["items"]]
    assert days == sorted(days) and days[0] >= "2012-06-01" and days[-1] <= "2012-06-30"
    assert len(days) == 21  # NYSE sessions in June 2012
    bar = body["items"][0]
    assert bar["low"] <= min(bar["open"], bar["close"]) and bar["rsi_14"] is not None


async def test_sentiment_trending_daily_and_posts(client, seeded):
    at = f"{seeded.last.isoformat()}T21:00:00Z"
    r = await client.get("/api/v1/sentiment/trending", params={"at": at, "hours": 24 * 30})
    items = r.json()["items"]
    assert {i["ticker"] for i in items} == set(TICKERS)
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert [i["mentions"] for i in items] == sorted((i["mentions"] for i in items), reverse=True)
    daily = (await client.get("/api/v1/sentiment/AAPL/daily")).json()["items"]
    assert daily and all(d["synthetic"] for d in daily) and all(-1 <= d["score"] <= 1 for d in daily)
    posts = (await client.get("/api/v1/sentiment/AAPL/posts", params={"limit": 5})).json()
    assert len(posts["items"]) == 5 and all(p["synthetic"] for p in posts["items"])
    stamps = [p["created_at"] for p in posts["items"]]
    assert stamps == sorted(stamps, reverse=True)
    more = (
        await client.get("/api/v1/sentiment/AAPL/posts", params={"limit": 5, "cursor": posts["next_cursor"]})
    ).json()
    assert not {p["id"] for p in more["items"]} & {p["id"] for p in posts["items"]}
    assert more["items"][0]["created_at"] <= stamps[-1]


async def test_signals_filters(client, seeded):
    r = await client.get("/api/v1/signals", params={"status": "active", "limit": 500})
    items = r.json()["items"]
    assert items and all(s["status"] == "active" for s in items)
    assert len(items) == 8  # 40 seeded signals, statuses cycling through five
    keys = [(s["trade_date"], s["id"]) for s in items]
    assert keys == sorted(keys, reverse=True)
    r = await client.get("/api/v1/signals", params={"ticker": "MSFT", "min_confidence": 0.8})
    assert all(s["ticker"] == "MSFT" and s["confidence"] >= 0.8 for s in r.json()["items"])
    r = await client.get("/api/v1/signals", params=[("status", "pending"), ("status", "rejected")])
    assert {s["status"] for s in r.json()["items"]} == {"pending", "rejected"}
    start = seeded.last.replace(day=1).isoformat()
    r = await client.get("/api/v1/signals", params={"start": start, "end": seeded.last.isoformat()})
    assert all(start <= s["trade_date"] <= seeded.last.isoformat() for s in r.json()["items"])


async def test_signal_detail_has_explanation_and_risk_decision(client):
    rejected = (await client.get("/api/v1/signals", params={"status": "rejected", "limit": 1})).json()[
        "items"
    ][0]
    r = await client.get(f"/api/v1/signals/{rejected['id']}")
    body = r.json()
    assert body["risk"] == {
        "approved": False,
        "reasons": ["max_positions"],
        "messages": ["5 positions held, the maximum is 5"],
    }
    assert body["explanation"]["probabilities"]["BUY"] == body["confidence"]
    # The EV stored in the explanation is a field of the signal, in the list as in the detail.
    assert body["expected_value"] == round(body["confidence"] - 0.6, 4)
    assert rejected["expected_value"] == body["expected_value"]
    assert body["indicators"] == {"rsi_14": 45.0, "macd": 0.3}
    assert body["sentiment"] == {"score": 0.12, "trend": 0.05}
    assert_error(await client.get("/api/v1/signals/999999"), 404)


async def test_portfolio_summary_positions_trades_equity_metrics(client, seeded):
    body = (await client.get("/api/v1/portfolio")).json()
    assert body["currency"] == "USD" and body["as_of"] == seeded.last.isoformat()
    assert body["n_positions"] == 1 and body["max_drawdown"] == 0.15
    assert body["equity"] == pytest.approx(body["cash"] + 150 * 102.0)
    assert body["unrealized_pnl"] == pytest.approx(150 * 102.0 - 15_008.5)
    assert body["total_pnl"] == pytest.approx(body["equity"] - 100_000.0)
    positions = (await client.get("/api/v1/portfolio/positions")).json()["items"]
    assert [(p["ticker"], p["shares"], p["last_price"]) for p in positions] == [("AAPL", 150, 102.0)]
    trades = (await client.get("/api/v1/portfolio/trades", params={"limit": 5})).json()
    assert len(trades["items"]) == 5 and trades["next_cursor"]
    rest = (await client.get("/api/v1/portfolio/trades", params={"cursor": trades["next_cursor"]})).json()
    assert len(trades["items"]) + len(rest["items"]) == 12
    assert body["realized_pnl"] == pytest.approx(sum(t["pnl"] for t in trades["items"] + rest["items"]))
    curve = (await client.get("/api/v1/portfolio/equity", params={"limit": 500})).json()["items"]
    assert len(curve) == 260 and curve[-1]["trade_date"] == seeded.last.isoformat()
    assert body["today_pnl"] == pytest.approx(curve[-1]["equity"] - curve[-2]["equity"])
    metrics = (await client.get("/api/v1/portfolio/metrics")).json()
    assert metrics["performance"]["trades"]["trades"] == 12


async def test_models_and_backtests_lists(client):
    assert (await client.get("/api/v1/models")).json() == {"items": [], "next_cursor": None}
    assert_error(await client.get("/api/v1/models/active"), 404)
    assert_error(await client.get("/api/v1/models/nope"), 404)
    body = (await client.get("/api/v1/backtests")).json()
    assert body["items"] == [] and body["currency"] == "USD"
    assert_error(await client.get("/api/v1/backtests/1"), 404)


async def test_dates_are_iso_8601(client):
    item = (await client.get("/api/v1/signals", params={"limit": 1})).json()["items"][0]
    date.fromisoformat(item["trade_date"])
    assert item["generated_at"].endswith(("Z", "+00:00"))


async def test_the_api_summary_and_the_cli_report_show_the_same_numbers(client, seeded):
    api = (await client.get("/api/v1/portfolio")).json()
    async with transaction() as session:
        cli = (await portfolio_service.report(session=session)).model_dump(mode="json")
    for field, value in api.items():
        assert cli[field] == (pytest.approx(value) if isinstance(value, float) else value), field
