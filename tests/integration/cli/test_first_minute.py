"""A newcomer's first minute: one-line errors that say what to run, --debug for tracebacks, validation
before progress bars, tables that fit 80 columns."""

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from backend.cli import app
from backend.cli.errors import DatabaseMissing
from backend.core.settings import override_settings
from backend.db import migrate
from backend.db.base import table_of
from backend.ml.models import ModelVersion
from tests.flows import in_db

runner = CliRunner()


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def no_database(tmp_path: Path):
    """The embedded default in an empty data directory: nothing created yet."""
    with override_settings(data_dir=tmp_path / "home", database_url=""):
        yield tmp_path / "home" / "tft_trader.db"


@pytest.mark.parametrize("args", [["portfolio", "show"], ["models", "list"], ["predict"], ["monitor"]])
def test_a_missing_database_says_what_to_run_and_creates_no_file(no_database: Path, args):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "tft-trader db upgrade" in lines[0] and "tft-trader demo" in lines[0]
    assert "Traceback" not in result.output
    assert not no_database.exists() and not no_database.parent.exists()


def test_debug_keeps_the_traceback(no_database: Path):
    result = runner.invoke(app, ["--debug", "portfolio", "show"])
    assert result.exit_code == 1
    assert isinstance(result.exception, DatabaseMissing)  # raised, not swallowed: typer prints the traceback


def test_an_unmigrated_sqlite_file_says_to_upgrade(tmp_path: Path):
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # exists, but has no schema
    with override_settings(database_url=f"sqlite:///{path}"):
        result = runner.invoke(app, ["portfolio", "show"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "has no table portfolios" in line and "tft-trader db upgrade" in line


@pytest.mark.postgres
def test_an_unmigrated_postgres_database_says_to_upgrade(make_database):
    url = make_database("postgresql", migrated=False)
    with override_settings(database_url=url):
        result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "has no table" in line and "tft-trader db upgrade" in line


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_of_an_older_version_says_its_schema_is_old(make_database, backend):
    url = make_database(backend, migrated=False)
    migrate.upgrade(url, "0008")  # before model_versions gained `trusted`, `quality` and `outcome`
    with override_settings(database_url=url):
        result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert line.startswith("error: the database schema is older than this version (no column ")
    assert "model_versions." in line and line.endswith("run `tft-trader db upgrade`")
    assert "unexpected" not in line and "Traceback" not in result.output


def test_an_unreachable_server_names_host_and_port_and_masks_the_password():
    with override_settings(database_url="postgresql://trader:hunter2@127.0.0.1:9/tft"):
        result = runner.invoke(app, ["portfolio", "show"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "127.0.0.1:9" in line and "connection refused" in line
    assert "hunter2" not in result.output and "***" in line


def test_migrating_an_unreachable_server_is_one_line_too():
    with override_settings(database_url="postgresql://trader:hunter2@127.0.0.1:9/tft"):
        result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "127.0.0.1:9" in line and "hunter2" not in result.output


def test_an_unexpected_error_is_one_line_with_a_pointer_to_debug(fresh_db, monkeypatch):
    from backend.ml import service as ml_service

    async def broken(**_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ml_service, "list_models", broken)
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "unexpected ZeroDivisionError: division by zero" in line and "--debug" in line
    assert isinstance(runner.invoke(app, ["--debug", "models", "list"]).exception, ZeroDivisionError)


@pytest.mark.parametrize(
    "args",
    [
        ["backtest", "--start", "2012-06-01", "--end", "2012-01-03"],
        ["reddit", "load-sample", "--start", "2012-06-01", "--end", "2012-01-03"],
        ["prices", "fetch", "AAPL", "--start", "2012-06-01", "--end", "2012-01-03"],
    ],
)
def test_a_reversed_date_range_fails_before_any_progress_bar(fresh_db, args):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert line == "error: --end 2012-01-03 is before --start 2012-06-01"
    assert "0/0" not in result.output and "replaying" not in result.output


def _model_row(version: str, active: bool) -> dict:
    metrics = {"ensemble": {"accuracy": 0.41234, "log_loss": 1.0512}}
    return {
        "version": version,
        "members": ["xgboost", "lightgbm", "lstm"],
        "weights": {"xgboost": 0.4, "lightgbm": 0.3, "lstm": 0.3},
        "feature_set_version": "v1",
        "feature_columns": [],
        "tickers": ["AAPL"],
        "train_start": date(2005, 1, 3),
        "train_end": date(2013, 2, 1),
        "as_of": date(2013, 3, 1),
        "n_samples": 12345,
        "class_balance": {},
        "metrics": metrics,
        "calibration": {},
        "oos_score": -1.0512,
        "promotion": {"promoted": active, "reason": "first model: always promoted" if active else "worse"},
        "notes": [],
        "is_active": active,
    }


def test_models_list_fits_80_columns_and_versions_can_be_copied(fresh_db, monkeypatch):
    versions = ["20130301-221530123456", "20130228-101010654321"]

    async def add(session):
        await session.execute(
            insert(table_of(ModelVersion)), [_model_row(versions[0], True), _model_row(versions[1], False)]
        )

    in_db(add)
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    for version in versions:
        assert any(line.split() and line.split()[0] == version for line in lines), result.stdout
    shown = runner.invoke(app, ["models", "show", versions[1]])
    assert shown.exit_code == 0 and f'"version": "{versions[1]}"' in shown.stdout
    unknown = runner.invoke(app, ["models", "show", "nope"])
    assert unknown.exit_code == 1 and len(error_lines(unknown)) == 1


def test_no_python_values_in_messages(fresh_db):
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0
    assert "None" not in result.output and "{}" not in result.output


def test_library_warnings_and_yfinance_errors_are_not_repeated(fresh_db, monkeypatch):
    import warnings

    import yfinance

    from tests.factories import make_bars
    from tests.unit.market.test_yahoo import recorded_download

    recorded = recorded_download({"AAPL": make_bars("AAPL", n=40)}, {"FAKE": "YFTzMissingError('delisted')"})

    def download(tickers, **kwargs):
        # What yfinance and pandas print on a real fetch today.
        warnings.warn("YF.download() has changed argument auto_adjust default", FutureWarning, stacklevel=2)
        warnings.warn("DataFrame.swapaxes is deprecated", DeprecationWarning, stacklevel=2)
        return recorded(tickers, **kwargs)

    monkeypatch.setattr(yfinance, "download", download)
    result = runner.invoke(app, ["prices", "fetch", "AAPL", "FAKE", "--start", "2020-01-01"])
    assert result.exit_code == 0, result.output
    assert "FutureWarning" not in result.output and "DeprecationWarning" not in result.output
    assert (
        result.output.count("delisted") == 1
    )  # our per-ticker line; yfinance's own log line is not repeated
    import logging

    logging.getLogger("yfinance").handlers.clear()
