"""Position sizes against numbers worked out by hand (not with the code under test)."""

from __future__ import annotations

import pytest

from backend.risk import sizing
from backend.risk.sizing import entry_cost, size_position, whole_shares

# Each case: settings changes, state (equity, cash), candidate (entry, ATR%) and the hand-computed result.
# Default settings: risk 2% of equity, position <= 20% of equity, commission 1, slippage 5 bps (x 1.0005).
# Levels: stop = clip(2 x ATR%, 1%, 5%), target = clip(2 x stop, 5%, 10%).
CASES = [
    pytest.param(
        {},
        (100_000.0, 100_000.0),
        (50.0, 0.02),
        # stop 4%, target 8%. risk 2,000 / (50 x 0.04 = 2.00) = 1,000 shares = 50,000;
        # the 20% cap is 20,000 / 50 = 400 shares. Cash: (100,000 - 1) / 50.025 = 1,998.98 -> 1,998.
        {
            "shares": 400,
            "value": 20_000.0,
            "stop": 0.04,
            "target": 0.08,
            "stop_price": 48.0,
            "target_price": 54.0,
            "risk_amount": 800.0,
            "limited_by": "max_position",
        },
        id="brief-example-position-cap",
    ),
    pytest.param(
        {"risk_per_trade_pct": 0.005},
        (100_000.0, 100_000.0),
        (40.0, 0.02),
        # risk 500 / (40 x 0.04 = 1.60) = 312.5 -> 312 shares = 12,480 (cap 500 shares). Risk 312 x 1.6.
        {
            "shares": 312,
            "value": 12_480.0,
            "stop": 0.04,
            "target": 0.08,
            "stop_price": 38.4,
            "target_price": 43.2,
            "risk_amount": 499.2,
            "limited_by": "risk",
        },
        id="risk-limited",
    ),
    pytest.param(
        {},
        (100_000.0, 5_000.0),
        (50.0, 0.02),
        # (5,000 - 1) / 50.025 = 99.93 -> 99 shares = 4,950 (100 shares would cost 5,003.50).
        {
            "shares": 99,
            "value": 4_950.0,
            "stop": 0.04,
            "target": 0.08,
            "stop_price": 48.0,
            "target_price": 54.0,
            "risk_amount": 198.0,
            "limited_by": "cash",
        },
        id="cash-limited",
    ),
    pytest.param(
        {},
        (100_000.0, 100_000.0),
        (30.0, 0.0125),
        # stop 2.5%, target 5%. risk 2,000 / 0.75 = 2,666.7; cap 20,000 / 30 = 666.7 -> 666 = 19,980.
        {
            "shares": 666,
            "value": 19_980.0,
            "stop": 0.025,
            "target": 0.05,
            "stop_price": 29.25,
            "target_price": 31.5,
            "risk_amount": 499.5,
            "limited_by": "max_position",
        },
        id="mid-volatility",
    ),
    pytest.param(
        {},
        (100_000.0, 100_000.0),
        (200.0, 0.004),
        # quiet stock: 2 x 0.4% = 0.8% -> floor 1% stop; target 2% -> raised to the 5% minimum (5:1).
        # risk 2,000 / 2.00 = 1,000 shares; cap 20,000 / 200 = 100 shares; risk 100 x 2 = 200.
        {
            "shares": 100,
            "value": 20_000.0,
            "stop": 0.01,
            "target": 0.05,
            "stop_price": 198.0,
            "target_price": 210.0,
            "risk_amount": 200.0,
            "limited_by": "max_position",
        },
        id="quiet-stock-min-stop",
    ),
    pytest.param(
        {"risk_per_trade_pct": 0.01, "max_position_pct": 0.5},
        (50_000.0, 50_000.0),
        (20.0, 0.04),
        # volatile: 2 x 4% = 8% -> 5% stop, 10% target. risk 500 / (20 x 0.05 = 1.00) = 500 shares = 10,000;
        # cap 25,000 / 20 = 1,250; cash 49,999 / 20.01 = 2,498.7.
        {
            "shares": 500,
            "value": 10_000.0,
            "stop": 0.05,
            "target": 0.10,
            "stop_price": 19.0,
            "target_price": 22.0,
            "risk_amount": 500.0,
            "limited_by": "risk",
        },
        id="volatile-max-stop",
    ),
    pytest.param(
        {"max_position_pct": 1.0},
        (70_000.0, 70_000.0),
        (35.0, 0.02),
        # risk 1,400 / (35 x 0.04 = 1.40) = exactly 1,000, which floats compute as 999.9999999999999.
        {
            "shares": 1_000,
            "value": 35_000.0,
            "stop": 0.04,
            "target": 0.08,
            "stop_price": 33.6,
            "target_price": 37.8,
            "risk_amount": 1_400.0,
            "limited_by": "risk",
        },
        id="float-rounding-below-an-integer",
    ),
]


