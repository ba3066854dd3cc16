"""`tickers seed` and `tickers refresh` end to end on a committed database (SQLite file and PostgreSQL)."""

import asyncio

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from backend.cli import app
from backend.core.settings import override_settings
from backend.db.engine import create_engine
from backend.market.models import Ticker

runner = CliRunner()
both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)


def active_of(url: str) -> dict[str, bool]:
    async def read() -> dict[str, bool]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return dict((await conn.execute(select(Ticker.symbol, Ticker.active))).all())
        finally:
            await engine.dispose()

    return asyncio.run(read())


@both
def test_seed_then_refresh_from_recorded_files(fresh_db, data_dir):
    result = runner.invoke(app, ["tickers", "seed"])
    assert result.exit_code == 0, result.output
    assert "seeded 6,005 tickers" in result.output and "ETFs" in result.output
    again = runner.invoke(app, ["tickers", "seed"])
    assert again.exit_code == 0 and "0 new" in again.output
    before = active_of(fresh_db)

    files = ["--nasdaq-file", str(data_dir / "nasdaqtrader/nasdaqlisted.txt")]
    files += ["--other-file", str(data_dir / "nasdaqtrader/otherlisted.txt")]
    refused = runner.invoke(app, ["tickers", "refresh", *files])
    assert refused.exit_code == 1 and "refusing a partial or wrong file" in refused.output
    assert active_of(fresh_db) == before  # nothing written

    with override_settings(database_url=fresh_db, universe={"max_deactivate_share": 1.0}):
        done = runner.invoke(app, ["tickers", "refresh", *files])
    assert done.exit_code == 0, done.output
    assert "marked inactive" in done.output and "NEWCO" in active_of(fresh_db)
    after = active_of(fresh_db)
    assert after["GME"] and not after["MSTR"] and len(after) == len(before) + 1  # NEWCO added, none deleted


@both
def test_refresh_offline_is_one_line_and_changes_nothing(fresh_db):
    runner.invoke(app, ["tickers", "seed"])
    before = active_of(fresh_db)
    with override_settings(
        database_url=fresh_db,
        universe={"nasdaq_listed_url": "http://127.0.0.1:9/nasdaqlisted.txt", "timeout_seconds": 2},
    ):
        result = runner.invoke(app, ["tickers", "refresh"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "needs the internet" in result.output
    assert active_of(fresh_db) == before
