"""The live paper portfolio's after-close chain on committed databases: sample prices, the synthetic Reddit
feed and a small trained ensemble, then `run_daily` / `monitor` session by session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from backend.cli import app
from backend.core.calendar import session_close, session_open, trading_days
from backend.core.errors import NotFound, ValidationFailed
from backend.core.settings import override_settings
from backend.market.models import StockPrice
from backend.ml.models import Prediction
from backend.pipeline import daily
from backend.pipeline import ml as ml_pipeline
from backend.portfolio.models import EquitySnapshotRow, Portfolio, PositionRow, TradeRow
from backend.signals.models import TradingSignal
from tests.flows import in_db, run

runner = CliRunner()
both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)
SMALL = {
    "xgb_n_estimators": 15, "lgbm_n_estimators": 15, "walk_forward_splits": 2, "validation_days": 40,
    "calibration_days": 60, "min_train_days": 150,
}  # fmt: skip
TICKERS = ["AAPL", "MSFT"]
D1, D2, D3, D4, D5 = trading_days(date(2012, 6, 29), date(2012, 7, 6))  # Jun 29, Jul 2, 3, 5, 6 (4th shut)
COUNTED = {
    "trading_signals": TradingSignal,
    "equity_snapshots": EquitySnapshotRow,
    "trades": TradeRow,
    "positions": PositionRow,
    "portfolios": Portfolio,
    "predictions": Prediction,
}


def counts() -> dict[str, int]:
    async def work(session: AsyncSession) -> dict[str, int]:
        return {
            name: (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for name, model in COUNTED.items()
        }

    return in_db(work)


def daily_run(as_of: date) -> daily.DailyOutcome:
    return run(lambda: daily.run_daily(as_of=as_of, tickers=TICKERS))


def live_row() -> Portfolio:
    async def work(session: AsyncSession) -> Portfolio:
        portfolio = await session.scalar(select(Portfolio).where(Portfolio.name == "live"))
        assert portfolio is not None
        return portfolio

    return in_db(work)


def snapshots(portfolio_id: int) -> list[EquitySnapshotRow]:
    async def work(session: AsyncSession) -> list[EquitySnapshotRow]:
        query = select(EquitySnapshotRow).where(EquitySnapshotRow.portfolio_id == portfolio_id)
        return list((await session.scalars(query.order_by(EquitySnapshotRow.trade_date))).all())

    return in_db(work)


@pytest.fixture
def live_db(fresh_db: str) -> Iterator[str]:
    """Sample prices, four months of the synthetic feed and a small model trained at the close of D1;
    yields the active model's version."""
    with override_settings(ml=SMALL):
        prices = runner.invoke(app, ["prices", "load-sample"])
        assert prices.exit_code == 0, prices.output
        feed = runner.invoke(app, ["reddit", "load-sample", "--start", "2012-03-01", "--end", "2012-07-31"])
        assert feed.exit_code == 0, feed.output

        async def train(session: AsyncSession) -> str:
            outcome = await ml_pipeline.train(
                session=session, as_of=D1, tickers=TICKERS, member_names=["xgboost", "lightgbm"]
            )
            assert outcome.promotion.promoted
            return outcome.model.version

        yield in_db(train)


