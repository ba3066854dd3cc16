"""The response cache on real PostgreSQL: kept until a committed write anywhere, never past the key checks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from backend.api import ratelimit
from backend.api.app import create_app
from backend.api.cache import ResponseCache
from backend.auth import service as auth_service
from backend.core.settings import override_settings
from backend.db import migrate
from backend.db.base import Base
from backend.db.changes import APPLICATION_NAME, CHANNEL, UNWATCHED_TABLES, ChangeListener
from backend.db.engine import dispose_engines, transaction
from backend.portfolio import service as portfolio_service
from tests.api_data import assert_error, bearer
from tests.integration.api.conftest import Seeded, seed_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg(make_database, tmp_path_factory) -> Iterator[Seeded]:
    url = make_database("postgresql")
    data_dir = tmp_path_factory.mktemp("data")
    with override_settings(database_url=url, data_dir=data_dir, api={"public_read": False}):
        yield seed_database(url, data_dir)


@pytest.fixture
async def served(pg: Seeded) -> AsyncIterator[tuple[httpx.AsyncClient, ResponseCache]]:
    """The app with its lifespan running (the change listener connected), and its cache."""
    app = create_app()
    cache: ResponseCache = app.state.response_cache
    async with app.router.lifespan_context(app):
        await until(lambda: cache.live)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=bearer(pg.read_key)
        ) as client:
            yield client, cache
    if getattr(app.state, "redis", None) is not None:
        await app.state.redis.aclose()
    await dispose_engines()


async def until(condition, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def one_window() -> None:
    """Wait out the end of a rate-limit window: a new window starts its count afresh."""
    if time.time() % ratelimit.WINDOW_SECONDS > ratelimit.WINDOW_SECONDS - 3:
        await asyncio.sleep(3.5)


def hits() -> float:
    return REGISTRY.get_sample_value("tft_api_response_cache_lookups_total", {"result": "hit"}) or 0.0


async def test_every_table_but_the_bookkeeping_notifies_its_writes(pg):
    conn = await asyncpg.connect(pg.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'tft_changes'"
        )
    finally:
        await conn.close()
    # A new table's migration must add the trigger (migrations 0012 `watch`), or its writes would
    # leave cached answers stale.
    assert {r["relname"] for r in rows} == set(Base.metadata.tables) - UNWATCHED_TABLES


async def test_a_second_read_is_served_from_memory_with_an_etag(served):
    client, cache = served
    first = await client.get("/api/v1/portfolio")
    before = hits()
    second = await client.get("/api/v1/portfolio")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert hits() == before + 1 and len(cache) == 1
    assert second.headers["cache-control"] == "private, no-cache"
    assert second.headers["x-content-type-options"] == "nosniff"  # the outer middleware still applies
    unchanged = await client.get("/api/v1/portfolio", headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""


async def test_a_write_committed_by_another_process_is_seen_at_once(served):
    client, cache = served
    assert (await client.get("/api/v1/portfolio")).json()["kill_switch"] is False
    generation = cache.generation
    # The CLI's path (`tft-trader portfolio halt`): its own connection, its own commit.
    async with transaction() as session:
        await portfolio_service.set_kill_switch(session=session, on=True, reason="cache test")
    try:
        await until(lambda: cache.generation > generation)
        body = (await client.get("/api/v1/portfolio")).json()
        assert body["kill_switch"] is True and body["kill_switch_reason"] == "cache test"
    finally:
        async with transaction() as session:
            await portfolio_service.set_kill_switch(session=session, on=False)


async def test_a_rolled_back_write_keeps_the_cache(served):
    client, cache = served
    await client.get("/api/v1/signals?status=active")
    generation = cache.generation
    async with transaction() as session:
        await session.execute(text("UPDATE portfolios SET cash = cash + 1"))
        await session.rollback()
    await asyncio.sleep(0.3)  # a notice, had one been sent, arrives well within this
    assert cache.generation == generation and len(cache) == 1


def drops(cause: str) -> float:
    return REGISTRY.get_sample_value("tft_api_response_cache_drops_total", {"cause": cause}) or 0.0


async def test_a_write_request_drops_the_cache_before_it_answers(served, pg):
    client, _ = served
    assert (await client.get("/api/v1/portfolio")).json()["kill_switch"] is False
    before = drops("write_request")
    halted = await client.post("/api/v1/portfolio/halt", headers=bearer(pg.write_key), json={})
    try:
        assert halted.status_code == 200
        # Dropped by the request itself, not (only) by the database's notice, which may come later.
        assert drops("write_request") == before + 1
        assert (await client.get("/api/v1/portfolio")).json()["kill_switch"] is True
    finally:
        resumed = await client.post("/api/v1/portfolio/resume", headers=bearer(pg.write_key))
        assert resumed.status_code == 200


async def test_a_refused_write_request_keeps_the_cache(served):
    client, cache = served
    await client.get("/api/v1/portfolio")
    before = drops("write_request")
    assert (await client.post("/api/v1/portfolio/halt", headers={"Authorization": ""})).status_code == 401
    assert (await client.post("/api/v1/nothing-here", headers={"Authorization": ""})).status_code == 404
    assert drops("write_request") == before and len(cache) == 1


async def test_unknown_query_parameters_are_answered_but_not_kept(served):
    client, cache = served
    plain = await client.get("/api/v1/signals?status=active")
    for n in range(3):
        odd = await client.get(f"/api/v1/signals?status=active&junk={n}")
        assert odd.status_code == 200 and odd.content == plain.content
    assert len(cache) == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Authorization": ""}, "unauthorized"),
        ({"Authorization": "Bearer tft_deadbeef_" + "A" * 43}, "invalid_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_api_key"),
    ],
)
async def test_a_cached_answer_still_needs_a_valid_key(served, headers, code):
    client, cache = served
    assert (await client.get("/api/v1/signals")).status_code == 200
    assert len(cache) == 1
    assert_error(await client.get("/api/v1/signals", headers=headers), 401, code)


async def test_a_revoked_key_is_refused_on_a_cached_answer(served, pg):
    client, _ = served
    async with transaction() as session:
        key = (await auth_service.create(session=session, name=f"c-{uuid.uuid4().hex[:6]}", scope="read")).key
    assert (await client.get("/api/v1/portfolio/trades", headers=bearer(key))).status_code == 200
    async with transaction() as session:
        await auth_service.revoke(session=session, ident=key.split("_")[1])
    assert_error(await client.get("/api/v1/portfolio/trades", headers=bearer(key)), 401, "invalid_api_key")


async def test_the_rate_limit_counts_cached_answers(pg):
    async with transaction() as session:
        key = (await auth_service.create(session=session, name=f"r-{uuid.uuid4().hex[:6]}", scope="read")).key
    await one_window()
    with override_settings(api={"rate_limit_per_minute": 3}):
        app = create_app()
        async with app.router.lifespan_context(app):
            await until(lambda: app.state.response_cache.live)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                codes = [
                    (await c.get("/api/v1/portfolio", headers=bearer(key))).status_code for _ in range(3)
                ]
                assert codes == [200, 200, 200]
                assert_error(await c.get("/api/v1/portfolio", headers=bearer(key)), 429, "rate_limited")
        await app.state.redis.aclose()
        await dispose_engines()


async def test_nothing_is_kept_while_the_listener_is_not_connected(served):
    client, cache = served
    cache.set_live(False)  # what the listener reports when its connection drops
    before = hits()
    for _ in range(2):
        assert (await client.get("/api/v1/portfolio")).status_code == 200
    assert hits() == before and len(cache) == 0


async def test_a_hit_is_counted_under_its_route_template(served):
    client, _ = served
    labels = {"method": "GET", "route": "/api/v1/signals/{signal_id}", "status": "200"}
    before = REGISTRY.get_sample_value("tft_http_requests_total", labels) or 0.0
    hits_before = hits()
    for _ in range(2):
        assert (await client.get("/api/v1/signals/1")).status_code == 200
    assert hits() == hits_before + 1  # the second one
    assert REGISTRY.get_sample_value("tft_http_requests_total", labels) == before + 2


async def test_the_listener_reconnects_and_reports_the_gap(pg):
    events: list[object] = []
    listener = ChangeListener(
        pg.url, on_change=events.append, on_live=events.append, ping_seconds=0.2, max_backoff_seconds=0.2
    )
    listener.start()
    admin = await asyncpg.connect(pg.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await until(lambda: True in events)
        await admin.execute(f"NOTIFY {CHANNEL}, 'trades'")
        await until(lambda: "trades" in events)
        # PostgreSQL restarting, as seen by one connection: it is closed under the listener.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
        )
        await until(lambda: False in events)
        await until(lambda: events.count(True) == 2)
        await admin.execute(f"NOTIFY {CHANNEL}, 'positions'")
        await until(lambda: "positions" in events)
    finally:
        await admin.close()
        await listener.stop()
    assert events.index(False) < len(events) - 1 - events[::-1].index(True)  # dark, then live again


async def test_hits_far_from_the_limit_reach_redis_in_batches(pg, monkeypatch):
    async with transaction() as session:
        created = await auth_service.create(session=session, name=f"b-{uuid.uuid4().hex[:6]}", scope="read")
    key_id = created.key.split("_")[1]
    await one_window()
    with override_settings(api={"rate_limit_per_minute": 100_000}):
        app = create_app()
        transport = httpx.ASGITransport(app=app)
        monkeypatch.setattr(ratelimit, "SYNC_SECONDS", 60.0)  # nothing sent on time while the 20 run
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=bearer(created.key)
        ) as c:
            for _ in range(20):
                assert (await c.get("/api/v1/settings/risk")).status_code == 200
            redis = app.state.redis
            counted = [
                int(await redis.get(k)) async for k in redis.scan_iter(f"tft:ratelimit:key:{key_id}:*")
            ]
            assert sum(counted) < 20  # most of them are still pending in this process
            monkeypatch.setattr(ratelimit, "SYNC_SECONDS", 0.0)
            assert (await c.get("/api/v1/settings/risk")).status_code == 200
            counted = [
                int(await redis.get(k)) async for k in redis.scan_iter(f"tft:ratelimit:key:{key_id}:*")
            ]
            assert sum(counted) == 21  # all sent with the first request after the interval
        await redis.aclose()
        await dispose_engines()


async def test_misses_arriving_together_read_the_database_once(served, monkeypatch):
    client, _ = served
    reads = 0
    summary = portfolio_service.summary

    async def counted(**kwargs):
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)  # long enough for the others to arrive while it runs
        return await summary(**kwargs)

    monkeypatch.setattr(portfolio_service, "summary", counted)
    answers = await asyncio.gather(*(client.get("/api/v1/portfolio") for _ in range(20)))
    assert {a.status_code for a in answers} == {200} and len({a.content for a in answers}) == 1
    assert reads == 1


async def test_a_url_with_ssl_settings_is_listened_to(pg):
    live: list[bool] = []
    url = pg.url + ("&" if "?" in pg.url else "?") + "ssl=disable"  # as hosted databases hand them out
    listener = ChangeListener(url, on_change=lambda _t: None, on_live=live.append)
    listener.start()
    try:
        await until(lambda: live == [True])
    finally:
        await listener.stop()


@pytest.fixture
def before_0012(make_database) -> str:
    url = make_database("postgresql", migrated=False)
    migrate.upgrade(url, "0011_ops")  # the API deployed before `tft-trader db upgrade` ran
    return url


async def test_a_database_without_the_triggers_is_never_trusted(before_0012, caplog):
    url = before_0012
    live: list[bool] = []
    listener = ChangeListener(url, on_change=lambda _t: None, on_live=live.append, max_backoff_seconds=0.1)
    listener.start()
    try:
        await until(lambda: "no change triggers" in caplog.text)
        assert live == []
    finally:
        await listener.stop()
