"""`generate_signals` after a close: entries sized by the risk manager, rejections, exit orders."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest

from backend.core.calendar import session_close, session_open
from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings
from backend.portfolio.book import PaperBook
from backend.signals.generate import explanation, generate_signals
from backend.signals.market import MarketDay
from backend.signals.monitor import run_session
from backend.signals.schemas import SignalRecord

# The product's numbers spelled out, so a change of defaults cannot change what these tests expect.
RISK = RiskSettings(
    min_confidence=0.70,
    max_position_pct=0.20,
    risk_per_trade_pct=0.02,
    max_stop_pct=0.05,
    min_target_pct=0.05,
    max_target_pct=0.10,
    min_reward_risk=2.0,
    atr_stop_multiple=2.0,
    max_positions=5,
    max_drawdown_pct=0.15,
    max_sector_pct=0.30,
    min_avg_dollar_volume=5_000_000.0,
    regime_filter="raise_bar",
    regime_min_confidence=0.80,
    starting_capital=100_000.0,
    commission_per_trade=1.0,
    slippage_bps=5.0,
    sentiment_exit_score=-0.20,
    sentiment_exit_min_mentions=3,
)
PREV = date(2024, 7, 11)  # Thursday
DAY = date(2024, 7, 12)  # Friday: its signals fill at Monday's open
NEXT = date(2024, 7, 15)
NAN = float("nan")


def row(close: float, sector: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "open": close,
        "high": close * 1.01,
        "low": close * 0.99,
        "close": close,
        "atr_pct": 0.02,  # stop 2 x 2% = 4%, target 8%
        "adv_20d": 50_000_000.0,
        "market_above_sma200": 1.0,
        "rsi_14": 42.5,
        "macd": 0.31,
        "sentiment_score": NAN,
        "sentiment_trend": NAN,
        "sentiment_mentions": NAN,
        "sector": sector,
    }
    values.update(changes)
    return values


def calls(*rows: tuple[str, str, float], trusted: bool = True) -> pd.DataFrame:
    """Predictions of a model that passed its edge test (unless `trusted=False`)."""
    return pd.DataFrame([{"ticker": t, "signal": s, "confidence": c, "trusted": trusted} for t, s, c in rows])


def closed_book(
    rows: dict[str, dict[str, Any]], settings: RiskSettings = RISK, hold: tuple[str, ...] = ()
) -> tuple[PaperBook, MarketDay]:
    """A book that has processed DAY; the `hold` tickers were approved on PREV and filled at DAY's open."""
    book = PaperBook.new(settings)
    for ticker in hold:
        book.pending[ticker] = SignalRecord(
            ticker=ticker,
            trade_date=PREV,
            signal="BUY",
            confidence=0.9,
            status="pending",
            entry_price=rows[ticker]["close"],
            generated_at=session_close(PREV),
            expires_at=session_open(DAY),
            stop_pct=0.04,
            target_pct=0.08,
            shares=100,
            sector=rows[ticker]["sector"],
        )
    today = MarketDay(DAY, rows)
    run_session(book, today)
    assert set(book.ledger.open_positions) == set(hold)
    return book, today


@pytest.mark.parametrize(
    ("risk_pct", "shares"),
    [
        # Budget 100,000 x 2% = 2,000; per-share risk 50 x 4% = 2 -> 1,000 shares by risk,
        # but 20% of 100,000 / 50 = 400 by the position cap: 400.
        (0.02, 400),
        # Budget 100,000 x 0.5% = 500 -> 500 / 2 = 250 shares, under the 400 cap: 250.
        (0.005, 250),
    ],
)
def test_a_confident_buy_becomes_a_pending_entry_sized_by_hand(risk_pct: float, shares: int) -> None:
    settings = RISK.model_copy(update={"risk_per_trade_pct": risk_pct})
    book, today = closed_book({"AAPL": row(50.0, "Technology")}, settings)
    predictions = calls(("AAPL", "BUY", 0.85)).assign(model_version="m-7")
    report = generate_signals(book, today, predictions)

    (record,) = report.approved
    assert report.rejected == [] and report.exit_orders == {} and not report.already_generated
    assert record.status == "pending" and record.reasons == [] and record.messages == []
    assert (record.ticker, record.trade_date, record.signal, record.confidence) == ("AAPL", DAY, "BUY", 0.85)
    assert record.entry_price == 50.0  # the reference close
    assert record.shares == shares == min(math.floor(100_000 * risk_pct / (50 * 0.04)), 400)
    assert (record.stop_pct, record.target_pct, record.risk_reward) == pytest.approx((0.04, 0.08, 2.0))
    assert (record.stop_price, record.target_price) == pytest.approx((48.0, 54.0))  # 50 x 0.96, 50 x 1.08
    assert record.position_size_pct == pytest.approx(shares * 50.0 / 100_000)
    assert (record.sector, record.rsi, record.macd, record.model_version) == ("Technology", 42.5, 0.31, "m-7")
    assert record.sentiment is None  # a NaN mood is no mood
    assert record.generated_at == session_close(DAY)
    assert record.expires_at == session_open(NEXT)
    assert book.pending == {"AAPL": record} and book.touched[("AAPL", DAY)] is record
    assert book.last_signal_date == DAY

    # The entry fills at Monday's open of 51, re-anchored there: stop 48.96.
    filled = run_session(book, MarketDay(NEXT, {"AAPL": row(51.0, "Technology")}))
    assert filled.filled == [record] and record.status == "active"
    assert record.stop_price == pytest.approx(48.96)


