"""Every rule's accept and reject path, at and around its threshold."""

from __future__ import annotations

from datetime import date

import pytest

from backend.risk.manager import evaluate
from backend.risk.rules import (
    DEFAULT_RULES,
    AlreadyHeldRule,
    ConfidenceRule,
    CooldownAfterStopRule,
    DrawdownHaltRule,
    KillSwitchRule,
    LiquidityRule,
    MarketRegimeRule,
    MaxPositionsRule,
    RiskRule,
    SectorCapRule,
    StopPauseRule,
    sector_exposure,
)
from backend.risk.schemas import StopEvent


@pytest.mark.parametrize(("confidence", "passed"), [(0.71, True), (0.99, True), (0.70, False), (0.5, False)])
def test_confidence_must_exceed_the_minimum(make_candidate, make_state, risk, confidence, passed):
    result = ConfidenceRule().check(make_candidate(confidence=confidence), make_state(), risk)
    assert result.passed is passed
    assert result.code == "confidence_below_min"
    if not passed:
        assert "0.70" in result.message


def test_max_positions(make_candidate, make_state, make_position, risk):
    four = tuple(make_position(ticker=f"T{i}", sector=f"S{i}") for i in range(4))
    five = (*four, make_position(ticker="T4", sector="S4"))
    assert MaxPositionsRule().check(make_candidate(), make_state(positions=four), risk).passed
    result = MaxPositionsRule().check(make_candidate(), make_state(positions=five), risk)
    assert not result.passed
    assert result.code == "max_positions"
    assert "5" in result.message


def test_already_held(make_candidate, make_state, make_position, risk):
    state = make_state(positions=(make_position(ticker="MSFT"),))
    assert AlreadyHeldRule().check(make_candidate(ticker="AAPL"), state, risk).passed
    result = AlreadyHeldRule().check(make_candidate(ticker="MSFT"), state, risk)
    assert (result.passed, result.code) == (False, "already_held")


@pytest.mark.parametrize(
    ("equity", "passed"),
    [
        (100_000.0, True),
        (90_000.0, True),
        (85_000.0, True),  # exactly 15%: at the limit, not past it
        (84_999.0, False),  # 15.001%
        (70_000.0, False),
    ],
)
def test_drawdown_halt_past_the_limit(make_candidate, make_state, risk, equity, passed):
    state = make_state(equity=equity, cash=equity, peak_equity=100_000.0)
    result = DrawdownHaltRule().check(make_candidate(), state, risk)
    assert result.passed is passed
    assert result.code == "drawdown_halt"


def test_equity_above_a_stale_peak_is_no_drawdown(make_candidate, make_state, risk):
    state = make_state(equity=120_000.0, peak_equity=100_000.0)
    assert state.drawdown == 0.0
    assert DrawdownHaltRule().check(make_candidate(), state, risk).passed


def test_kill_switch(make_candidate, make_state, risk):
    assert KillSwitchRule().check(make_candidate(), make_state(kill_switch=False), risk).passed
    result = KillSwitchRule().check(make_candidate(), make_state(kill_switch=True), risk)
    assert (result.passed, result.code) == (False, "kill_switch")


# Cooldown of 5 trading days. Around July 4 2024 (Thursday, closed): stop on Wednesday July 3.
# Sessions after it: Jul 5 (1), Jul 8 (2), Jul 9 (3), Jul 10 (4), Jul 11 (5). A signal on Jul 11, the 5th
# session, fills on Jul 12 (the 6th): allowed. Jul 10 would fill on the 5th session: blocked. Counting
# calendar days instead would wrongly allow Jul 8.
@pytest.mark.parametrize(
    ("stop_day", "signal_day", "passed"),
    [
        (date(2024, 7, 3), date(2024, 7, 3), False),
        (date(2024, 7, 3), date(2024, 7, 8), False),
        (date(2024, 7, 3), date(2024, 7, 10), False),
        (date(2024, 7, 3), date(2024, 7, 11), True),
        (date(2024, 7, 3), date(2024, 7, 15), True),
        # Thanksgiving 2024 (Thu Nov 28, closed): stop Tue Nov 26 -> Nov 27 (1), Nov 29 (2), Dec 2 (3),
        # Dec 3 (4), Dec 4 (5).
        (date(2024, 11, 26), date(2024, 12, 3), False),
        (date(2024, 11, 26), date(2024, 12, 4), True),
    ],
)
def test_cooldown_after_stop_counts_trading_days(
    make_candidate, make_state, risk, stop_day, signal_day, passed
):
    state = make_state(as_of=signal_day, recent_stops=(StopEvent(ticker="AAPL", date=stop_day),))
    result = CooldownAfterStopRule().check(make_candidate(trade_date=signal_day), state, risk)
    assert result.passed is passed
    assert result.code == "cooldown_after_stop"


def test_cooldown_is_per_ticker_and_uses_the_latest_stop(make_candidate, make_state, risk):
    signal_day = date(2024, 7, 11)
    other = make_state(as_of=signal_day, recent_stops=(StopEvent(ticker="MSFT", date=date(2024, 7, 10)),))
    assert CooldownAfterStopRule().check(make_candidate(trade_date=signal_day), other, risk).passed
    # An old stop (long cooled down) and a recent one: the recent one decides.
    stops = (StopEvent(ticker="AAPL", date=date(2024, 6, 3)), StopEvent(ticker="AAPL", date=date(2024, 7, 9)))
    result = CooldownAfterStopRule().check(
        make_candidate(trade_date=signal_day), make_state(as_of=signal_day, recent_stops=stops), risk
    )
    assert not result.passed
    assert "2024-07-09" in result.message


