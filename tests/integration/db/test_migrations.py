"""Every migration runs up, down and up again on both databases; the history has a single head."""

import asyncio

import pytest
from sqlalchemy import inspect

from backend.db import migrate
from backend.db.engine import create_engine


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_single_head():
    assert len(migrate.heads()) == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_downgrade_upgrade(make_database, backend):
    url = make_database(backend, migrated=False)
    migrate.upgrade(url)
    assert {"tickers", "stock_prices", "alembic_version"} <= asyncio.run(_tables(url))
    migrate.downgrade(url, "base")
    assert asyncio.run(_tables(url)) <= {"alembic_version"}
    migrate.upgrade(url)
    assert {"tickers", "stock_prices"} <= asyncio.run(_tables(url))
