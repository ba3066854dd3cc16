"""`POST /api/v1/risk/check`: the risk manager's verdict on a proposed trade, with nothing written."""

from __future__ import annotations

import math

import pytest

from tests.api_data import assert_error

pytestmark = pytest.mark.postgres


async def _state(client) -> dict:
    return (await client.get("/api/v1/portfolio")).json()


async def test_an_acceptable_trade_is_approved_with_the_allowed_quantity(client):
    before = await _state(client)
    r = await client.post(
        "/api/v1/risk/check",
        json={"ticker": "xom", "entry_price": 80.0, "stop_price": 77.6, "confidence": 0.9},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    equity, cash = before["equity"], before["cash"]
    # Sized by hand: 2% of equity at risk over a 3% stop, capped at 20% of equity and by the cash.
    by_risk = math.floor(equity * 0.02 / (80.0 * 0.03) + 1e-9)
    by_position = math.floor(equity * 0.20 / 80.0 + 1e-9)
    by_cash = math.floor((cash - 1.0) / (80.0 * 1.0005))
    assert body["allowed_quantity"] == min(by_risk, by_position, by_cash)
    assert body["approved"] is True and body["reasons"] == [] and body["skipped_rules"] == []
    assert body["stop_pct"] == pytest.approx(0.03) and body["target_pct"] == pytest.approx(0.06)
    assert body["stop_price"] == pytest.approx(77.6) and body["target_price"] == pytest.approx(84.8)
    assert (body["ticker"], body["currency"], body["equity"]) == ("XOM", "USD", pytest.approx(equity))
    assert await _state(client) == before  # nothing written


async def test_every_failing_rule_is_listed(client):
    r = await client.post(
        "/api/v1/risk/check",
        json={
            "ticker": "AAPL",
            "entry_price": 100.0,
            "stop_price": 88.0,
            "quantity": 10**6,
            "confidence": 0.5,
        },
    )
    body = r.json()
    assert body["approved"] is False
    assert {"confidence_below_min", "already_held", "stop_too_wide", "quantity_above_allowed"} <= set(
        body["reasons"]
    )
    assert len(body["messages"]) == len(body["reasons"])
    assert "12.00%" in body["messages"][body["reasons"].index("stop_too_wide")]


async def test_without_confidence_the_rule_is_skipped_and_said_so(client):
    body = (
        await client.post("/api/v1/risk/check", json={"ticker": "XOM", "entry_price": 80.0, "stop_price": 78})
    ).json()
    assert body["skipped_rules"] == ["confidence_below_min"]
    assert "confidence_below_min" not in body["reasons"]


async def test_without_a_stop_or_stored_atr_it_says_what_to_pass(client):
    error = assert_error(
        await client.post("/api/v1/risk/check", json={"ticker": "XOM", "entry_price": 80.0}), 422
    )
    assert "stop_price" in error["message"] and "XOM" in error["message"]


async def test_a_stop_above_the_entry_is_422(client):
    error = assert_error(
        await client.post(
            "/api/v1/risk/check", json={"ticker": "XOM", "entry_price": 80.0, "stop_price": 81}
        ),
        422,
    )
    assert "below entry_price" in error["message"]


async def test_an_unknown_ticker_is_404(client):
    assert_error(await client.post("/api/v1/risk/check", json={"ticker": "ZZZZ", "entry_price": 8.0}), 404)
