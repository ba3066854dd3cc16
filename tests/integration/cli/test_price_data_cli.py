"""`prices check | exclude | include | split | load-history` end to end on committed databases."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from backend.cli import app
from backend.market import bundled
from tests.factories import make_bars, write_csv

runner = CliRunner()
both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)


def quirky_csv(tmp_path) -> tuple[str, list]:
    """An as-traded CSV: a bad print on row 100 of SPK, a 2:1 split on row 200 of SPL."""
    spike, split = make_bars("SPK", n=260, seed=3), make_bars("SPL", n=260, seed=4)
    spike.loc[100, ["open", "low", "close"]] = spike.loc[100, ["open", "low", "close"]] / 3
    after = split.index >= 200
    split.loc[after, ["open", "high", "low", "close"]] = (
        split.loc[after, ["open", "high", "low", "close"]] / 2
    )
    path = tmp_path / "quirky.csv"
    write_csv(pd.concat([spike, split]).drop(columns=["adj_close"]), path)
    return str(path), [spike["trade_date"].iloc[100], split["trade_date"].iloc[200]]


@both
def test_import_flags_then_check_exclude_include_and_split(fresh_db, tmp_path):
    path, (spike_day, split_day) = quirky_csv(tmp_path)
    imported = runner.invoke(app, ["prices", "import", path])
    assert imported.exit_code == 0, imported.output
    assert "data quality: 1 spike, 1 unadjusted_split" in imported.stdout

    checked = runner.invoke(app, ["prices", "check", "--rerun"], env={"COLUMNS": "80"})
    assert checked.exit_code == 0, checked.output
    assert "2 flag(s): 1 spike, 1 unadjusted_split; 0 excluded" in checked.stdout
    assert max(len(line) for line in checked.stdout.splitlines()) <= 80

    flags = [
        json.loads(line) for line in runner.invoke(app, ["prices", "check", "--json"]).stdout.splitlines()
    ]
    assert [(f["ticker"], f["trade_date"], f["kind"]) for f in flags] == [
        ("SPK", spike_day.isoformat(), "spike"),
        ("SPL", split_day.isoformat(), "unadjusted_split"),
    ]

    excluded = runner.invoke(app, ["prices", "exclude", "spk", spike_day.isoformat()])
    assert excluded.exit_code == 0 and "SPK: 1 of 1 bar(s) excluded" in excluded.stdout
    only_spk = runner.invoke(app, ["prices", "check", "--tickers", "SPK", "--json"]).stdout.splitlines()
    assert [json.loads(line)["excluded"] for line in only_spk] == [True]
    included = runner.invoke(app, ["prices", "include", "SPK", spike_day.isoformat()])
    assert "1 of 1 bar(s) included again" in included.stdout

    wrong = runner.invoke(app, ["prices", "split", "SPL", split_day.isoformat(), "3:1"])
    assert wrong.exit_code == 1 and "show no 3:1 split" in wrong.output
    assert "Traceback" not in wrong.output
    bad_ratio = runner.invoke(app, ["prices", "split", "SPL", split_day.isoformat(), "two"])
    assert bad_ratio.exit_code == 2 and "RATIO 'two'" in bad_ratio.output
    declared = runner.invoke(app, ["prices", "split", "SPL", split_day.isoformat(), "2:1"])
    assert declared.exit_code == 0, declared.output
    assert f"SPL: 2:1 split on {split_day} recorded" in declared.stdout
    left = [
        json.loads(line) for line in runner.invoke(app, ["prices", "check", "--json"]).stdout.splitlines()
    ]
    assert [f["kind"] for f in left] == ["spike"]

    missing = runner.invoke(app, ["prices", "exclude", "SPK", "2031-01-02"])
    assert missing.exit_code == 1 and "no stored SPK bar on 2031-01-02" in missing.output


@both
def test_load_history_stores_sectors_prices_indicators_and_flags(fresh_db, tmp_path, monkeypatch):
    # The real file, cut to three tickers with known quirks (the full load is measured in the README).
    full = pd.read_csv(bundled.PRICES)
    few = full[full["ticker"].isin(["DISCA", "LNT", "CHD"])]
    small = tmp_path / "few.csv.gz"
    few.to_csv(small, index=False)
    monkeypatch.setattr(bundled, "PRICES", small)
    result = runner.invoke(app, ["prices", "load-history"])
    assert result.exit_code == 0, result.output
    assert f"3 tickers, {len(few)} bars inserted" in result.stdout
    assert "survivorship bias" in result.stderr
    flags = [
        json.loads(line) for line in runner.invoke(app, ["prices", "check", "--json"]).stdout.splitlines()
    ]
    found = {(f["ticker"], f["trade_date"], f["kind"]) for f in flags}
    assert {
        ("DISCA", "2014-08-07", "unadjusted_split"),
        ("LNT", "2016-05-19", "spike"),
        ("CHD", "2014-05-19", "ohlc_range"),
    } <= found
    again = runner.invoke(app, ["prices", "load-history"])
    assert f"0 bars inserted, 0 updated, {len(few)} unchanged" in again.stdout