@both
def test_daily_runs_store_one_snapshot_per_session_and_reruns_change_nothing(live_db: str) -> None:
    version = live_db
    with pytest.raises(NotFound, match="no live portfolio yet"):
        run(lambda: daily.monitor(through=D1))  # the monitor never creates the portfolio
    assert counts()["portfolios"] == 0

    for day in (D1, D2, D3):
        outcome = daily_run(day)
        assert (outcome.model_version, outcome.predictions, outcome.skipped) == (version, 2, {})
        assert [s.trade_date for s in outcome.sessions] == [day]  # exactly the new session
        assert outcome.signals is not None and not outcome.signals.already_generated
        assert outcome.signals.trade_date == day
        # The day's candidates: both tickers ranked by EV, each a signal or saying why not.
        assert sorted(c.ticker for c in outcome.candidates) == TICKERS
        assert [c.rank for c in outcome.candidates] == [1, 2]
        assert all(c.is_signal or c.reasons for c in outcome.candidates)
        assert all(c.trade_date == day and c.model_version == version for c in outcome.candidates)

    async def stored_predictions(session: AsyncSession) -> list[tuple[str, date, str]]:
        rows = await session.execute(
            select(Prediction.ticker, Prediction.trade_date, Prediction.model_version)
        )
        return sorted((r.ticker, r.trade_date, r.model_version) for r in rows)

    assert in_db(stored_predictions) == [(t, d, version) for t in TICKERS for d in (D1, D2, D3)]
    live = live_row()
    assert (live.kind, live.last_session, live.last_signal_date) == ("live", D3, D3)
    snaps = snapshots(live.id)
    assert [s.trade_date for s in snaps] == [D1, D2, D3]
    assert snaps[0].equity == 100_000.0  # nothing can be held at the first close: entries fill next open
    for s in snaps:
        assert s.equity == pytest.approx(s.cash + s.positions_value)
    before = counts()
    assert before["portfolios"] == 1 and before["equity_snapshots"] == 3

    rerun = daily_run(D3)
    assert rerun.signals is not None and rerun.signals.already_generated
    assert rerun.sessions == []
    assert counts() == before
    assert run(lambda: daily.monitor(through=D3)) == []  # nothing new to process
    assert counts() == before

    caught_up = run(lambda: daily.monitor(through=D5))
    assert [r.trade_date for r in caught_up] == [D4, D5]
    after_monitor = counts()
    assert after_monitor["equity_snapshots"] == 5
    assert (live_row().last_session, live_row().last_signal_date) == (D5, D3)

    # D4's close is behind the book now (the monitor processed D5): no signals for it after the fact.
    with pytest.raises(ValidationFailed, match="already processed 2012-07-06, after 2012-07-05"):
        daily_run(D4)
    assert counts() == after_monitor  # the failed run wrote nothing to the book

    # D5 was processed by the monitor but its signals are still due: generated without a second snapshot.
    late = daily_run(D5)
    assert late.sessions == []
    assert late.signals is not None and not late.signals.already_generated
    assert counts()["equity_snapshots"] == 5
    assert live_row().last_signal_date == D5
    assert [s.trade_date for s in snapshots(live.id)] == [D1, D2, D3, D4, D5]

    # An earlier date than the latest signals is refused before anything is predicted or stored.
    settled = counts()
    with pytest.raises(ValidationFailed, match="generated signals up to 2012-07-06, after 2012-07-03"):
        daily_run(D3)
    assert counts() == settled