def test_failing_candidates_are_rejected_with_machine_readable_reasons() -> None:
    rows = {
        "AAPL": row(50.0, "Technology"),
        "MSFT": row(400.0, "Software"),
        "NVDA": row(120.0, "Semiconductors"),
        "THIN": row(20.0, "Retail", adv_20d=1_000_000.0),
        "NOATR": row(30.0, "Energy", atr_pct=NAN),
        "IBM": row(180.0, "Services"),
        "XOM": row(110.0, "Oil"),
    }
    book, today = closed_book(rows)
    predictions = calls(
        ("AAPL", "BUY", 0.85),
        ("MSFT", "BUY", 0.65),  # below the bar
        ("NVDA", "BUY", 0.70),  # exactly at the bar: must exceed it
        ("THIN", "BUY", 0.90),  # 1M a day traded, under the 5M floor
        ("NOATR", "BUY", 0.90),  # no ATR: cannot be sized
        ("ZZZ", "BUY", 0.90),  # no market row at all
        ("IBM", "HOLD", 0.95),  # not an entry: no record
        ("XOM", "SELL", 0.95),  # not held: no exit order, no record
    )
    report = generate_signals(book, today, predictions)

    assert [r.ticker for r in report.approved] == ["AAPL"]
    reasons = {r.ticker: r.reasons for r in report.rejected}
    assert reasons == {
        "MSFT": ["confidence_below_min"],
        "NVDA": ["confidence_below_min"],
        "THIN": ["illiquid"],
        "NOATR": ["no_market_data"],
        "ZZZ": ["no_market_data"],
    }
    for record in report.rejected:
        assert record.status == "rejected" and len(record.messages) == len(record.reasons)
        assert book.touched[(record.ticker, DAY)] is record
    assert set(book.pending) == {"AAPL"} and book.exit_orders == {} and report.exit_orders == {}
    unpriced = next(r for r in report.rejected if r.ticker == "ZZZ")
    assert unpriced.entry_price == 0.0 and unpriced.shares == 0
    assert "no close or ATR for ZZZ" in unpriced.messages[0]
    assert ("IBM", DAY) not in book.touched and ("XOM", DAY) not in book.touched


def test_the_day_s_approvals_count_against_the_position_limit_and_held_tickers() -> None:
    settings = RISK.model_copy(update={"max_positions": 2})
    rows = {
        "AAPL": row(50.0, "Technology"),
        "MSFT": row(400.0, "Software"),
        "XOM": row(110.0, "Oil"),
    }
    book, today = closed_book(rows, settings, hold=("AAPL",))
    report = generate_signals(
        book, today, calls(("AAPL", "BUY", 0.95), ("MSFT", "BUY", 0.90), ("XOM", "BUY", 0.80))
    )
    # Most confident first: AAPL is held; MSFT takes the 2nd slot; XOM finds 2 positions (AAPL + MSFT).
    assert [r.ticker for r in report.approved] == ["MSFT"]
    assert {r.ticker: r.reasons for r in report.rejected} == {
        "AAPL": ["already_held"],
        "XOM": ["max_positions"],
    }
    assert set(book.pending) == {"MSFT"}
    assert book.exit_orders == {}  # a BUY on a held ticker is not an exit


