"""Yahoo's bars around real splits, in the exact shape yfinance returns (tests/fakes/yahoo.py).

The bug this pins down: with `auto_adjust=False` Yahoo's Open/High/Low/Close/Volume are already
split-adjusted, and only `Adj Close` adds dividends. Stored as they came, a held stock's 4:1 split looked
like a 75% crash to the paper book (a -74.5% stop-loss and the kill switch), because the split was looked
for in jumps of adj_close / close, which never move on a split in Yahoo's data.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from backend.core.calendar import ET, UTC, session_close, session_open
from backend.core.settings import MarketSettings, RiskSettings
from backend.market.splits import ratio_on_date
from backend.market.yahoo import YahooProvider
from backend.portfolio.book import PaperBook
from backend.signals.market import market_days, market_frame
from backend.signals.monitor import run_session
from backend.signals.schemas import SignalRecord
from tests.fakes.yahoo import recorded_bars, recorded_download

AAPL_SPLIT, NVDA_SPLIT = date(2020, 8, 31), date(2024, 6, 10)


def provider(download, now: datetime) -> YahooProvider:
    return YahooProvider(download=download, settings=MarketSettings(), sleep=lambda s: None, now=lambda: now)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ET).astimezone(UTC)


def fetch(tickers, start, end=None, *, now=at(date(2026, 11, 27), 20), tz=None, frames=None):
    frames = frames or {t: recorded_bars(t) for t in tickers}
    return provider(recorded_download(frames, tz=tz), now).fetch(tickers, start, end)


def bar(batch, ticker: str, day: date) -> pd.Series:
    rows = batch.bars[(batch.bars["ticker"] == ticker) & (batch.bars["trade_date"] == day)]
    assert len(rows) == 1, f"no {ticker} bar on {day}"
    return rows.iloc[0]


def test_bars_are_stored_as_traded_and_the_splits_come_back_as_events() -> None:
    batch = fetch(["AAPL", "NVDA"], date(2020, 8, 24))
    # Yahoo served 124.8075 for AAPL's last pre-split close (499.23 / 4) and 187,630,000 shares.
    last_before = bar(batch, "AAPL", date(2020, 8, 28))
    assert last_before["close"] == pytest.approx(499.23)
    assert last_before["open"] == pytest.approx(504.05) and last_before["low"] == pytest.approx(498.31)
    assert last_before["volume"] == 46_907_500
    assert last_before["adj_close"] == pytest.approx(124.8075 * 0.9693)  # Yahoo's, on today's scale
    assert bar(batch, "AAPL", AAPL_SPLIT)["close"] == pytest.approx(129.04)
    assert bar(batch, "NVDA", date(2024, 6, 7))["close"] == pytest.approx(1208.88)
    assert bar(batch, "NVDA", date(2024, 6, 7))["volume"] == 41_238_500
    assert bar(batch, "NVDA", NVDA_SPLIT)["close"] == pytest.approx(121.79)
    events = sorted(batch.splits[["ticker", "ex_date", "ratio"]].itertuples(index=False, name=None))
    assert events == [("AAPL", AAPL_SPLIT, 4.0), ("NVDA", NVDA_SPLIT, 10.0)]
    assert batch.dividends[["ticker", "ex_date", "amount"]].values.tolist() == [
        ["NVDA", date(2024, 6, 11), 0.01]
    ]
    # The multi-ticker frame unions the dates: AAPL has no NaN rows of NVDA's 2024 sessions.
    assert batch.bars.groupby("ticker").size().to_dict() == {"AAPL": 10, "NVDA": 10}


def test_a_new_york_time_index_gives_the_same_sessions() -> None:
    naive = fetch(["NVDA"], date(2024, 6, 3))
    aware = fetch(["NVDA"], date(2024, 6, 3), tz="America/New_York")
    pd.testing.assert_frame_equal(naive.bars, aware.bars)


def test_a_window_ending_before_the_split_is_still_un_adjusted() -> None:
    batch = fetch(["AAPL"], date(2020, 8, 24), end=date(2020, 8, 27))
    assert batch.bars["trade_date"].max() == date(2020, 8, 27)
    assert bar(batch, "AAPL", date(2020, 8, 27))["close"] == pytest.approx(500.04)
    assert batch.splits["ex_date"].tolist() == [AAPL_SPLIT]


@pytest.mark.parametrize(
    ("now", "last"),
    [
        (at(date(2020, 9, 4), 15, 59), date(2020, 9, 3)),  # trading: today's bar is unfinished
        (at(date(2020, 9, 4), 16, 20), date(2020, 9, 3)),  # closed, not yet settled (30 minutes)
        (at(date(2020, 9, 4), 16, 30), date(2020, 9, 4)),
        (at(date(2020, 9, 6), 12, 0), date(2020, 9, 4)),  # a Sunday
    ],
)
def test_an_unfinished_session_is_never_returned(now: datetime, last: date) -> None:
    batch = fetch(["AAPL"], date(2020, 8, 24), now=now)
    assert batch.bars["trade_date"].max() == last


def yahoo_before_the_split(ticker: str, split_day: date, ratio: float) -> pd.DataFrame:
    """What Yahoo served before the split was known: the same bars, as traded, no split action."""
    frame = recorded_bars(ticker)
    frame = frame[frame.index < pd.Timestamp(split_day)].copy()
    for column in ("Open", "High", "Low", "Close", "Adj Close"):
        frame[column] = frame[column] * ratio
    frame["Volume"] = (frame["Volume"] / ratio).round().astype("int64")
    return frame


def test_a_held_stock_splitting_4_for_1_is_rescaled_not_stopped_out() -> None:
    risk = RiskSettings(starting_capital=100_000.0, commission_per_trade=0.0, slippage_bps=0.0)
    book = PaperBook.new(risk)
    signal_day = date(2020, 8, 26)
    book.pending["AAPL"] = SignalRecord(
        ticker="AAPL",
        trade_date=signal_day,
        signal="BUY",
        confidence=0.9,
        status="pending",
        entry_price=506.09,
        generated_at=session_close(signal_day),
        expires_at=session_open(date(2020, 8, 27)),
        stop_price=506.09 * 0.95,
        target_price=506.09 * 1.10,
        stop_pct=0.05,
        target_pct=0.10,
        shares=20,
        sector="Information Technology",
    )
    # The evening of 2020-08-28: Yahoo has no split yet. The book buys at the 08-27 open.
    first = fetch(
        ["AAPL"],
        date(2020, 8, 24),
        now=at(date(2020, 8, 28), 18),
        frames={"AAPL": yahoo_before_the_split("AAPL", AAPL_SPLIT, 4.0)},
    )
    # A week later Yahoo has re-based the whole history to the split and reports it as an action.
    second = fetch(["AAPL"], date(2020, 8, 24), now=at(date(2020, 9, 4), 18))

    def days(batch):
        prices = batch.bars.assign(rsi_14=50.0, macd=0.0)
        prices["split_ratio"] = ratio_on_date(prices, batch.splits).to_numpy()
        features = prices[["ticker", "trade_date"]].assign(atr_pct=0.02, market_above_sma200=1.0)
        frame = market_frame(prices, features, pd.DataFrame(), {"AAPL": "Information Technology"})
        return market_days(frame, date(2020, 8, 27), date(2020, 9, 4))

    before, after = days(first), days(second)
    for day in (date(2020, 8, 27), date(2020, 8, 28)):
        assert run_session(book, before[day]).closed == []
    held = book.ledger.open_positions["AAPL"]
    assert (held.shares, held.fill_price) == (20, pytest.approx(508.57))
    assert held.stop_price == pytest.approx(508.57 * 0.95)

    report = run_session(book, after[AAPL_SPLIT])
    assert report.closed == [] and not report.halted
    held = book.ledger.open_positions["AAPL"]
    assert held.shares == 80
    assert held.stop_price == pytest.approx(508.57 * 0.95 / 4)
    assert held.target_price == pytest.approx(508.57 * 1.10 / 4)
    # Marked at 80 x 129.04 = 10,323.20 against 20 x 508.57 = 10,171.40 paid: up 1.5%, not down 75%.
    assert report.snapshot is not None
    assert report.snapshot.positions_value == pytest.approx(80 * 129.04)
    assert book.ledger.equity == pytest.approx(100_000 + 80 * 129.04 - 20 * 508.57)

    # The rescaled stop (508.57 x 0.95 / 4 = 120.79) is live: AAPL's fall to a 120.50 low on 2020-09-03
    # stops it out at -5%, the risk the trade was sized for.
    for day in (date(2020, 9, 1), date(2020, 9, 2)):
        assert run_session(book, after[day]).closed == []
    stopped = run_session(book, after[date(2020, 9, 3)]).closed
    assert [(t.ticker, t.trade.exit_reason) for t in stopped] == [("AAPL", "stop_loss")]
    assert stopped[0].trade.return_pct == pytest.approx(-0.05, abs=1e-9)
