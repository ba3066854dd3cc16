"""Performance metrics against values worked out by hand on tiny equity curves and trade lists."""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest

from backend.core.errors import ValidationFailed
from backend.portfolio.metrics import (
    ClosedTrade,
    cagr,
    drawdown_stats,
    equity_metrics,
    exposure,
    monthly_returns,
    performance_report,
    trade_metrics,
)

SESSIONS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)]


def curve(values: list[float], days: list[date] | None = None) -> pd.Series:
    if days is None:
        days = [d.date() for d in pd.bdate_range("2024-01-02", periods=len(values))]
    return pd.Series(values, index=days)


def test_equity_metrics_on_a_four_day_curve():
    # [100, 110, 99, 120]
    # returns r = 0.10, -0.10, 21/99 = 0.2121...   total return 120/100 - 1 = 0.20
    # mean = (0.1 - 0.1 + 0.21212) / 3 = 0.070707
    # sample std (ddof 1): deviations 0.029293, -0.170707, 0.141414 -> squares sum 0.049997 / 2 = 0.024998
    #   -> std 0.158109; Sharpe = 0.070707 / 0.158109 x sqrt(252) = 7.0992
    # downside deviation = sqrt((0 + 0.01 + 0) / 3) = 0.057735
    #   -> Sortino = 0.070707 / 0.057735 x 15.8745 = 19.441
    # max drawdown 1 - 99/110 = 0.10: peak Jan 3, trough Jan 4, recovered Jan 5 (120 >= 110) -> 2 sessions
    # CAGR over 3 sessions: 1.2 ** (252 / 3) - 1; Calmar = CAGR / 0.10
    m = equity_metrics(curve([100, 110, 99, 120], SESSIONS))
    assert m.total_return == pytest.approx(0.20)
    assert m.sharpe == pytest.approx(7.0992, abs=1e-3)
    assert m.sortino == pytest.approx(19.441, abs=1e-2)
    assert m.drawdown.max_drawdown == pytest.approx(0.10)
    assert (m.drawdown.peak_date, m.drawdown.trough_date, m.drawdown.recovery_date) == (
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
    )
    assert m.drawdown.duration_days == 2
    assert m.cagr == pytest.approx(1.2**84 - 1)
    assert m.calmar == pytest.approx((1.2**84 - 1) / 0.10)
    assert m.volatility == pytest.approx(0.158109 * math.sqrt(252), rel=1e-5)
    assert (m.start_date, m.end_date, m.sessions) == ("2024-01-02", "2024-01-05", 4)


def test_cagr_over_a_year_of_sessions():
    # 253 rows = 252 sessions elapsed = one year: CAGR equals the total return.
    values = [100.0] * 252 + [115.0]
    assert cagr(curve(values)) == pytest.approx(0.15)
    # 505 rows = two years: 1.21 ** (1/2) - 1 = 0.10
    assert cagr(curve([100.0] * 504 + [121.0])) == pytest.approx(0.10)


def test_drawdown_not_recovered_runs_to_the_end():
    # [100, 120, 90, 100, 110, 115]: peak 120 (row 1), trough 90 -> 25%; never back to 120, so the
    # duration runs to the last row: 5 - 1 = 4 sessions.
    dd = drawdown_stats(curve([100, 120, 90, 100, 110, 115]))
    assert dd.max_drawdown == pytest.approx(0.25)
    assert dd.recovery_date is None
    assert dd.duration_days == 4
    assert dd.longest_duration_days == 4


def test_deepest_and_longest_drawdowns_differ():
    # [100, 95, 96, 97, 98, 101, 80, 102]
    # first: peak 100 (row 0), 5% deep, recovered at row 5 -> 5 sessions
    # second: peak 101 (row 5), 1 - 80/101 = 20.79% deep, recovered at row 7 -> 2 sessions
    dd = drawdown_stats(curve([100, 95, 96, 97, 98, 101, 80, 102]))
    assert dd.max_drawdown == pytest.approx(1 - 80 / 101)
    assert dd.duration_days == 2
    assert dd.longest_duration_days == 5


def test_a_curve_that_never_falls():
    m = equity_metrics(curve([100, 100, 100]))
    assert m.drawdown.max_drawdown == 0.0
    assert m.drawdown.duration_days == 0 and m.drawdown.peak_date is None
    assert m.sharpe is None and m.sortino is None and m.calmar is None  # zero volatility: undefined
    assert m.total_return == 0.0 and m.cagr == pytest.approx(0.0)
    single = equity_metrics(curve([100]))
    assert single.cagr is None and single.sharpe is None and single.volatility is None


def test_sortino_is_undefined_without_down_days():
    m = equity_metrics(curve([100, 101, 103, 104]))
    assert m.sortino is None
    assert m.sharpe is not None and m.sharpe > 0


def test_exposure_is_the_share_of_days_with_a_position():
    assert exposure(pd.Series([0, 1, 2, 0])) == pytest.approx(0.5)
    assert exposure(pd.Series([0, 0, 0])) == 0.0
    assert exposure(pd.Series([], dtype=float)) is None
    m = equity_metrics(curve([100, 101, 102, 103]), positions_count=pd.Series([0, 3, 3, 1]))
    assert m.exposure == pytest.approx(0.75)
    with pytest.raises(ValidationFailed):
        exposure(pd.Series([1, -1]))


