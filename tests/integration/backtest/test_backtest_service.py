"""Backtests on committed databases: bad requests fail before any work, and one real replay over the
bundled sample history through `tft-trader backtest --json`, checked against the stored rows."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from backend.backtest import service as backtest_service
from backend.backtest.models import BacktestRun
from backend.backtest.service import BacktestRequest
from backend.cli import app
from backend.core.errors import ValidationFailed
from backend.core.settings import override_settings
from backend.market.models import StockPrice
from backend.portfolio.models import EquitySnapshotRow, Portfolio, PositionRow, TradeRow
from backend.signals.models import DailyCandidate, TradingSignal
from tests.flows import in_db, run

runner = CliRunner()
STRATEGY_KEYS = {
    "total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate", "n_trades",
    "avg_trade_return", "profit_factor", "exposure",
}  # fmt: skip
# Feature warm-up (SMA 200 + a 30-session sequence) + the 7-session label window + 252 training sessions
# + a 10-session embargo + one 63-session out-of-sample fold = 230 + 7 + 252 + 10 + 63 = 562 bars
# before START.
NEEDED = 562
# Smaller trees than the product's (100 / 200): the replay's shape does not depend on them, its time does.
SMALL_TREES = {"xgb_n_estimators": 30, "lgbm_n_estimators": 30}


def rows(model: type) -> int:
    async def work(session: AsyncSession) -> int:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()

    return in_db(work)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sample_db(request: pytest.FixtureRequest, make_database: Callable[[str], str]) -> str:
    """One database per backend with the bundled history, shared by the validation tests (they write
    nothing, which each of them checks)."""
    url = make_database(request.param)
    with override_settings(database_url=url):
        loaded = runner.invoke(app, ["prices", "load-sample"])
    assert loaded.exit_code == 0, loaded.output
    return url


@pytest.fixture
def sample(sample_db: str) -> Iterator[str]:
    with override_settings(database_url=sample_db):
        yield sample_db


def refused(request: BacktestRequest) -> str:
    """The ValidationFailed message of a request, after checking it left no run and no portfolio."""
    with pytest.raises(ValidationFailed) as caught:
        run(lambda: backtest_service.run_backtest(request))
    assert rows(BacktestRun) == 0
    assert rows(Portfolio) == 0
    return str(caught.value)


def test_end_before_start_is_refused(sample: str) -> None:
    message = refused(BacktestRequest(start=date(2010, 3, 31), end=date(2010, 1, 4), tickers=["AAPL"]))
    assert message == "--end 2010-01-04 is before --start 2010-03-31"


def test_a_retrain_interval_below_one_is_refused(sample: str) -> None:
    request = BacktestRequest(start=date(2010, 1, 4), end=date(2010, 3, 31), retrain_every=0)
    assert refused(request) == "--retrain-every must be at least 1 session, got 0"


def test_dates_outside_the_stored_history_are_refused(sample: str) -> None:
    # The sample spans 2000-03-01 (AAPL, IBM, MSFT) .. 2013-03-01.
    late = refused(BacktestRequest(start=date(2013, 1, 2), end=date(2013, 6, 28)))
    assert late == (
        "2013-01-02..2013-06-28 is outside the stored history (2000-03-01..2013-03-01); pick dates inside it"
    )
    early = refused(BacktestRequest(start=date(1999, 6, 1), end=date(2010, 3, 31), tickers=["MSFT"]))
    assert "1999-06-01..2010-03-31 is outside the stored history (2000-03-01..2013-03-01)" in early
    # With named tickers the span is theirs: FB starts on 2012-05-18.
    fb = refused(BacktestRequest(start=date(2012, 1, 3), end=date(2012, 12, 31), tickers=["FB"]))
    assert "outside the stored history (2012-05-18..2013-03-01)" in fb


def test_unknown_tickers_are_named(sample: str) -> None:
    message = refused(
        BacktestRequest(start=date(2010, 1, 4), end=date(2010, 3, 31), tickers=["AAPL", "ZZZZ"])
    )
    assert message == "unknown tickers (no stored prices): ZZZZ"


def test_too_little_history_before_start_names_the_ticker_and_the_need(sample: str) -> None:
    async def bars_before(session: AsyncSession) -> int:
        query = select(func.count()).where(
            StockPrice.ticker == "AAPL", StockPrice.trade_date < date(2001, 1, 2)
        )
        return (await session.execute(query)).scalar_one()

    have = in_db(bars_before)
    assert have == 212  # 2000-03-01 .. 2000-12-29
    message = refused(BacktestRequest(start=date(2001, 1, 2), end=date(2001, 3, 30), tickers=["AAPL"]))
    assert message.startswith(
        f"not enough history to train before 2001-01-02: AAPL has {have} daily bars; "
        f"a replay needs {NEEDED} per ticker"
    )
    assert backtest_service.required_history() == NEEDED
    # Without named tickers every short one is left out, and when none is left the most is reported.
    anyone = refused(BacktestRequest(start=date(2001, 1, 2), end=date(2001, 3, 30)))
    assert anyone == (
        f"not enough history to train before 2001-01-02: no ticker has {NEEDED} daily bars before it "
        f"(most: {have}); start later"
    )


def test_cli_reports_a_bad_request_and_exits_1(sample: str) -> None:
    result = runner.invoke(app, ["backtest", "--start", "2010-03-31", "--end", "2010-01-04"])
    assert result.exit_code == 1
    assert "error: --end 2010-01-04 is before --start 2010-03-31" in result.stderr
    unknown = runner.invoke(
        app, ["backtest", "--start", "2010-01-04", "--end", "2010-03-31", "--tickers", "QQQQ"]
    )
    assert unknown.exit_code == 1
    assert "unknown tickers (no stored prices): QQQQ" in unknown.stderr
    assert rows(BacktestRun) == 0


@pytest.mark.slow
@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_replay_through_the_cli_writes_the_json_and_stores_the_run(fresh_db: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    out = tmp_path / "run.json"
    args = ["backtest", "--start", "2010-01-04", "--end", "2010-03-31", "--tickers", "AAPL,MSFT,IBM"]
    with override_settings(ml=SMALL_TREES):
        result = runner.invoke(app, [*args, "--retrain-every", "20", "--json", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())

    sessions = 61  # Q1 2010: 19 in January (1st, 18th shut), 19 in February (15th shut), 23 in March
    assert (results["start"], results["end"], results["sessions"]) == ("2010-01-04", "2010-03-31", sessions)
    assert results["tickers"] == ["AAPL", "IBM", "MSFT"] and results["excluded_tickers"] == {}
    assert (results["retrain_every"], results["members"]) == (20, ["xgboost", "lightgbm"])

    strategy = results["strategy"]
    assert set(strategy) >= STRATEGY_KEYS
    assert set(results["benchmark"]) >= {"total_return", "sharpe", "max_drawdown"}
    assert set(results["baselines"]) == {"rsi_mean_reversion", "macd_momentum"}
    for name, baseline in results["baselines"].items():
        assert set(baseline) >= STRATEGY_KEYS, name
        assert 0.0 <= baseline["max_drawdown"] <= 1.0 and 0.0 <= baseline["exposure"] <= 1.0
    macd = results["baselines"]["macd_momentum"]
    assert macd["n_trades"] > 0 and 0.0 <= macd["win_rate"] <= 1.0  # the rule trades on this quarter
    model = results["model"]
    assert model["n_predictions"] == sessions * 3  # every ticker has a usable feature row every session
    assert 0.0 <= model["oos_accuracy"] <= 1.0
    assert model["retrains"] == 4  # sessions 0, 20, 40, 60 of 61
    quality = results["model_quality"]
    assert {"rank_ic", "rank_ic_t", "trusted", "top_bucket_hit_rate", "top_bucket_net_return"} <= set(quality)
    assert {"base_rate", "ece", "log_loss", "prior_log_loss", "rsi_rule", "macd_rule"} <= set(quality)
    assert quality["retrains"] == 4 and 0 <= quality["trusted_at_retrains"] <= 4
    caveats = " ".join(results["caveats"])
    assert "survivorship" in caveats and "dividends" in caveats and "bad data" in caveats

    curve = results["equity_curve"]
    assert len(curve) == sessions + 1
    assert curve[0] == ["2009-12-31", 100_000.0]  # the starting capital at the close before START
    assert curve[1][0] == "2010-01-04" and curve[-1][0] == "2010-03-31"
    assert [d for d, _ in curve] == sorted({d for d, _ in curve})  # one point per session, in order
    # The strategy's return is its own curve's: last point over the starting capital (curve rounded to cents).
    assert strategy["total_return"] == pytest.approx(curve[-1][1] / 100_000.0 - 1, abs=1e-7)
    assert 0.0 <= strategy["max_drawdown"] <= 1.0 and 0.0 <= strategy["exposure"] <= 1.0

    async def stored(session: AsyncSession) -> dict[str, Any]:
        run_row = (await session.scalars(select(BacktestRun))).one()
        portfolios = (await session.scalars(select(Portfolio))).all()
        snaps = (
            await session.scalars(
                select(EquitySnapshotRow)
                .where(EquitySnapshotRow.portfolio_id == run_row.portfolio_id)
                .order_by(EquitySnapshotRow.trade_date)
            )
        ).all()

        async def count(model: type) -> int:
            query = select(func.count()).select_from(model).where(model.portfolio_id == run_row.portfolio_id)
            return (await session.execute(query)).scalar_one()

        bars = (
            await session.execute(
                select(StockPrice.ticker, StockPrice.trade_date, StockPrice.open, StockPrice.close).where(
                    StockPrice.ticker.in_(["AAPL", "MSFT", "IBM"]),
                    StockPrice.trade_date.in_([date(2010, 1, 4), date(2010, 3, 31)]),
                )
            )
        ).all()
        return {
            "run": run_row,
            "portfolios": list(portfolios),
            "snapshots": list(snaps),
            "trades": await count(TradeRow),
            "positions": await count(PositionRow),
            "signals": await count(TradingSignal),
            "candidates": await count(DailyCandidate),
            "bars": {(b.ticker, b.trade_date): (b.open, b.close) for b in bars},
        }

    db = in_db(stored)
    run_row: BacktestRun = db["run"]
    assert (run_row.status, run_row.error, results["run_id"]) == ("finished", None, run_row.id)
    assert run_row.finished_at is not None and run_row.results == results
    assert (run_row.start_date, run_row.end_date) == (date(2010, 1, 4), date(2010, 3, 31))
    assert run_row.retrain_every == 20
    assert run_row.tickers == ["AAPL", "IBM", "MSFT"]
    # Only the run's own book: the live portfolio was neither read into nor created.
    assert [(p.id, p.name, p.kind) for p in db["portfolios"]] == [
        (run_row.portfolio_id, f"backtest-{run_row.id}", "backtest")
    ]
    snaps = db["snapshots"]
    assert len(snaps) == sessions
    assert [[s.trade_date.isoformat(), round(s.equity, 2)] for s in snaps] == curve[1:]
    assert db["trades"] == strategy["n_trades"]
    assert db["positions"] == strategy["open_positions_at_end"]
    assert db["signals"] == model["signals_approved"] + model["signals_rejected"]
    assert db["candidates"] == sessions * 3  # every session ranks its three tickers (fewer than the top 20)

    # Buy-and-hold by hand: a third of 100,000 per ticker, bought at the 2010-01-04 open plus 5 bps,
    # 1.00 commission each, whole shares; marked at the 2010-03-31 close.
    bars = db["bars"]
    assert len(bars) == 6
    cash, value = 100_000.0, 0.0
    for ticker in ("AAPL", "IBM", "MSFT"):
        fill = bars[(ticker, date(2010, 1, 4))][0] * 1.0005
        shares = math.floor((100_000.0 / 3 - 1.0) / fill)
        cash -= shares * fill + 1.0
        value += shares * bars[(ticker, date(2010, 3, 31))][1]
    expected = (cash + value) / 100_000.0 - 1
    assert results["benchmark"]["total_return"] == pytest.approx(expected, abs=1e-6)