def test_a_sell_on_a_held_ticker_sells_at_the_next_open() -> None:
    rows = {"AAPL": row(50.0, "Technology"), "MSFT": row(400.0, "Software")}
    book, today = closed_book(rows, hold=("AAPL",))
    report = generate_signals(book, today, calls(("AAPL", "SELL", 0.75), ("MSFT", "HOLD", 0.9)))
    assert report.exit_orders == {"AAPL": "signal_flip"} and book.exit_orders == {"AAPL": "signal_flip"}
    assert report.approved == [] and report.rejected == []

    after = run_session(book, MarketDay(NEXT, {"AAPL": row(51.0, "Technology")}))
    (trade,) = after.closed
    assert (trade.trade.exit_reason, trade.exit_price, trade.exit_date) == ("signal_flip", 51.0, NEXT)
    assert book.exit_orders == {} and book.active == {}


@pytest.mark.parametrize(
    ("score", "mentions", "exits"),
    [
        (-0.25, 3.0, True),
        (-0.20, 3.0, True),  # at the threshold counts as bearish
        (-0.60, 12.0, True),
        (-0.25, 1.0, False),  # one post cannot flip a position
        (-0.25, 2.0, False),
        (-0.19, 10.0, False),  # not bearish enough
        (NAN, NAN, False),  # no mood that day
    ],
)
def test_bearish_sentiment_on_enough_mentions_puts_an_exit_order(
    score: float, mentions: float, exits: bool
) -> None:
    rows = {"AAPL": row(50.0, "Technology", sentiment_score=score, sentiment_mentions=mentions)}
    book, today = closed_book(rows, hold=("AAPL",))
    report = generate_signals(book, today, pd.DataFrame())
    expected = {"AAPL": "signal_flip"} if exits else {}
    assert report.exit_orders == expected and book.exit_orders == expected


def test_a_second_call_for_the_same_date_changes_nothing() -> None:
    rows = {"AAPL": row(50.0, "Technology"), "MSFT": row(400.0, "Software")}
    book, today = closed_book(rows)
    first = generate_signals(book, today, calls(("AAPL", "BUY", 0.85)))
    assert [r.ticker for r in first.approved] == ["AAPL"] and not first.already_generated
    pending, touched, orders = dict(book.pending), dict(book.touched), dict(book.exit_orders)
    record = book.pending["AAPL"]
    shares, status = record.shares, record.status

    for predictions in (calls(("AAPL", "BUY", 0.85)), calls(("MSFT", "BUY", 0.99), ("AAPL", "SELL", 0.9))):
        again = generate_signals(book, today, predictions)
        assert again.already_generated
        assert again.approved == [] and again.rejected == [] and again.exit_orders == {}
        assert book.pending == pending and book.touched == touched and book.exit_orders == orders
        assert book.pending["AAPL"] is record and (record.shares, record.status) == (shares, status)
    # An earlier date is also already behind the book.
    assert generate_signals(book, MarketDay(PREV, {}), calls(("MSFT", "BUY", 0.99))).already_generated
    assert book.last_signal_date == DAY


def test_signals_need_the_session_processed_first() -> None:
    fresh = PaperBook.new(RISK)
    today = MarketDay(DAY, {"AAPL": row(50.0, "Technology")})
    with pytest.raises(ValidationFailed, match="sessions up to none"):
        generate_signals(fresh, today, calls(("AAPL", "BUY", 0.85)))
    run_session(fresh, MarketDay(PREV, {"AAPL": row(49.0, "Technology")}))
    with pytest.raises(ValidationFailed, match="sessions up to 2024-07-11"):
        generate_signals(fresh, today, calls(("AAPL", "BUY", 0.85)))
    assert fresh.pending == {} and fresh.touched == {} and fresh.last_signal_date is None


def test_predictions_without_the_needed_columns_are_refused() -> None:
    book, today = closed_book({"AAPL": row(50.0, "Technology")})
    with pytest.raises(ValidationFailed, match="confidence"):
        generate_signals(book, today, pd.DataFrame([{"ticker": "AAPL", "signal": "BUY"}]))
    assert book.pending == {} and book.last_signal_date is None


