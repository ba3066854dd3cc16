"""The manager: all reasons collected, non-BUYs, same-day caps in evaluate_many, the kill switch."""

from __future__ import annotations

import json
from datetime import date

import pytest

from backend.core.errors import ValidationFailed
from backend.core.settings import override_settings
from backend.risk import manager
from backend.risk.schemas import PortfolioState, StopEvent


def test_a_clean_candidate_is_approved_with_its_levels(make_candidate, make_state, risk):
    decision = manager.evaluate(make_candidate(), make_state(), risk)
    assert decision.approved
    assert decision.reasons == [] and decision.messages == []
    # entry 50, ATR 2% -> stop 4% (48.00), target 8% (54.00); 20% of 100,000 = 20,000 -> 400 shares.
    assert decision.shares == 400
    assert decision.position_value == pytest.approx(20_000.0)
    assert decision.position_pct == pytest.approx(0.20)
    assert decision.stop_price == pytest.approx(48.0)
    assert decision.target_price == pytest.approx(54.0)
    assert decision.risk_amount == pytest.approx(800.0)  # 400 x (50 - 48)
    assert decision.reward_risk == pytest.approx(2.0)
    json.dumps(decision.model_dump(mode="json"), allow_nan=False)


@pytest.mark.parametrize("signal", ["HOLD", "SELL"])
def test_non_buy_signals_are_not_entries(make_candidate, make_state, risk, signal):
    decision = manager.evaluate(make_candidate(signal=signal, confidence=0.99), make_state(), risk)
    assert not decision.approved
    assert decision.reasons == ["not_a_buy"]
    assert decision.shares == 0


def test_every_failing_reason_is_reported(make_candidate, make_state, make_position, risk):
    state = make_state(
        equity=80_000.0,
        cash=80_000.0,
        peak_equity=100_000.0,  # 20% drawdown
        kill_switch=True,
        positions=(make_position(ticker="AAPL", sector="Energy"),),
    )
    candidate = make_candidate(ticker="AAPL", confidence=0.6, avg_dollar_volume_20d=1_000.0)
    decision = manager.evaluate(candidate, state, risk)
    assert not decision.approved
    assert set(decision.reasons) == {
        "kill_switch",
        "drawdown_halt",
        "confidence_below_min",
        "already_held",
        "illiquid",
    }
    assert len(decision.messages) == len(decision.reasons)
    assert all(decision.messages)
    # The proposed trade is still described: 20% of 80,000 = 16,000 -> 320 shares.
    assert decision.shares == 320


def test_size_reasons_join_rule_reasons(make_candidate, make_state, risk):
    decision = manager.evaluate(make_candidate(confidence=0.5), make_state(cash=30.0), risk)
    assert decision.reasons == ["confidence_below_min", "insufficient_cash"]


def test_state_from_the_future_is_refused(make_candidate, make_state, risk):
    with pytest.raises(ValidationFailed, match="later than the candidate's trade date"):
        manager.evaluate(
            make_candidate(trade_date=date(2024, 7, 11)), make_state(as_of=date(2024, 7, 12)), risk
        )


def test_settings_default_to_the_active_settings(make_candidate, make_state, risk):
    with override_settings(risk=risk.model_copy(update={"min_confidence": 0.9})):
        decision = manager.evaluate(make_candidate(confidence=0.85), make_state())
    assert decision.reasons == ["confidence_below_min"]


def test_custom_rule_lists(make_candidate, make_state, risk):
    decision = manager.evaluate(make_candidate(confidence=0.1), make_state(), risk, rules=())
    assert decision.approved


