"""Who may call what: the key matrix, public reads, writes, last use, rate limits."""

from __future__ import annotations

import uuid

import httpx
import pytest

from backend.api.app import create_app
from backend.auth import service as auth_service
from backend.core.settings import override_settings
from backend.db.engine import transaction
from backend.events import bus
from tests.api_data import assert_error, bearer

pytestmark = pytest.mark.postgres
NO_KEY = {"Authorization": ""}


async def test_a_read_needs_a_key(client):
    error = assert_error(await client.get("/api/v1/signals", headers=NO_KEY), 401, "unauthorized")
    assert "apikey create" in error["message"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tft_deadbeef_" + "A" * 43,  # well-formed, unknown id
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer ' OR '1'='1",
    ],
)
async def test_wrong_keys_are_401(client, header):
    assert_error(
        await client.get("/api/v1/signals", headers={"Authorization": header}), 401, "invalid_api_key"
    )


async def test_a_right_id_with_a_wrong_secret_is_401(client, seeded):
    prefix, key_id, secret = seeded.read_key.split("_", 2)
    forged = f"{prefix}_{key_id}_{'B' * 43 if secret != 'B' * 43 else 'C' * 43}"
    assert_error(await client.get("/api/v1/signals", headers=bearer(forged)), 401, "invalid_api_key")


async def test_a_revoked_key_is_401(client, seeded):
    assert_error(await client.get("/api/v1/signals", headers=bearer(seeded.revoked_key)), 401)


async def test_a_read_key_cannot_write_and_nothing_changes(client, seeded):
    before = (await client.get("/api/v1/portfolio")).json()
    error = assert_error(await client.post("/api/v1/portfolio/halt", json={"reason": "x"}), 403, "forbidden")
    assert "read-only" in error["message"]
    assert_error(await client.post("/api/v1/portfolio/halt", headers=NO_KEY), 401)
    assert_error(await client.put("/api/v1/tickers/XOM/watchlist"), 403)
    assert (await client.get("/api/v1/portfolio")).json() == before


async def test_write_key_halts_and_resumes(client, seeded):
    w = bearer(seeded.write_key)
    stream = bus.subscribe(poll_seconds=0.1)
    assert await anext(stream) is None  # subscribed
    try:
        r = await client.post("/api/v1/portfolio/halt", json={"reason": "earnings week"}, headers=w)
        assert r.status_code == 200, r.text
        assert (r.json()["kill_switch"], r.json()["kill_switch_reason"]) == (True, "earnings week")
        assert (await client.get("/api/v1/portfolio")).json()["kill_switch"] is True
        r = await client.post("/api/v1/portfolio/resume", headers=w)
        assert (r.json()["kill_switch"], r.json()["drawdown"]) == (False, 0.0)
        events = [await anext(stream) for _ in range(20)]
    finally:
        await stream.aclose()
    # A kill switch flipped by hand reaches open dashboards too, not only one latched at a close.
    switched = [(e.type, e.data.get("reason")) for e in events if e is not None]
    assert switched == [(bus.PORTFOLIO_HALTED, "earnings week"), (bus.PORTFOLIO_RESUMED, None)]


async def test_watchlist_add_list_remove(client, seeded):
    w = bearer(seeded.write_key)
    assert (await client.put("/api/v1/tickers/xom/watchlist", headers=w)).status_code == 204
    assert (await client.put("/api/v1/tickers/XOM/watchlist", headers=w)).status_code == 204  # idempotent
    listed = (await client.get("/api/v1/tickers", params={"watchlist": True})).json()["items"]
    assert [(t["symbol"], t["watchlist"]) for t in listed] == [("XOM", True)]
    assert (await client.get("/api/v1/tickers/XOM")).json()["watchlist"] is True
    assert (await client.delete("/api/v1/tickers/XOM/watchlist", headers=w)).status_code == 204
    assert (await client.get("/api/v1/tickers", params={"watchlist": True})).json()["items"] == []
    assert_error(await client.put("/api/v1/tickers/ZZZZ/watchlist", headers=w), 404)


async def test_public_read_allows_reads_without_a_key_but_never_writes(client):
    with override_settings(api={"public_read": True}):
        assert (await client.get("/api/v1/signals", headers=NO_KEY)).status_code == 200
        assert_error(await client.post("/api/v1/portfolio/resume", headers=NO_KEY), 401)
        # A key that is sent must still be valid.
        assert_error(await client.get("/api/v1/signals", headers=bearer("tft_00000000_" + "x" * 43)), 401)


async def test_last_use_is_recorded(client, seeded):
    await client.get("/api/v1/tickers")
    async with transaction() as session:
        keys = {k.name: k for k in await auth_service.list_keys(session=session)}
    assert keys["reader"].last_used_at is not None
    assert keys["old"].revoked_at is not None


async def test_rate_limit_per_key_then_429(seeded):
    async with transaction() as session:
        key = (
            await auth_service.create(session=session, name=f"rl-{uuid.uuid4().hex[:6]}", scope="read")
        ).key
    with override_settings(api={"rate_limit_per_minute": 3}):
        app = create_app()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            codes = [(await c.get("/api/v1/tickers", headers=bearer(key))).status_code for _ in range(3)]
            assert codes == [200, 200, 200]
            error = assert_error(await c.get("/api/v1/tickers", headers=bearer(key)), 429, "rate_limited")
            assert error["details"]["limit"] == 3 and error["details"]["retry_after_seconds"] > 0
        await app.state.redis.aclose()


async def test_rate_limit_per_ip_without_a_key(seeded):
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"  # a fresh bucket
    with override_settings(api={"anonymous_rate_limit_per_minute": 2, "public_read": True}):
        app = create_app()
        transport = httpx.ASGITransport(app=app, client=(ip, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert [(await c.get("/api/v1/tickers")).status_code for _ in range(2)] == [200, 200]
            assert_error(await c.get("/api/v1/tickers"), 429)
            # Guessing keys spends the same budget.
            assert_error(await c.get("/api/v1/tickers", headers=bearer("tft_00000000_" + "x" * 43)), 429)
        await app.state.redis.aclose()


async def _fresh_key() -> str:
    async with transaction() as session:
        created = await auth_service.create(session=session, name=f"c-{uuid.uuid4().hex[:6]}", scope="read")
    return created.key


async def test_a_revoke_in_this_process_takes_effect_at_once(client):
    key = await _fresh_key()
    assert (await client.get("/api/v1/tickers", headers=bearer(key))).status_code == 200  # now remembered
    async with transaction() as session:
        await auth_service.revoke(session=session, ident=key.split("_")[1])
    assert_error(await client.get("/api/v1/tickers", headers=bearer(key)), 401, "invalid_api_key")


async def test_a_revoke_elsewhere_takes_effect_within_the_verified_ttl(client, monkeypatch):
    import asyncio

    from sqlalchemy import update

    from backend.auth.models import ApiKey
    from backend.core.calendar import utcnow

    monkeypatch.setattr(auth_service, "VERIFIED_TTL_SECONDS", 0.5)
    key = await _fresh_key()
    assert (await client.get("/api/v1/tickers", headers=bearer(key))).status_code == 200
    # Another process (`tft-trader apikey revoke`) writes the row; this process's memory is not told.
    async with transaction() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.key_id == key.split("_")[1]).values(revoked_at=utcnow())
        )
    assert (await client.get("/api/v1/tickers", headers=bearer(key))).status_code == 200  # remembered
    await asyncio.sleep(0.6)
    assert_error(await client.get("/api/v1/tickers", headers=bearer(key)), 401, "invalid_api_key")
