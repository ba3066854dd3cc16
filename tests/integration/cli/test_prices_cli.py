"""The `tft-trader` commands end to end on a committed database (SQLite file and PostgreSQL)."""

import asyncio
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yfinance
from sqlalchemy import func, select
from typer.testing import CliRunner

from backend.cli import app
from backend.db.engine import create_engine
from backend.market.models import StockPrice
from tests.factories import make_bars, write_csv
from tests.unit.market.test_yahoo import recorded_download

runner = CliRunner()
both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)


def stored_rows(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(StockPrice))).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(count())


@pytest.fixture
def good_csv(tmp_path) -> Path:
    path = tmp_path / "good.csv"
    write_csv(pd.concat([make_bars("AAA", n=30, seed=1), make_bars("BBB", n=20, seed=2)]), path)
    return path


@both
def test_import_reports_counts_and_is_idempotent(fresh_db, good_csv):
    first = runner.invoke(app, ["prices", "import", str(good_csv)])
    assert first.exit_code == 0, first.output
    assert "AAA" in first.stdout and "total" in first.stdout
    assert stored_rows(fresh_db) == 50
    second = runner.invoke(app, ["prices", "import", str(good_csv)])
    assert second.exit_code == 0
    total = next(line for line in second.stdout.splitlines() if "total" in line)
    assert [cell.strip() for cell in total.split("│")[1:5]] == ["total", "0", "0", "50"]
    assert stored_rows(fresh_db) == 50


@both
def test_bad_row_aborts_the_whole_import(fresh_db, tmp_path, good_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text(good_csv.read_text() + "AAA,2030-01-02,10,9,11,10,10,100\n")
    result = runner.invoke(app, ["prices", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:52: high (9) is below low (11)" in result.stderr
    assert stored_rows(fresh_db) == 0  # the 50 valid rows before it were not written either


@both
def test_skip_invalid_imports_valid_rows_and_reports_rejected(fresh_db, tmp_path, good_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text(good_csv.read_text() + "AAA,2030-01-02,10,9,11,10,10,100\nAAA,2030-01-03,x,9,8,9,9,1\n")
    result = runner.invoke(app, ["prices", "import", str(bad), "--skip-invalid"])
    assert result.exit_code == 0
    assert "2 row(s) rejected" in result.stderr
    assert "line 53: unparseable open 'x'" in result.stderr
    assert stored_rows(fresh_db) == 50


def test_missing_column_exits_non_zero(fresh_db, tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("ticker,date,open,close\nAAA,2024-01-02,1,1\n")
    result = runner.invoke(app, ["prices", "import", str(path)])
    assert result.exit_code == 1
    assert "missing column(s) high, low, volume" in result.stderr


def test_fetch_validates_symbols_before_any_request(fresh_db, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("no request may be made for invalid symbols")

    monkeypatch.setattr(yfinance, "download", no_network)
    result = runner.invoke(app, ["prices", "fetch", "AAPL", "NOT_A_TICKER"])
    assert result.exit_code == 1
    assert "invalid ticker symbol(s) 'NOT_A_TICKER'" in result.stderr


@both
def test_fetch_stores_good_tickers_and_names_failed_ones(fresh_db, monkeypatch):
    download = recorded_download(
        {"AAPL": make_bars("AAPL", n=40)},
        {"FAKE": "YFTzMissingError('possibly delisted; no timezone found')"},
    )
    monkeypatch.setattr(yfinance, "download", download)
    result = runner.invoke(app, ["prices", "fetch", "AAPL", "FAKE", "--start", "2020-01-01"])
    assert result.exit_code == 0, result.output
    assert "FAKE: YFTzMissingError('possibly delisted; no timezone found')" in result.stderr
    assert stored_rows(fresh_db) == 40
    logging.getLogger("yfinance").handlers.clear()


def test_fetch_rejects_end_before_start(fresh_db):
    result = runner.invoke(app, ["prices", "fetch", "AAPL", "--start", "2024-02-01", "--end", "2024-01-01"])
    assert result.exit_code != 0
    assert "is before --start" in result.output


def test_db_downgrade_and_upgrade(fresh_db):
    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert stored_rows(fresh_db) == 0


def test_demo_command_runs_from_a_clean_data_dir(tmp_path):
    """The README's first command, as a real process on the embedded default (a 12-ticker, 42-session run
    of it; `tests/integration/demo` checks what it stores)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {
        "DATA_DIR": str(tmp_path),
        "DEMO__BUILD_DASHBOARD": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "backend", "demo", "--no-serve", "--tickers", "12", "--sessions", "42"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"database sqlite+aiosqlite:///{tmp_path}/tft_trader.db" in out  # the embedded default
    assert "12 real S&P 500 stocks with GICS sectors" in out and "SYNTHETIC Reddit posts" in out
    assert re.search(r"live model \S+: (trusted|NOT trusted \(.+\))", out)  # the verdict, and why not
    assert "replay 2017-12-07..2018-02-07 (42 sessions" in out
    for line in ("model (ensemble)", "RSI rule", "MACD rule", "buy & hold"):
        assert line in out  # the model beside both rules and buy-and-hold
    assert "live paper portfolio, 2018-02-07: 12 ranked candidates" in out
    assert re.search(r"read API key \(shown once\): tft_\S+", out)
    assert stored_rows(f"sqlite+aiosqlite:///{tmp_path}/tft_trader.db") > 12 * 1000