@pytest.mark.parametrize(("changes", "money", "trade", "expected"), CASES)
def test_size_position_matches_hand_computed_numbers(
    make_candidate, make_state, risk, changes, money, trade, expected
):
    settings = risk.model_copy(update=changes)
    equity, cash = money
    entry, atr = trade
    result = size_position(
        make_candidate(entry_price=entry, atr_pct=atr), make_state(equity=equity, cash=cash), settings
    )
    assert result.problems == ()
    assert result.shares == expected["shares"]
    assert result.position_value == pytest.approx(expected["value"])
    assert result.position_pct == pytest.approx(expected["value"] / equity)
    assert result.stop_pct == pytest.approx(expected["stop"])
    assert result.target_pct == pytest.approx(expected["target"])
    assert result.stop_price == pytest.approx(expected["stop_price"])
    assert result.target_price == pytest.approx(expected["target_price"])
    assert result.risk_amount == pytest.approx(expected["risk_amount"])
    assert result.reward_risk == pytest.approx(expected["target"] / expected["stop"])
    assert result.limited_by == expected["limited_by"]
    # Never more than 2% of equity at risk, never more than the position cap.
    assert result.risk_amount <= equity * settings.risk_per_trade_pct + 1e-9
    assert result.position_value <= equity * settings.max_position_pct + 1e-9


def test_size_zero_when_one_share_is_over_the_position_cap(make_candidate, make_state, risk):
    # 20% of 10,000 = 2,000 < one share at 2,500.
    result = size_position(
        make_candidate(entry_price=2_500.0),
        make_state(equity=10_000.0, cash=10_000.0, peak_equity=10_000.0),
        risk,
    )
    assert result.shares == 0
    assert [code for code, _ in result.problems] == ["size_zero"]


def test_insufficient_cash_when_only_the_cash_is_short(make_candidate, make_state, risk):
    # (30 - 1) / 50.025 = 0.58 -> 0 shares, although risk and the 20% cap allow 400.
    result = size_position(make_candidate(), make_state(cash=30.0), risk)
    assert result.shares == 0
    assert [code for code, _ in result.problems] == ["insufficient_cash"]


def test_entry_cost_includes_slippage_and_commission(risk):
    assert entry_cost(400, 50.0, risk) == pytest.approx(400 * 50 * 1.0005 + 1)  # 20,011
    assert entry_cost(0, 50.0, risk) == 0.0


def test_whole_shares():
    assert whole_shares(999.9999999999999) == 1000
    assert whole_shares(999.5) == 999
    assert whole_shares(-3.0) == 0
    assert whole_shares(float("inf")) == 0


@pytest.mark.parametrize(
    ("levels", "fragment"),
    [((0.06, 0.12), "stop 6.00%"), ((0.04, 0.06), "reward/risk 1.50"), ((0.02, 0.12), "target 12.00%")],
)
def test_levels_outside_the_product_bounds_are_rejected(
    make_candidate, make_state, risk, monkeypatch, levels, fragment
):
    # Guard against a future change in barrier_levels: the manager re-checks the promised bounds.
    monkeypatch.setattr(sizing, "barrier_levels", lambda atr_pct, settings: levels)
    result = size_position(make_candidate(), make_state(), risk)
    codes = [code for code, _ in result.problems]
    assert codes and set(codes) == {"levels_out_of_bounds"}
    assert any(fragment in message for _, message in result.problems)
