"""Paper-ledger accounting against numbers worked out by hand and against an independent running tally."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from backend.core.calendar import trading_days
from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings
from backend.portfolio.ledger import Ledger
from backend.portfolio.metrics import performance_report
from backend.risk import manager
from backend.risk.schemas import Candidate, StopEvent

RISK = RiskSettings(starting_capital=100_000.0, commission_per_trade=1.0, slippage_bps=5.0)
D1, D2, D3, D4 = trading_days(date(2024, 7, 1), date(2024, 7, 8))[:4]  # Jul 1, 2, 3, 5 (Jul 4 closed)
NAN = float("nan")


def test_a_round_trip_by_hand() -> None:
    ledger = Ledger(RISK)
    ledger.open("AAPL", 100, 50.0, D1, stop_price=48.0, target_price=54.0, sector="Technology")
    # Buy fill 50 x (1 + 0.0005) = 50.025; cost 100 x 50.025 + 1 = 5,003.50; cash 100,000 - 5,003.50.
    holding = ledger.open_positions["AAPL"]
    assert holding.fill_price == pytest.approx(50.025)
    assert holding.cost_basis == pytest.approx(5003.50)
    assert ledger.cash == pytest.approx(94_996.50)

    snap = ledger.mark({"AAPL": 52.0}, D2)
    # 100 x 52 = 5,200 held; equity 94,996.50 + 5,200 = 100,196.50; unrealized 5,200 - 5,003.50 = 196.50.
    assert (snap.cash, snap.positions_value, snap.equity, snap.n_positions) == pytest.approx(
        (94_996.50, 5_200.0, 100_196.50, 1)
    )
    assert ledger.unrealized_pnl() == pytest.approx(196.50)
    assert ledger.unrealized_pnl({"AAPL": 53.0}) == pytest.approx(296.50)  # 5,300 - 5,003.50

    trade = ledger.close("AAPL", 55.0, D3, "target")
    # Sell fill 55 x (1 - 0.0005) = 54.9725; proceeds 100 x 54.9725 - 1 = 5,496.25;
    # pnl 5,496.25 - 5,003.50 = 492.75; return 492.75 / 5,003.50 = 0.098481...
    assert (trade.ticker, trade.exit_date, trade.exit_reason) == ("AAPL", D3, "target")
    assert (trade.pnl, trade.return_pct) == pytest.approx((492.75, 492.75 / 5003.50))
    assert ledger.closed_trades == [trade]
    assert ledger.cash == pytest.approx(100_492.75)  # 94,996.50 + 5,496.25
    assert ledger.realized_pnl == pytest.approx(492.75)
    assert ledger.open_positions == {}
    assert ledger.mark({}, D4).equity == pytest.approx(100_492.75)
    assert ledger.peak_equity == pytest.approx(100_492.75)
    record = ledger.trade_records[0]
    assert (record.entry_fill, record.exit_fill, record.proceeds) == pytest.approx((50.025, 54.9725, 5496.25))


def test_a_losing_trade_counts_both_commissions_and_slippages() -> None:
    ledger = Ledger(RISK, starting_cash=10_000.0)
    ledger.open("XOM", 10, 100.0, D1, 96.0, 108.0)
    trade = ledger.close("XOM", 96.0, D2, "stop_loss")
    # Cost 10 x 100.05 + 1 = 1,001.50; proceeds 10 x 95.952 - 1 = 958.52; pnl -42.98.
    assert trade.pnl == pytest.approx(-42.98)
    assert trade.return_pct == pytest.approx(-42.98 / 1001.50)
    assert ledger.cash == pytest.approx(10_000 - 42.98)


@pytest.mark.parametrize("shares", [0, -5, 2.5, True])
def test_open_refuses_non_positive_or_fractional_shares(shares) -> None:
    with pytest.raises(ValidationFailed, match="shares must be a positive whole number"):
        Ledger(RISK).open("AAPL", shares, 50.0, D1, 48.0, 54.0)


def test_open_refuses_to_overdraw_cash() -> None:
    ledger = Ledger(RISK, starting_cash=5_003.49)
    # 100 shares at 50 cost 5,003.50 with costs: one cent more than the cash.
    with pytest.raises(ValidationFailed, match=r"only 5,003\.49 cash is available"):
        ledger.open("AAPL", 100, 50.0, D1, 48.0, 54.0)
    assert ledger.cash == 5_003.49 and ledger.open_positions == {}
    ledger.open("AAPL", 99, 50.0, D1, 48.0, 54.0)  # 99 x 50.025 + 1 = 4,953.475
    assert ledger.cash == pytest.approx(5_003.49 - 4_953.475)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda lg: lg.open("AAPL", 10, NAN, D2, 48.0, 54.0), "entry price"),
        (lambda lg: lg.open("AAPL", 10, 50.0, D2, 54.0, 48.0), "stop below the target"),
        (lambda lg: lg.open("MSFT", 10, 50.0, D2, 48.0, 54.0), "already held"),
        (lambda lg: lg.close("MSFT", 0.0, D2, "target"), "exit price"),
        (lambda lg: lg.close("MSFT", NAN, D2, "target"), "exit price"),
        (lambda lg: lg.close("TSLA", 50.0, D2, "target"), "not held"),
        (lambda lg: lg.mark({}, D1), "before 2024-07-02"),
        (lambda lg: lg.to_state(D1), "cannot be rewound"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, message: str) -> None:
    ledger = Ledger(RISK)
    ledger.open("MSFT", 10, 50.0, D1, 48.0, 54.0)
    ledger.mark({"MSFT": 50.0}, D2)
    with pytest.raises(ValidationFailed, match=message):
        call(ledger)


def test_a_missing_price_keeps_the_last_value() -> None:
    ledger = Ledger(RISK)
    ledger.open("AAPL", 100, 50.0, D1, 48.0, 54.0)
    # Before any mark the holding is valued at its fill: 100 x 50.025.
    assert ledger.mark({"AAPL": NAN}, D1).positions_value == pytest.approx(5002.5)
    assert ledger.mark({"AAPL": 51.0}, D2).positions_value == pytest.approx(5100.0)
    halted = ledger.mark({"AAPL": NAN, "OTHER": 10.0}, D3)
    assert halted.positions_value == pytest.approx(5100.0)
    assert ledger.mark({}, D4).positions_value == pytest.approx(5100.0)
    assert ledger.mark({"AAPL": 0.0}, D4).positions_value == pytest.approx(5100.0)
    assert ledger.unrealized_pnl({"AAPL": NAN}) == pytest.approx(5100.0 - 5003.5)


def test_marking_a_date_again_replaces_its_snapshot_and_the_series_feed_the_metrics() -> None:
    ledger = Ledger(RISK)
    ledger.mark({}, D1)
    ledger.open("AAPL", 100, 50.0, D2, 48.0, 54.0)
    ledger.mark({"AAPL": 49.0}, D2, at_close=False)  # intraday
    ledger.mark({"AAPL": 51.0}, D2)
    ledger.mark({"AAPL": 50.5}, D3)
    curve = ledger.equity_curve()
    assert [d.date() for d in curve.index] == [D1, D2, D3]
    # 94,996.50 cash + 100 x 51 and + 100 x 50.5.
    assert curve.tolist() == pytest.approx([100_000.0, 100_096.50, 100_046.50])
    assert ledger.positions_count().tolist() == [0, 1, 1]
    assert ledger.open_positions["AAPL"].highest_close == 51.0  # the intraday 49 was not a close
    assert ledger.peak_equity == pytest.approx(100_096.50)
    report = performance_report(curve, ledger.closed_trades, ledger.positions_count())
    assert report.equity.exposure == pytest.approx(2 / 3)
    assert report.equity.end_equity == pytest.approx(100_046.50)


def test_books_balance_over_a_random_sequence() -> None:
    """cash + positions = equity = start + realized + unrealized, checked against a tally kept here."""
    rng = np.random.default_rng(7)
    settings = RiskSettings(starting_capital=50_000.0, commission_per_trade=2.5, slippage_bps=10.0)
    ledger = Ledger(settings)
    slip, fee = 0.001, 2.5
    tickers = [f"T{i}" for i in range(8)]
    price = {t: float(rng.uniform(5, 300)) for t in tickers}
    cash = 50_000.0
    held: dict[str, tuple[int, float]] = {}  # ticker -> (shares, cost basis)
    last: dict[str, float] = {}  # last valid mark, else the buy fill
    realized = 0.0
    refused = 0
    for day in trading_days(date(2023, 1, 3), date(2023, 12, 29)):
        for t in tickers:
            price[t] *= float(np.exp(rng.normal(0, 0.02)))
        for t in tickers:
            action = rng.random()
            if t in held and action < 0.15:
                shares, basis = held.pop(t)
                proceeds = shares * price[t] * (1 - slip) - fee
                trade = ledger.close(t, price[t], day, str(rng.choice(["target", "stop_loss", "time_decay"])))
                assert trade.pnl == pytest.approx(proceeds - basis)
                cash += proceeds
                realized += proceeds - basis
                last.pop(t)
            elif t not in held and action < 0.25:
                shares = int(rng.integers(1, 120))
                cost = shares * price[t] * (1 + slip) + fee
                if cost > cash:
                    with pytest.raises(ValidationFailed):
                        ledger.open(t, shares, price[t], day, price[t] * 0.95, price[t] * 1.1)
                    refused += 1
                    continue
                ledger.open(t, shares, price[t], day, price[t] * 0.95, price[t] * 1.1)
                held[t] = (shares, cost)
                last[t] = price[t] * (1 + slip)
                cash -= cost
        # About one price in ten is missing (a halt); those holdings keep their last value.
        quotes = {t: (NAN if rng.random() < 0.1 else price[t]) for t in tickers}
        snap = ledger.mark(quotes, day)
        for t in held:
            if not np.isnan(quotes[t]):
                last[t] = quotes[t]
        value = sum(held[t][0] * last[t] for t in held)
        unrealized = sum(held[t][0] * last[t] - held[t][1] for t in held)
        assert snap.cash >= 0
        assert snap.cash == pytest.approx(cash, abs=1e-6)
        assert snap.positions_value == pytest.approx(value, abs=1e-6)
        assert snap.cash + snap.positions_value == pytest.approx(snap.equity, abs=1e-9)
        assert snap.equity == pytest.approx(50_000.0 + realized + unrealized, abs=1e-6)
        assert ledger.realized_pnl + ledger.unrealized_pnl() == pytest.approx(realized + unrealized, abs=1e-6)
        assert snap.n_positions == len(held)
    assert len(ledger.closed_trades) > 50 and refused > 0
    assert ledger.equity_curve().min() > 0


def test_to_state_feeds_the_risk_manager() -> None:
    ledger = Ledger(RISK)
    ledger.open("MSFT", 40, 400.0, D1, 384.0, 432.0, sector="Technology")
    ledger.open("XOM", 100, 110.0, D1, 105.6, 118.8, sector="Energy")
    ledger.mark({"MSFT": 410.0, "XOM": 111.0}, D1)
    ledger.close("XOM", 105.6, D2, "stop_loss")
    ledger.mark({"MSFT": 405.0}, D2)
    state = ledger.to_state(D2)

    assert state.cash == pytest.approx(ledger.cash)
    assert state.equity == pytest.approx(ledger.cash + 40 * 405.0)
    assert state.peak_equity == pytest.approx(ledger.peak_equity)
    assert state.recent_stops == (StopEvent(ticker="XOM", date=D2),)
    (msft,) = state.positions
    assert (msft.ticker, msft.shares, msft.sector, msft.last_price) == ("MSFT", 40, "Technology", 405.0)
    assert msft.entry_date == D1 and msft.stop_price == 384.0

    candidate = Candidate(
        ticker="XOM",
        trade_date=D2,
        signal="BUY",
        confidence=0.9,
        entry_price=106.0,
        atr_pct=0.02,
        sector="Energy",
        avg_dollar_volume_20d=1e9,
        market_above_sma200=True,
    )
    decision = manager.evaluate(candidate, state, RISK)
    assert not decision.approved and "cooldown_after_stop" in decision.reasons  # stopped out today
    fresh = manager.evaluate(candidate.model_copy(update={"ticker": "CVX"}), state, RISK)
    assert fresh.approved and fresh.shares > 0
    # An explicit list replaces the derived stops; the kill switch is passed through.
    assert ledger.to_state(D3, kill_switch=True, recent_stops=()).recent_stops == ()
    assert ledger.to_state(D3, kill_switch=True).kill_switch


def test_trailing_stop_exits_count_as_stops_for_the_cooldown_and_the_pause() -> None:
    ledger = Ledger(RISK)
    for ticker in ("AAA", "BBB", "CCC", "DDD"):
        ledger.open(ticker, 10, 100.0, D1, 96.0, 108.0, sector="Energy")
    ledger.mark({"AAA": 101.0, "BBB": 101.0, "CCC": 101.0, "DDD": 101.0}, D1)
    ledger.close("AAA", 98.0, D2, "trailing_stop")
    ledger.close("BBB", 96.0, D2, "stop_loss")
    ledger.close("CCC", 108.0, D2, "target")
    ledger.close("DDD", 99.0, D2, "time_decay")
    ledger.mark({}, D2)
    state = ledger.to_state(D2)
    assert set(state.recent_stops) == {StopEvent(ticker="AAA", date=D2), StopEvent(ticker="BBB", date=D2)}

    candidate = Candidate(
        ticker="AAA",
        trade_date=D2,
        signal="BUY",
        confidence=0.9,
        entry_price=98.0,
        atr_pct=0.02,
        sector="Energy",
        avg_dollar_volume_20d=1e9,
        market_above_sma200=True,
    )
    assert "cooldown_after_stop" in manager.evaluate(candidate, state, RISK).reasons
    # Two stops plus a third trailing stop reach the pause (3 in 10 sessions).
    ledger.open("EEE", 10, 100.0, D2, 96.0, 108.0)
    ledger.close("EEE", 97.0, D3, "trailing_stop")
    ledger.mark({}, D3)
    later = candidate.model_copy(update={"ticker": "ZZZ", "trade_date": D3})
    assert "stop_pause" in manager.evaluate(later, ledger.to_state(D3), RISK).reasons