@both
def test_pending_signal_fills_at_the_next_open_and_a_missing_bar_keeps_the_position(live_db: str) -> None:
    daily_run(D1)
    live = live_row()
    assert counts()["trading_signals"] == 0  # the model made no BUY call at D1: the entry below is ours

    async def add_pending(session: AsyncSession) -> None:
        session.add(
            TradingSignal(
                portfolio_id=live.id, ticker="AAPL", trade_date=D1, signal="BUY", confidence=0.9,
                status="pending", entry_price=584.0, stop_pct=0.04, target_pct=0.08, stop_price=560.64,
                target_price=630.72, risk_reward=2.0, position_size_pct=0.06, shares=10,
                explanation={}, reasons=[], messages=[],
                generated_at=session_close(D1), expires_at=session_open(D2),
            )
        )  # fmt: skip

    in_db(add_pending)

    async def bar(session: AsyncSession, day: date) -> tuple[float, float, float, float]:
        row = (
            await session.execute(
                select(StockPrice.open, StockPrice.high, StockPrice.low, StockPrice.close).where(
                    StockPrice.ticker == "AAPL", StockPrice.trade_date == day
                )
            )
        ).one()
        return row.open, row.high, row.low, row.close

    open_, high, low, close = in_db(lambda s: bar(s, D2))
    assert (open_, high, low, close) == (584.73, 593.47, 583.60, 592.52)  # the bundled AAPL bar of D2
    # Stop 584.73 x 0.96 = 561.3408 is below the low and target 584.73 x 1.08 = 631.5084 above the high:
    # the fresh position survives its first session.

    filled = daily_run(D2)
    assert [r.ticker for r in filled.sessions[0].filled] == ["AAPL"]
    assert filled.sessions[0].closed == []

    async def book_rows(session: AsyncSession) -> tuple[Portfolio, list[PositionRow], TradingSignal]:
        session.expire_all()
        portfolio = await session.get(Portfolio, live.id)
        positions = (await session.scalars(select(PositionRow))).all()
        record = await session.scalar(select(TradingSignal).where(TradingSignal.trade_date == D1))
        assert portfolio is not None and record is not None
        return portfolio, list(positions), record

    portfolio, positions, record = in_db(book_rows)
    assert [p.ticker for p in positions] == ["AAPL"]
    held = positions[0]
    # Fill 584.73 x 1.0005 = 585.022365; cost 10 x 585.022365 + 1 = 5,851.22365; cash 94,148.77635.
    assert (held.shares, held.entry_date, held.signal_date) == (10, D2, D1)
    assert held.entry_price == pytest.approx(584.73)
    assert held.fill_price == pytest.approx(585.022365)
    assert held.cost_basis == pytest.approx(5_851.22365)
    assert (held.stop_price, held.target_price) == pytest.approx((561.3408, 631.5084))
    assert held.last_price == pytest.approx(592.52)
    assert portfolio.cash == pytest.approx(94_148.77635)
    assert (record.status, record.shares) == ("active", 10)
    assert record.fill_price == pytest.approx(585.022365)
    d2 = snapshots(live.id)[-1]
    # 10 x 592.52 = 5,925.20 held; equity 94,148.77635 + 5,925.20 = 100,073.97635.
    assert (d2.trade_date, d2.n_positions) == (D2, 1)
    assert (d2.positions_value, d2.equity) == pytest.approx((5_925.20, 100_073.97635))

    async def drop_bar(session: AsyncSession) -> None:
        await session.execute(
            delete(StockPrice).where(StockPrice.ticker == "AAPL", StockPrice.trade_date == D3)
        )

    in_db(drop_bar)  # AAPL halted on D3: no bar at all
    halted = daily_run(D3)
    assert halted.skipped == {"AAPL": "no price bar on 2012-07-03"}
    assert halted.predictions == 1  # MSFT only
    assert [s.trade_date for s in halted.sessions] == [D3]
    assert halted.sessions[0].closed == [] and halted.sessions[0].filled == []

    portfolio, positions, record = in_db(book_rows)
    assert [p.ticker for p in positions] == ["AAPL"]
    assert positions[0].last_price == pytest.approx(592.52)  # still marked at D2's close
    assert portfolio.cash == pytest.approx(94_148.77635)
    assert (portfolio.last_session, record.status) == (D3, "active")
    assert counts()["trades"] == 0
    d3 = snapshots(live.id)[-1]
    # Carried at the last mark: 10 x 592.52 = 5,925.20; equity 94,148.77635 + 5,925.20 = 100,073.97635.
    assert (d3.trade_date, d3.n_positions) == (D3, 1)
    assert (d3.cash, d3.positions_value, d3.equity) == pytest.approx((94_148.77635, 5_925.20, 100_073.97635))

    # In market hours of the next session the monitor checks the latest quote: through the stop, it sells
    # there. 11:00 New York on D4 = 15:00 UTC; through=D3 keeps the stored D4 bar out of this pass.
    def quotes(symbols: list[str]) -> dict[str, float]:
        assert symbols == ["AAPL"]
        return {"AAPL": 555.0}

    market_hours = datetime(2012, 7, 5, 15, 0, tzinfo=UTC)
    closed_on_quote = run(lambda: daily.monitor(through=D3, quotes=quotes, now=market_hours))
    assert [(r.trade_date, r.intraday) for r in closed_on_quote] == [(D4, True)]
    sold = closed_on_quote[0].closed[0]
    # 555 is below the 561.3408 stop: sold at 555 x (1 - 0.0005) = 554.7225, less $1: proceeds 5,546.225;
    # pnl 5,546.225 - 5,851.22365 = -304.99865.
    assert (sold.ticker, sold.trade.exit_reason, sold.exit_price) == ("AAPL", "stop_loss", 555.0)
    assert sold.trade.pnl == pytest.approx(-304.99865)
    portfolio, positions, record = in_db(book_rows)
    assert positions == [] and portfolio.last_session == D3  # the D4 bar is still to be processed
    assert (record.status, record.exit_reason, record.closed_at) == ("closed", "stop_loss", market_hours)
    assert portfolio.cash == pytest.approx(94_148.77635 + 5_546.225)
    # Outside market hours no quote is asked for.
    assert (
        run(lambda: daily.monitor(through=D3, quotes=quotes, now=datetime(2012, 7, 5, 22, 0, tzinfo=UTC)))
        == []
    )
