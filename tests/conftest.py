"""Test databases: a throwaway PostgreSQL database per session on the real server, and a SQLite file.

Every DB test runs on both (the `db_url` fixture is parametrised); each test runs inside a transaction
that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.settings import normalize_database_url, override_settings
from backend.db import migrate
from backend.db.engine import create_engine

PG_ADMIN_URL = os.environ.get("TFT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_database_url(name: str) -> str:
    url = make_url(normalize_database_url(PG_ADMIN_URL)).set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Factory: a new, migrated, empty database of a backend; PostgreSQL ones are dropped at the end."""
    created: list[str] = []

    def make(backend: str, *, migrated: bool = True) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / f"tft_{uuid.uuid4().hex[:8]}.db"
            url = f"sqlite+aiosqlite:///{path}"
        else:
            name = f"tft_test_{uuid.uuid4().hex[:12]}"
            asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
            created.append(name)
            url = _pg_database_url(name)
        if migrated:
            migrate.upgrade(url)
        return url

    yield make
    for name in created:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, make_database) -> Iterator[str]:
    """A migrated database shared by the session's tests (isolated by rolled-back transactions)."""
    url = make_database(request.param)
    with override_settings(database_url=url):
        yield url


@pytest.fixture
async def session(db_url: str) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test; services' flushes and savepoints still work."""
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            outer = await conn.begin()
            async with AsyncSession(
                bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
            ) as s:
                yield s
            await outer.rollback()
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_db(request: pytest.FixtureRequest, make_database) -> Iterator[str]:
    """A brand-new migrated database for tests that commit (CLI, flows); parametrise with `backend`."""
    backend = getattr(request, "param", "sqlite")
    url = make_database(backend)
    with override_settings(database_url=url):
        yield url


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