def test_monthly_returns_chain_month_ends():
    # Jan: 100 -> 110 = +10%; Feb: 110 (Jan's last) -> 120 = +9.0909%
    days = [date(2024, 1, 2), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 29)]
    result = monthly_returns(curve([100, 110, 99, 120], days))
    assert result.keys() == {"2024-01", "2024-02"}
    assert result["2024-01"] == pytest.approx(0.10)
    assert result["2024-02"] == pytest.approx(120 / 110 - 1)


TRADES = [
    ClosedTrade("AAPL", date(2024, 1, 10), "target", 100.0, 0.02),
    ClosedTrade("MSFT", date(2024, 1, 12), "stop", -50.0, -0.01),
    ClosedTrade("AAPL", date(2024, 2, 5), "target", 200.0, 0.04),
    ClosedTrade("NVDA", date(2024, 2, 9), "stop", -25.0, -0.005),
    ClosedTrade("MSFT", date(2024, 2, 20), "time", 0.0, 0.0),
]


def test_trade_metrics():
    # wins 100, 200; losses -50, -25; one flat trade.
    # win rate 2/5 = 0.4; avg win 150; avg loss -37.5; payoff 150 / 37.5 = 4
    # gross profit 300, gross loss 75 -> profit factor 4; expectancy 225 / 5 = 45
    # average return (0.02 - 0.01 + 0.04 - 0.005 + 0) / 5 = 0.009
    m = trade_metrics(TRADES)
    assert (m.trades, m.wins, m.losses) == (5, 2, 2)
    assert m.win_rate == pytest.approx(0.4)
    assert m.avg_win == pytest.approx(150.0)
    assert m.avg_loss == pytest.approx(-37.5)
    assert m.payoff_ratio == pytest.approx(4.0)
    assert (m.gross_profit, m.gross_loss, m.total_pnl) == (300.0, 75.0, 225.0)
    assert m.profit_factor == pytest.approx(4.0)
    assert m.expectancy == pytest.approx(45.0)
    assert m.avg_trade_return == pytest.approx(0.009)


def test_trade_breakdowns():
    m = trade_metrics(TRADES)
    assert list(m.by_exit_reason) == ["stop", "target", "time"]
    stop = m.by_exit_reason["stop"]
    assert (stop.trades, stop.wins, stop.losses, stop.total_pnl) == (2, 0, 2, -75.0)
    assert stop.win_rate == 0.0 and stop.profit_factor == 0.0
    assert stop.avg_return == pytest.approx(-0.0075)
    assert m.by_exit_reason["target"].profit_factor is None  # no losses
    assert {k: v.total_pnl for k, v in m.by_ticker.items()} == {"AAPL": 300.0, "MSFT": -50.0, "NVDA": -25.0}
    # Jan: +100 -50 = 50 over 2 trades; Feb: 200 - 25 + 0 = 175 over 3.
    assert {k: (v.trades, v.total_pnl) for k, v in m.by_month.items()} == {
        "2024-01": (2, 50.0),
        "2024-02": (3, 175.0),
    }
    assert m.by_month["2024-02"].profit_factor == pytest.approx(8.0)  # 200 / 25


def test_profit_factor_without_losses_is_none_not_infinity():
    m = trade_metrics([ClosedTrade("AAPL", date(2024, 1, 10), "target", 10.0, 0.01)] * 2)
    assert m.profit_factor is None
    assert m.avg_loss is None and m.payoff_ratio is None
    assert m.win_rate == 1.0


def test_no_trades():
    m = trade_metrics([])
    assert m.trades == 0
    assert m.win_rate is None and m.expectancy is None and m.profit_factor is None
    assert m.by_ticker == {}


def test_report_serializes_to_strict_json():
    report = performance_report(curve([100, 100, 100]), [TRADES[0]], positions_count=pd.Series([0, 1, 1]))
    text = json.dumps(report.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["equity"]["sharpe"] is None
    assert data["trades"]["profit_factor"] is None
    assert data["equity"]["exposure"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (pd.Series([], dtype=float), "empty"),
        (pd.Series([100.0, float("nan")], index=SESSIONS[:2]), "finite and positive"),
        (pd.Series([100.0, -1.0], index=SESSIONS[:2]), "finite and positive"),
        (pd.Series([100.0, 101.0], index=[SESSIONS[1], SESSIONS[0]]), "ascending"),
        (pd.Series([100.0, 101.0], index=[SESSIONS[0], SESSIONS[0]]), "duplicate"),
    ],
)
def test_bad_equity_curves_are_refused(series, message):
    with pytest.raises(ValidationFailed, match=message):
        equity_metrics(series)


def test_non_finite_trade_is_refused():
    with pytest.raises(ValidationFailed, match="finite"):
        ClosedTrade("AAPL", date(2024, 1, 10), "target", float("nan"), 0.01)