def test_the_explanation_carries_the_top_contributions() -> None:
    contributions = [
        {"feature": "rsi", "contribution": 0.1234},
        {"feature": "macd_hist_pct", "contribution": -0.05},
        {"feature": "atr_pct", "contribution": 0.0101},
        {"feature": "ret_5d", "contribution": 0.001},  # 4th: listed, not in the text
    ]
    predictions = pd.DataFrame(
        [
            {
                "ticker": "AAPL",
                "signal": "BUY",
                "confidence": 0.85,
                "p_buy": 0.85,
                "p_hold": 0.1,
                "p_sell": 0.05,
                "expected_value": 0.0123,
                "contributions": contributions,
            },
            {
                "ticker": "MSFT",
                "signal": "BUY",
                "confidence": 0.6,
                "p_buy": 0.6,
                "p_hold": NAN,
                "p_sell": 0.1,
                "expected_value": 0.004,
            },
            {
                "ticker": "ZZZ",
                "signal": "BUY",
                "confidence": 0.9,
                "expected_value": 0.02,
                "contributions": contributions[:1],
            },
        ]
    ).assign(trusted=True)
    rows = {"AAPL": row(50.0, "Technology"), "MSFT": row(400.0, "Software")}
    book, today = closed_book(rows)
    report = generate_signals(book, today, predictions)
    records = {r.ticker: r for r in [*report.approved, *report.rejected]}

    aapl = records["AAPL"].explanation
    assert aapl["text"] == (
        "BUY with confidence 0.85, expected value +1.23% after costs; "
        "top drivers: rsi +0.123, macd_hist_pct -0.050, atr_pct +0.010"
    )
    assert aapl["expected_value"] == 0.0123
    assert aapl["probabilities"] == {"BUY": 0.85, "HOLD": 0.1, "SELL": 0.05}
    assert aapl["contributions"] == contributions
    # No contributions: the text has no drivers; a NaN probability is None.
    msft = records["MSFT"].explanation
    assert msft["text"] == "BUY with confidence 0.60, expected value +0.40% after costs"
    assert msft["contributions"] == []
    assert msft["probabilities"] == {"BUY": 0.6, "HOLD": None, "SELL": 0.1}
    # A rejection without market data keeps its explanation too.
    assert records["ZZZ"].reasons == ["no_market_data"]
    assert records["ZZZ"].explanation["text"] == (
        "BUY with confidence 0.90, expected value +2.00% after costs; top drivers: rsi +0.123"
    )
    # A call that carries no EV (the indicator rules) says nothing about it.
    assert explanation({"signal": "BUY", "confidence": 0.7})["expected_value"] is None


def test_tickers_without_a_sector_are_not_capped_as_one_sector_and_the_signal_says_so() -> None:
    # Five unknown-sector BUYs at 20% each: one "Unknown" sector would have stopped the second at 30%.
    rows = {t: row(50.0, "", atr_pct=0.02) for t in ("AAA", "BBB", "CCC", "DDD", "EEE")}
    book, today = closed_book(rows)
    report = generate_signals(book, today, calls(*[(t, "BUY", 0.9) for t in rows]))
    assert sorted(r.ticker for r in report.approved) == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    assert report.rejected == []
    notes = report.approved[0].explanation["risk_notes"]
    assert notes == ["AAA's sector is unknown: the 30% sector cap was not applied"]


def test_an_untrusted_model_makes_no_signals_and_flips_no_exit() -> None:
    rows = {"AAPL": row(50.0, "Technology"), "MSFT": row(400.0, "Software")}
    book, today = closed_book(rows, hold=("AAPL",))
    report = generate_signals(book, today, calls(("AAPL", "SELL", 0.2), ("MSFT", "BUY", 0.9), trusted=False))
    assert report.approved == [] and report.rejected == [] and report.exit_orders == {}
    assert book.pending == {} and book.exit_orders == {}


def test_predictions_without_a_trust_verdict_are_untrusted() -> None:
    book, today = closed_book({"MSFT": row(400.0, "Software")})
    predictions = pd.DataFrame([{"ticker": "MSFT", "signal": "BUY", "confidence": 0.9}])
    assert generate_signals(book, today, predictions).approved == []


def test_without_the_requirement_a_model_worse_than_the_prior_still_makes_no_signal() -> None:
    settings = RISK.model_copy(update={"require_trusted_model": False})
    book, today = closed_book({"MSFT": row(400.0, "Software")}, settings)
    worse = calls(("MSFT", "BUY", 0.9), trusted=False).assign(beats_prior=False)
    assert generate_signals(book, today, worse).approved == []
    book, today = closed_book({"MSFT": row(400.0, "Software")}, settings)
    better = calls(("MSFT", "BUY", 0.9), trusted=False).assign(beats_prior=True)
    assert [r.ticker for r in generate_signals(book, today, better).approved] == ["MSFT"]


def test_a_buy_with_non_positive_expected_value_is_no_candidate() -> None:
    rows = {"AAPL": row(50.0, "Technology"), "MSFT": row(400.0, "Software")}
    book, today = closed_book(rows)
    predictions = calls(("AAPL", "BUY", 0.9), ("MSFT", "BUY", 0.9)).assign(expected_value=[0.0, 0.01])
    report = generate_signals(book, today, predictions)
    assert [r.ticker for r in report.approved] == ["MSFT"] and report.rejected == []
