"""The day's candidates: ranked by EV, with levels and the reason each is or is not a signal."""

from __future__ import annotations

import pandas as pd

from backend.core.settings import RiskSettings
from backend.features.barriers import barrier_levels
from backend.signals.candidates import rank_candidates
from backend.signals.generate import generate_signals
from tests.unit.signals.test_signal_generation import RISK, closed_book, row


def predictions(trusted: bool) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"ticker": "AAPL", "signal": "BUY", "confidence": 0.8, "expected_value": 0.012},
            {"ticker": "MSFT", "signal": "HOLD", "confidence": 0.55, "expected_value": 0.004},
            {"ticker": "IBM", "signal": "SELL", "confidence": 0.30, "expected_value": -0.010},
            {"ticker": "XOM", "signal": "HOLD", "confidence": 0.75, "expected_value": -0.001},
        ]
    ).assign(
        trusted=trusted, model_version="m-1", contributions=[[{"feature": "rsi", "contribution": 0.1}]] * 4
    )


def market_rows() -> dict[str, dict[str, float | str | None]]:
    return {
        t: row(price, "Technology")
        for t, price in (("AAPL", 50.0), ("MSFT", 400.0), ("IBM", 120.0), ("XOM", 80.0))
    }


def test_candidates_rank_by_expected_value_and_say_why_with_an_untrusted_model() -> None:
    book, today = closed_book(market_rows())
    calls = predictions(trusted=False)
    report = generate_signals(book, today, calls)
    ranked = rank_candidates(calls, report, today, RISK)
    assert [c.ticker for c in ranked] == ["AAPL", "MSFT", "XOM", "IBM"]
    assert [c.rank for c in ranked] == [1, 2, 3, 4]
    assert not any(c.is_signal for c in ranked) and not any(c.model_trusted for c in ranked)
    by = {c.ticker: c for c in ranked}
    assert by["AAPL"].reasons == ["untrusted_model"]
    assert by["MSFT"].reasons == ["untrusted_model", "below_confidence_bar"]
    assert by["XOM"].reasons == ["untrusted_model", "non_positive_ev"]
    assert "not trusted" in by["AAPL"].why
    stop_pct, target_pct = barrier_levels(float(today.value("AAPL", "atr_pct")), RISK)
    assert by["AAPL"].stop_price == 50.0 * (1 - stop_pct) and by["AAPL"].target_price == 50.0 * (
        1 + target_pct
    )
    assert by["AAPL"].drivers == [{"feature": "rsi", "contribution": 0.1}]


def test_a_trusted_model_s_buy_is_a_signal_and_the_list_is_cut_at_top_n() -> None:
    book, today = closed_book(market_rows())
    calls = predictions(trusted=True)
    report = generate_signals(book, today, calls)
    risk: RiskSettings = RISK.model_copy(update={"candidates_top_n": 2})
    ranked = rank_candidates(calls, report, today, risk)
    assert [c.ticker for c in ranked] == ["AAPL", "MSFT"]
    assert ranked[0].is_signal and ranked[0].reasons == [] and ranked[0].why.startswith("signal: BUY")
    assert ranked[1].reasons == ["below_confidence_bar"] and ranked[0].model_trusted


def test_a_buy_the_risk_manager_rejects_names_the_rule() -> None:
    book, today = closed_book(market_rows(), RISK.model_copy(update={"max_positions": 0}))
    calls = predictions(trusted=True)
    report = generate_signals(book, today, calls)
    ranked = rank_candidates(calls, report, today, RISK)
    assert not ranked[0].is_signal and ranked[0].reasons == report.rejected[0].reasons != []
    assert rank_candidates(calls.iloc[:0], report, today, RISK) == []
