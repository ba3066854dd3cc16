"""The API against a seeded database (PostgreSQL and SQLite), through `httpx.AsyncClient` on the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.auth import service as auth_service
from backend.core.settings import override_settings
from backend.db.engine import dispose_engines
from tests import api_data
from tests.flows import in_db


@dataclass
class Seeded:
    url: str
    last: date
    portfolio_id: int
    read_key: str
    write_key: str
    revoked_key: str
    data_dir: Path


def seed_database(url: str, data_dir: Path) -> Seeded:
    """Prices, sentiment, a live portfolio and three API keys (one revoked), committed."""

    async def seed(session):
        last = await api_data.seed_market(session)
        await api_data.seed_sentiment(session, last)
        portfolio = await api_data.seed_portfolio(session, last)
        keys = [
            await api_data.create_key(session, n, s)
            for n, s in (("reader", "read"), ("writer", "write"), ("old", "read"))
        ]
        await auth_service.revoke(session=session, ident=keys[2].split("_")[1])
        return Seeded(url, last, portfolio.id, *keys, data_dir=data_dir)

    return in_db(seed)


@pytest.fixture(scope="session", params=["postgresql", "sqlite"])
def seeded(request: pytest.FixtureRequest, make_database, tmp_path_factory) -> Iterator[Seeded]:
    """A seeded database of each backend, with the settings pointing at it."""
    url = make_database(request.param)
    data_dir = tmp_path_factory.mktemp("data")  # the generated key pepper lives here
    # No dashboard, built or not in this checkout (the README-command test builds it): the API alone.
    api = {"public_read": False, "static_dir": data_dir / "no-dashboard"}
    with override_settings(database_url=url, data_dir=data_dir, api=api):
        yield seed_database(url, data_dir)


@pytest.fixture
async def client(seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    """A client with the read key; pass other headers per request."""
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {seeded.read_key}"},
    ) as c:
        yield c
    redis = getattr(app.state, "redis", None)
    if redis is not None:
        await redis.aclose()
    await dispose_engines()
