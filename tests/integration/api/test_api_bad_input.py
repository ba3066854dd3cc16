"""Bad input is a 4xx in the error shape, never a 500 and never a partial write; a dead database is a 503."""

from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_app
from backend.core.settings import override_settings
from backend.db.engine import dispose_engines
from tests.api_data import assert_error, bearer

pytestmark = pytest.mark.postgres


async def test_malformed_json_is_400(client):
    r = await client.post(
        "/api/v1/risk/check",
        content=b'{"ticker": "XOM", "entry_price": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ticker": "XOM", "entry_price": "abc"}, "entry_price"),
        ({"ticker": "XOM", "entry_price": -5}, "entry_price"),
        ({"ticker": "XOM", "entry_price": 50, "quantity": -10}, "quantity"),
        ({"ticker": "XOM", "entry_price": 50, "quantity": 1.5}, "quantity"),
        ({"ticker": "XOM", "entry_price": 50, "confidence": 1.5}, "confidence"),
        ({"ticker": "XOM", "entry_price": 50, "shares": 10}, "shares"),  # unknown field
        ({"ticker": "XOM'; DROP TABLE tickers;--", "entry_price": 50}, "ticker"),
        ({"entry_price": 50}, "ticker"),
        ([1, 2, 3], "body"),
    ],
)
async def test_wrong_bodies_are_422_naming_the_field(client, body, field):
    error = assert_error(await client.post("/api/v1/risk/check", json=body), 422, "validation_error")
    assert field in error["message"], error


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/signals", {"limit": 10**9}),
        ("/api/v1/signals", {"limit": 0}),
        ("/api/v1/signals", {"min_confidence": 1.5}),
        ("/api/v1/signals", {"status": "bogus"}),
        ("/api/v1/signals", {"start": "2013-13-45"}),
        ("/api/v1/signals", {"start": "2013-02-01", "end": "2013-01-01"}),
        ("/api/v1/signals/abc", {}),
        ("/api/v1/signals/99999999999999999999", {}),
        ("/api/v1/tickers/AAPL'OR'1'='1", {}),
        ("/api/v1/prices/AAPL", {"start": "yesterday"}),
        ("/api/v1/sentiment/trending", {"at": "2013-01-01T00:00:00"}),
    ],
)
async def test_bad_query_and_path_values_are_422(client, path, params):
    assert_error(await client.get(path, params=params), 422)


async def test_sql_looking_search_is_just_text(client):
    r = await client.get("/api/v1/tickers", params={"q": "%' OR 1=1; DROP TABLE tickers;--"})
    assert r.status_code == 200 and r.json()["items"] == []
    r = await client.get("/api/v1/tickers", params={"q": "%"})  # a literal percent sign, not a wildcard
    assert r.json()["items"] == []
    assert len((await client.get("/api/v1/tickers")).json()["items"]) == 3


@pytest.mark.parametrize("cursor", ["not-base64!!", "eyJhIjoxfQ", "WyIyMDEzLTAxLTAxIl0", "W10"])
async def test_tampered_cursors_are_400(client, cursor):
    assert_error(await client.get("/api/v1/signals", params={"cursor": cursor}), 400, "bad_cursor")


async def test_a_bad_halt_body_writes_nothing(client, seeded):
    w = bearer(seeded.write_key)
    before = (await client.get("/api/v1/portfolio")).json()
    assert_error(
        await client.post("/api/v1/portfolio/halt", json={"reason": "x", "extra": 1}, headers=w), 422
    )
    assert_error(await client.post("/api/v1/portfolio/halt", json={"reason": ""}, headers=w), 422)
    assert_error(await client.post("/api/v1/portfolio/halt", json={"reason": "x" * 201}, headers=w), 422)
    assert (await client.get("/api/v1/portfolio")).json() == before


async def test_oversized_bodies_are_413(client):
    body = b'{"ticker": "XOM", "entry_price": 50, "pad": "' + b"x" * 70_000 + b'"}'
    r = await client.post("/api/v1/risk/check", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


async def test_unknown_api_paths_are_json_404s(client):
    assert_error(await client.get("/api/v1/nope"), 404, "not_found")
    assert_error(await client.get("/api/v2/signals"), 404)
    assert_error(await client.get("/api/v1/../../etc/passwd"), 404)
    assert_error(await client.delete("/api/v1/signals"), 405)


async def test_database_down_is_503(seeded):
    with override_settings(database_url="postgresql://postgres@127.0.0.1:1/nothing"):
        app = create_app()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert_error(await c.get("/api/v1/health"), 503, "database_unavailable")
            assert_error(await c.get("/api/v1/signals", headers=bearer(seeded.read_key)), 503)
            with override_settings(api={"public_read": True}):
                assert_error(await c.get("/api/v1/portfolio"), 503, "database_unavailable")
        await app.state.redis.aclose()
        await dispose_engines()


async def test_redis_down_is_degraded_and_requests_still_work(seeded):
    with override_settings(redis_url="redis://127.0.0.1:1/0"):
        app = create_app()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=bearer(seeded.read_key)
        ) as c:
            health = (await c.get("/api/v1/health")).json()
            assert health["status"] == "degraded" and health["database"]["ok"] and not health["redis"]["ok"]
            assert (await c.get("/api/v1/tickers")).status_code == 200
            assert_error(await c.get("/api/v1/events"), 503, "events_unavailable")
        await app.state.redis.aclose()