# evaluate_many on 100,000 equity and cash; every candidate: entry 50, ATR 2% -> 400 shares = 20,000 (the 20%
# cap). Each fill costs 400 x 50 x 1.0005 + 1 = 20,011.
#   A 0.95 Tech      approved, cash 100,000 - 20,011 = 79,989
#   B 0.93 Tech      sector_cap: 20,000 + 20,000 = 40% > 30%
#   C 0.91 Health    approved, cash 59,978
#   D 0.89 Energy    approved, cash 39,967
#   E 0.87 Utilities approved, cash 19,956
#   F 0.85 Finance   4 held; cash buys floor((19,956 - 1) / 50.025) = floor(398.90) = 398 shares = 19,900;
#                    cash left 19,956 - (398 x 50.025 + 1) = 45.05
#   G 0.83 Materials max_positions (5 held) and cash: floor((45.05 - 1) / 50.025) = 0 shares
#   H 0.65 Retail    max_positions, confidence and cash
def test_evaluate_many_respects_caps_across_same_day_approvals(make_candidate, make_state, risk):
    rows = [
        ("H", 0.65, "Retail"),
        ("C", 0.91, "Health"),
        ("A", 0.95, "Technology"),
        ("G", 0.83, "Materials"),
        ("B", 0.93, "Technology"),
        ("E", 0.87, "Utilities"),
        ("D", 0.89, "Energy"),
        ("F", 0.85, "Financials"),
    ]
    candidates = [make_candidate(ticker=t, confidence=c, sector=s) for t, c, s in rows]
    state = make_state()
    decisions = manager.evaluate_many(candidates, state, risk)

    assert [d.ticker for d in decisions] == ["A", "B", "C", "D", "E", "F", "G", "H"]
    by_ticker = {d.ticker: d for d in decisions}
    assert [t for t, d in by_ticker.items() if d.approved] == ["A", "C", "D", "E", "F"]
    assert [by_ticker[t].shares for t in "ACDE"] == [400, 400, 400, 400]
    assert by_ticker["F"].shares == 398
    assert by_ticker["F"].limited_by == "cash"
    assert by_ticker["B"].reasons == ["sector_cap"]
    assert by_ticker["G"].reasons == ["max_positions", "insufficient_cash"]
    assert by_ticker["H"].reasons == ["max_positions", "confidence_below_min", "insufficient_cash"]
    assert state.positions == () and state.cash == 100_000.0  # the caller's state is untouched


def test_evaluate_many_rejects_a_duplicate_ticker(make_candidate, make_state, risk):
    decisions = manager.evaluate_many(
        [make_candidate(confidence=0.8), make_candidate(confidence=0.9)], make_state(), risk
    )
    assert [d.approved for d in decisions] == [True, False]
    # The same name twice is also the same sector twice: 20% + 20% of equity in Technology.
    assert decisions[1].reasons == ["already_held", "sector_cap"]


def test_apply_entry_books_the_position_and_its_cost(make_candidate, make_state, risk):
    candidate = make_candidate(ticker="XOM", sector="Energy")
    decision = manager.evaluate(candidate, make_state(), risk)
    after = manager.apply_entry(make_state(), candidate, decision, risk)
    assert after.cash == pytest.approx(100_000.0 - 20_011.0)
    assert after.equity == 100_000.0
    (position,) = after.positions
    assert (position.ticker, position.shares, position.sector) == ("XOM", 400, "Energy")
    assert position.entry_date == date(2024, 7, 15)  # the next session after Friday Jul 12
    rejected = manager.evaluate(make_candidate(confidence=0.1), make_state(), risk)
    with pytest.raises(ValidationFailed):
        manager.apply_entry(make_state(), candidate, rejected, risk)


def test_drawdown_kill_switch_latches_until_a_user_resets_it(make_candidate, make_state, risk):
    deep = make_state(equity=84_000.0, cash=84_000.0, peak_equity=100_000.0)
    assert manager.drawdown(deep) == pytest.approx(0.16)
    tripped = manager.update_kill_switch(deep, risk)
    assert tripped.kill_switch

    # Equity recovers to a 10% drawdown: the live halt lifts, the latched switch does not.
    recovered = tripped.model_copy(update={"equity": 90_000.0, "cash": 90_000.0})
    assert manager.update_kill_switch(recovered, risk).kill_switch
    assert manager.evaluate(make_candidate(), recovered, risk).reasons == ["kill_switch"]

    reset = manager.reset_kill_switch(tripped)
    assert not reset.kill_switch
    assert reset.peak_equity == 84_000.0 and manager.drawdown(reset) == 0.0
    assert manager.evaluate(make_candidate(), reset, risk).approved

    shallow = make_state(equity=90_000.0, peak_equity=100_000.0)
    assert not manager.update_kill_switch(shallow, risk).kill_switch


def test_stop_pause_and_cooldown_through_the_manager(make_candidate, make_state, risk):
    stops = (
        StopEvent(ticker="AAPL", date=date(2024, 7, 10)),
        StopEvent(ticker="MSFT", date=date(2024, 7, 11)),
        StopEvent(ticker="NVDA", date=date(2024, 7, 12)),
    )
    decision = manager.evaluate(make_candidate(ticker="AAPL"), make_state(recent_stops=stops), risk)
    assert decision.reasons == ["stop_pause", "cooldown_after_stop"]


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="peak_equity"):
        PortfolioState(equity=1.0, cash=1.0, peak_equity=0.0, as_of=date(2024, 7, 12))
