"""`tft-trader check lookahead` on a committed database: per-layer counts, and the leaking layer named."""

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import select, update
from typer.testing import CliRunner

from backend.cli import app
from backend.market.models import StockPrice
from tests.factories import make_bars, write_csv
from tests.flows import in_db

runner = CliRunner()
ARGS = ["check", "lookahead", "--as-of", "2016-09-30", "--dates", "3"]


def test_check_passes_then_names_the_leaking_layer(fresh_db, tmp_path: Path):
    path = tmp_path / "bars.csv"
    write_csv(
        pd.concat([make_bars(t, n=700, seed=i, start=date(2014, 1, 2)) for i, t in enumerate("AB")]), path
    )
    assert runner.invoke(app, ["prices", "import", str(path)]).exit_code == 0

    clean = runner.invoke(app, ARGS)
    assert clean.exit_code == 0, clean.output
    assert "no lookahead" in clean.stdout
    indicators = next(line for line in clean.stdout.splitlines() if line.strip().startswith("indicators"))
    assert "72 values compared" in indicators and "ok" in indicators  # 3 dates x 2 tickers x 12 indicators
    assert "no stored predictions" in clean.stderr

    async def rsi_read_five_rows_ahead(session):
        rows = (
            await session.execute(
                select(StockPrice.trade_date, StockPrice.rsi_14)
                .where(StockPrice.ticker == "A")
                .order_by(StockPrice.trade_date)
            )
        ).all()
        for (day, _), (_, ahead) in zip(rows, rows[5:], strict=False):
            await session.execute(
                update(StockPrice)
                .where(StockPrice.ticker == "A", StockPrice.trade_date == day)
                .values(rsi_14=ahead)
            )

    in_db(rsi_read_five_rows_ahead)
    leaked = runner.invoke(app, ARGS)
    assert leaked.exit_code == 1
    assert "error: lookahead in indicators, features" in leaked.stderr
    assert "indicators: A " in leaked.stderr and "rsi_14: stored" in leaked.stderr
    assert "indicators: B " not in leaked.stderr
