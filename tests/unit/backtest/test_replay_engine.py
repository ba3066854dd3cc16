"""The replay engine on synthetic bars with a hand-made predictor, its baselines and its accuracy score."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from backend.backtest import engine
from backend.core.calendar import session_open, trading_days
from backend.core.settings import RiskSettings
from backend.features.build import atr_pct
from backend.portfolio.book import PaperBook
from backend.signals.exits import EXIT_REASONS, sessions_between
from backend.signals.market import market_days, market_frame
from tests.factories import make_bars

RISK = RiskSettings(
    starting_capital=100_000.0,
    commission_per_trade=1.0,
    slippage_bps=5.0,
    max_hold_days=5,
    min_confidence=0.70,
    max_positions=5,
    max_position_pct=0.20,
    max_sector_pct=0.30,
    regime_filter="raise_bar",
)
SECTORS = {"AAA": "Technology", "BBB": "Energy", "CCC": "Health Care", "DDD": "Utilities"}
WARM_UP = 25  # ATR(14) and the 20-day dollar volume need this much history before the first session


def synthetic_prices() -> pd.DataFrame:
    bars = [
        make_bars(ticker, n=90, start=date(2015, 1, 2), seed=seed, vol=0.02)
        for seed, ticker in enumerate(SECTORS)
    ]
    prices = pd.concat(bars, ignore_index=True).sort_values(["ticker", "trade_date"], ignore_index=True)
    prices["rsi_14"] = 45.0
    prices["macd"] = 0.1
    return prices


def features_of(prices: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": prices["ticker"],
            "trade_date": prices["trade_date"],
            "atr_pct": atr_pct(prices),
            "market_above_sma200": 1.0,
        }
    )


def scripted(plan: dict[date, list[tuple[str, str]]]) -> Callable[[date], pd.DataFrame]:
    """A predictor that makes the planned (ticker, signal) calls at 0.9 confidence from a trusted model."""

    def predict(day: date) -> pd.DataFrame:
        calls = plan.get(day, [])
        return pd.DataFrame(
            [
                {"ticker": t, "signal": s, "confidence": 0.9, "model_version": "script", "trusted": True}
                for t, s in calls
            ],
            columns=["ticker", "signal", "confidence", "model_version", "trusted"],
        )

    return predict


def test_replay_runs_the_live_steps_session_by_session() -> None:
    prices = synthetic_prices()
    frame = market_frame(prices, features_of(prices), pd.DataFrame(), SECTORS)
    all_days = sorted(prices["trade_date"].unique())
    sessions = all_days[WARM_UP:]
    market = market_days(frame, sessions[0], sessions[-1])
    assert list(market) == sessions
    s = sessions
    plan: dict[date, list[tuple[str, str]]] = {
        s[1]: [("AAA", "BUY")],
        s[3]: [("BBB", "BUY"), ("CCC", "BUY")],
        s[4]: [("AAA", "SELL")],  # AAA was filled at s[2]: exit order for the open of s[5]
        s[12]: [("AAA", "BUY"), ("BBB", "BUY")],
        s[25]: [("AAA", "BUY"), ("BBB", "BUY"), ("CCC", "BUY")],
        s[40]: [("CCC", "BUY")],
        s[-1]: [("DDD", "BUY")],  # approved at the last close: no next open inside the replay
    }
    book = PaperBook.new(RISK)
    seen: list[date] = []

    def on_session(day: date) -> None:
        # After each session (and its signals): the books balance and nothing outstays max_hold_days.
        seen.append(day)
        snapshot = book.ledger.snapshots[-1]
        assert snapshot.trade_date == day
        assert snapshot.cash + snapshot.positions_value == pytest.approx(snapshot.equity, abs=1e-9)
        assert snapshot.cash >= 0 and snapshot.equity == pytest.approx(book.ledger.equity, abs=1e-9)
        for holding in book.ledger.open_positions.values():
            assert sessions_between(holding.entry_date, day) < RISK.max_hold_days

    result = engine.replay(sessions, market, scripted(plan), book, on_session)
    assert result is book and seen == sessions

    # One equity point per session.
    curve = book.ledger.equity_curve()
    assert [d.date() for d in curve.index] == sessions
    for snap in book.ledger.snapshots:
        assert snap.cash + snap.positions_value == pytest.approx(snap.equity, abs=1e-9) and snap.cash >= 0

    opens = prices.set_index(["ticker", "trade_date"])["open"]
    trades = book.ledger.trade_records
    entries = [(r.ticker, r.signal_date) for r in trades] + [
        (h.ticker, h.signal_date) for h in book.ledger.open_positions.values()
    ]
    approved = {(r.ticker, r.trade_date) for r in book.touched.values() if r.status in ("active", "closed")}
    assert sorted(entries) == sorted(approved) and len(trades) >= 5, trades
    for trade in trades:
        assert trade.signal_date is not None
        # Filled at the open of the session after the signal, plus 5 bps.
        assert trade.entry_date == s[s.index(trade.signal_date) + 1]
        assert trade.entry_fill == pytest.approx(opens[(trade.ticker, trade.entry_date)] * 1.0005)
        assert trade.trade.exit_reason in EXIT_REASONS
        held = sessions_between(trade.entry_date, trade.exit_date)
        assert held <= RISK.max_hold_days
        if trade.trade.exit_reason == "time_decay":
            assert held == RISK.max_hold_days
    for record in book.touched.values():
        if record.status in ("active", "closed"):
            assert record.filled_at == session_open(s[s.index(record.trade_date) + 1])
    # The scripted SELL at the close of s[4] sold AAA's first position at the open of s[5], less 5 bps.
    first_aaa = next(t for t in trades if t.ticker == "AAA")
    assert (first_aaa.entry_date, first_aaa.exit_date, first_aaa.trade.exit_reason) == (
        s[2],
        s[5],
        "signal_flip",
    )
    assert first_aaa.exit_fill == pytest.approx(opens[("AAA", s[5])] * 0.9995)
    # With a 5-session limit most of these quiet trades run out of time.
    assert {"signal_flip", "time_decay"} <= {t.trade.exit_reason for t in trades}

    # The entry approved at the last close lapses: there is no next open.
    assert book.pending == {}
    last = book.touched[("DDD", s[-1])]
    assert last.status == "expired" and last.reasons == ["replay_ended"]
    assert "DDD" not in book.ledger.open_positions


def test_replay_of_sessions_without_market_data_just_marks_cash() -> None:
    sessions = trading_days(date(2016, 3, 1), date(2016, 3, 4))
    book = engine.replay(sessions, {}, lambda day: engine.EMPTY, PaperBook.new(RISK))
    assert book.ledger.equity_curve().tolist() == [100_000.0] * 4
    assert book.last_session == sessions[-1] and book.last_signal_date == sessions[-1]


D1, D2, D3 = trading_days(date(2015, 3, 2), date(2015, 3, 4))


def test_rule_predictor_buys_exactly_where_rsi_is_below_30() -> None:
    prices = pd.DataFrame(
        [
            ("A", D1, 25.0),
            ("A", D2, 35.0),
            ("A", D3, 29.99),
            ("B", D1, 30.0),  # at 30 is not oversold
            ("B", D2, 71.0),  # overbought: SELL
            ("B", D3, np.nan),  # warm-up: HOLD
            ("C", D2, 10.0),
            ("C", D3, 70.0),  # at 70 is not overbought
        ],
        columns=["ticker", "trade_date", "rsi_14"],
    )
    predict = engine.rule_predictor(prices, "rsi_mean_reversion")
    oversold = {(t, d) for t, d, r in prices.itertuples(index=False) if r < 30}
    got: set[tuple[str, date]] = set()
    for day in (D1, D2, D3):
        calls = predict(day)
        assert set(calls["signal"]) <= {"BUY", "SELL"}  # HOLD rows are dropped
        assert (calls["confidence"] == 1.0).all()
        assert (calls["model_version"] == "rule:rsi_mean_reversion").all()
        got |= {(t, day) for t in calls.loc[calls["signal"] == "BUY", "ticker"]}
    assert got == oversold == {("A", D1), ("A", D3), ("C", D2)}
    assert predict(D2).set_index("ticker")["signal"].to_dict() == {"B": "SELL", "C": "BUY"}
    assert predict(date(2015, 3, 5)).empty  # a day without rows: no calls


def test_rule_predictor_refuses_an_unknown_rule() -> None:
    prices = pd.DataFrame({"ticker": ["A"], "trade_date": [D1], "rsi_14": [25.0]})
    with pytest.raises(ValueError, match="unknown baseline rule 'coin_flip'"):
        engine.rule_predictor(prices, "coin_flip")


def test_buy_and_hold_by_hand() -> None:
    risk = RiskSettings(starting_capital=10_000.0, commission_per_trade=1.0, slippage_bps=10.0)
    before = trading_days(date(2015, 2, 27), date(2015, 2, 27))[0]
    prices = pd.DataFrame(
        [
            ("A", before, 90.0, 91.0),  # before the window: ignored
            ("A", D1, 100.0, 101.0),
            ("A", D2, 101.0, 99.0),
            ("A", D3, 99.0, 105.0),
            ("B", D1, 40.0, 41.0),
            # B has no bar on D2: its close of 41 is carried.
            ("B", D3, 40.0, 38.0),
        ],
        columns=["ticker", "trade_date", "open", "close"],
    )
    prices["adj_close"] = prices["close"]  # no splits
    equity = engine.buy_and_hold(prices, [D1, D2, D3], risk)
    # Budget 10,000 / 2 = 5,000 each; fills at the open x 1.001.
    # A: fill 100.1, shares floor((5,000 - 1) / 100.1) = floor(49.94) = 49, cost 4,904.90.
    # B: fill 40.04, shares floor(4,999 / 40.04) = floor(124.85) = 124, cost 4,964.96.
    # Cash 10,000 - 4,904.90 - 4,964.96 - 2 x 1 = 128.14.
    # D1: 49 x 101 + 124 x 41 + 128.14 = 4,949 + 5,084 + 128.14 = 10,161.14
    # D2: 49 x 99 + 124 x 41 + 128.14 = 4,851 + 5,084 + 128.14 = 10,063.14
    # D3: 49 x 105 + 124 x 38 + 128.14 = 5,145 + 4,712 + 128.14 = 9,985.14
    assert equity.tolist() == pytest.approx([10_161.14, 10_063.14, 9_985.14])
    assert [d.date() for d in equity.index] == [D1, D2, D3]
    assert equity.name == "equity"


def test_buy_and_hold_holds_twice_the_shares_after_a_2_for_1_split() -> None:
    risk = RiskSettings(starting_capital=10_000.0, commission_per_trade=0.0, slippage_bps=0.0)
    # A splits 2:1 on D3. Stored bars are as traded (Yahoo's split-adjusted Close multiplied back), so D3
    # closes at 52.5 after 99; the split itself is known only from its event (split_ratio 2 on D3), never
    # from the prices: Yahoo's adj_close / close is the same before and after a split.
    prices = pd.DataFrame(
        [
            ("A", D1, 100.0, 101.0, 50.5, 1.0),
            ("A", D2, 101.0, 99.0, 49.5, 1.0),
            ("A", D3, 49.5, 52.5, 52.5, 2.0),
        ],
        columns=["ticker", "trade_date", "open", "close", "adj_close", "split_ratio"],
    )
    equity = engine.buy_and_hold(prices, [D1, D2, D3], risk)
    # 100 shares at 100 (no costs), cash 0: D1 100 x 101, D2 100 x 99, D3 200 x 52.5 = 10,500 (not 5,250).
    assert equity.tolist() == pytest.approx([10_100.0, 9_900.0, 10_500.0])


def test_buy_and_hold_ignores_price_jumps_without_a_split_event() -> None:
    risk = RiskSettings(starting_capital=10_000.0, commission_per_trade=0.0, slippage_bps=0.0)
    # A 50% drop with adj_close / close moving (a spin-off, or a provider's re-based adj_close) is a real
    # loss unless a split event says otherwise: no shares are added.
    prices = pd.DataFrame(
        [("A", D1, 100.0, 101.0, 50.5), ("A", D2, 101.0, 99.0, 49.5), ("A", D3, 49.5, 52.5, 52.5)],
        columns=["ticker", "trade_date", "open", "close", "adj_close"],
    )
    equity = engine.buy_and_hold(prices, [D1, D2, D3], risk)
    assert equity.tolist() == pytest.approx([10_100.0, 9_900.0, 5_250.0])


def test_buy_and_hold_without_an_opening_price_stays_in_cash() -> None:
    prices = pd.DataFrame(
        {"ticker": ["A"], "trade_date": [D2], "open": [50.0], "close": [51.0], "adj_close": [51.0]}
    )
    equity = engine.buy_and_hold(prices, [D1, D2], RISK)
    assert equity.tolist() == [100_000.0, 100_000.0]


def test_prediction_accuracy_on_a_tiny_example() -> None:
    # Labels are class indices: 0 SELL, 1 HOLD, 2 BUY.
    labels = pd.DataFrame(
        [
            ("A", D1, 2, True),
            ("A", D2, 2, True),
            ("B", D1, 0, True),
            ("B", D2, 1, True),
            ("B", D3, 2, False),  # its window has not closed: not scored
        ],
        columns=["ticker", "trade_date", "label", "label_complete"],
    )
    first = pd.DataFrame(
        [("A", D1, "BUY", 0.9), ("A", D2, "HOLD", 0.5), ("B", D1, "SELL", 0.6)],
        columns=["ticker", "trade_date", "signal", "confidence"],
    )
    second = pd.DataFrame(
        [("B", D2, "BUY", 0.6), ("B", D3, "BUY", 0.95), ("C", D1, "BUY", 0.8)],  # C has no label
        columns=["ticker", "trade_date", "signal", "confidence"],
    )
    score = engine.prediction_accuracy([first, second], labels, min_confidence=0.7)
    # Scored: A D1 BUY=BUY, A D2 HOLD!=BUY, B D1 SELL=SELL, B D2 BUY!=HOLD -> 2 of 4.
    # Truths BUY, BUY, SELL, HOLD: always-HOLD gets 1 of 4. BUY calls: A D1, B D2, B D3, C D1 = 4,
    # of which above 0.7: A D1 (0.9), B D3 (0.95), C D1 (0.8) = 3.
    assert score == {
        "oos_accuracy": 0.5,
        "n_predictions": 6,
        "n_scored": 4,
        "always_hold_accuracy": 0.25,
        "buy_calls": 4,
        "buy_calls_above_min_confidence": 3,
    }
    assert engine.prediction_accuracy([], labels, 0.7) == {
        "oos_accuracy": None,
        "n_predictions": 0,
        "always_hold_accuracy": None,
    }
    assert engine.prediction_accuracy([second.iloc[2:]], labels, 0.7) == {
        "oos_accuracy": None,
        "n_predictions": 1,
        "always_hold_accuracy": None,
    }