# Pause after 3 stops within 10 trading days. For a signal on Fri Jul 12 2024 the window is the 10
# sessions Jun 28, Jul 1, 2, 3, 5, 8, 9, 10, 11, 12 (July 4 closed). Jun 27 is outside; counting 10
# calendar days back (Jul 2) would instead drop Jun 28 and Jul 1.
@pytest.mark.parametrize(
    ("stop_days", "passed"),
    [
        ([date(2024, 6, 28), date(2024, 7, 3), date(2024, 7, 10)], False),
        ([date(2024, 6, 27), date(2024, 7, 3), date(2024, 7, 10)], True),
        ([date(2024, 7, 1), date(2024, 7, 12), date(2024, 7, 12)], False),
        ([date(2024, 7, 3), date(2024, 7, 10)], True),
        ([], True),
    ],
)
def test_stop_pause_after_k_stops_in_m_trading_days(make_candidate, make_state, risk, stop_days, passed):
    stops = tuple(StopEvent(ticker=f"T{i}", date=d) for i, d in enumerate(stop_days))
    result = StopPauseRule().check(make_candidate(), make_state(recent_stops=stops), risk)
    assert result.passed is passed
    assert result.code == "stop_pause"


# Sector cap 30% of 100,000 equity. The candidate (entry 50, stop 4%) is sized at the 20% cap: 400 shares,
# 20,000. A held Technology position of 100 x 100 = 10,000 makes 30,000 = 30%: allowed. Marked at 101 it is
# 10,100 -> 30.1%: rejected.
def test_sector_cap_counts_the_new_position(make_candidate, make_state, make_position, risk):
    at_cap = make_state(positions=(make_position(sector="Technology"),))
    assert SectorCapRule().check(make_candidate(sector="Technology"), at_cap, risk).passed

    over = make_state(positions=(make_position(sector="Technology", last_price=101.0),))
    result = SectorCapRule().check(make_candidate(sector="Technology"), over, risk)
    assert (result.passed, result.code) == (False, "sector_cap")
    assert "30.1%" in result.message

    assert SectorCapRule().check(make_candidate(sector="Energy"), over, risk).passed


def test_unknown_sectors_are_not_capped_together_and_the_decision_says_so(
    make_candidate, make_state, make_position, risk
):
    # 25,000 in two unknown-sector names: as one "Unknown" sector, a third (20k) would be 45% and rejected.
    unknown = (make_position(ticker="AAA", sector=None, shares=150), make_position(ticker="BBB", sector=None))
    state = make_state(positions=unknown)
    assert sector_exposure(state) == {}
    result = SectorCapRule().check(make_candidate(ticker="CCC", sector=None), state, risk)
    assert result.passed
    assert "CCC's sector is unknown" in result.message and "30%" in result.message

    decision = evaluate(make_candidate(ticker="CCC", sector=None, confidence=0.95), state, risk)
    assert decision.approved
    assert any("sector is unknown" in note for note in decision.notes)
    # A known sector is still capped, and unknown holdings do not count against it.
    tech = make_state(positions=(make_position(sector="Technology", last_price=101.0),))
    assert not SectorCapRule().check(make_candidate(sector="Technology"), tech, risk).passed
    assert SectorCapRule().check(make_candidate(sector="Energy"), state, risk).passed


@pytest.mark.parametrize(
    ("volume", "passed"), [(50_000_000.0, True), (5_000_000.0, True), (4_999_999.0, False), (None, False)]
)
def test_liquidity(make_candidate, make_state, risk, volume, passed):
    result = LiquidityRule().check(make_candidate(avg_dollar_volume_20d=volume), make_state(), risk)
    assert result.passed is passed
    assert result.code == "illiquid"


@pytest.mark.parametrize(
    ("mode", "above", "confidence", "expected"),
    [
        ("off", False, 0.72, None),
        ("block", True, 0.72, None),
        ("block", False, 0.95, "regime_block"),
        ("block", None, 0.72, None),  # unknown regime: no filter
        ("raise_bar", True, 0.72, None),
        ("raise_bar", False, 0.85, None),
        ("raise_bar", False, 0.80, "regime_confidence"),
        ("raise_bar", False, 0.75, "regime_confidence"),
    ],
)
def test_market_regime(make_candidate, make_state, risk, mode, above, confidence, expected):
    settings = risk.model_copy(update={"regime_filter": mode})
    candidate = make_candidate(market_above_sma200=above, confidence=confidence)
    result = MarketRegimeRule().check(candidate, make_state(), settings)
    assert result.passed is (expected is None)
    if expected is not None:
        assert result.code == expected


def test_default_rules_cover_every_rule_once():
    kinds = [type(rule) for rule in DEFAULT_RULES]
    assert all(isinstance(rule, RiskRule) for rule in DEFAULT_RULES)
    assert len(set(kinds)) == len(kinds) == 10
    assert {rule.code for rule in DEFAULT_RULES} == {
        "kill_switch",
        "drawdown_halt",
        "stop_pause",
        "max_positions",
        "confidence_below_min",
        "regime_block",
        "already_held",
        "cooldown_after_stop",
        "illiquid",
        "sector_cap",
    }
