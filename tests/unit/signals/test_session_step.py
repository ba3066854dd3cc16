"""`run_session` on hand-made market days: fills at the open, exits, marks, kill switch, invariants."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

from backend.core.calendar import next_trading_day, session_close, session_open, trading_days
from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings
from backend.portfolio.book import PaperBook
from backend.signals.exits import EXIT_REASONS, sessions_between
from backend.signals.market import MarketDay
from backend.signals.monitor import SessionReport, check_quotes, run_session
from backend.signals.schemas import SignalRecord

NAN = float("nan")
# No costs, so fills and P&L can be worked out by hand; COSTS is the product's $1 + 5 bps.
FREE = RiskSettings(starting_capital=100_000.0, commission_per_trade=0.0, slippage_bps=0.0, max_hold_days=7)
COSTS = RiskSettings(starting_capital=100_000.0, commission_per_trade=1.0, slippage_bps=5.0, max_hold_days=7)
SIGNAL_DAY = date(2024, 6, 28)  # a Friday: its after-close signal fills at Monday's open
D1, D2, D3, D4, D5 = trading_days(date(2024, 7, 1), date(2024, 7, 8))  # Jul 1, 2, 3, 5, 8 (Jul 4 closed)


def row(
    open_: float, high: float, low: float, close: float, atr: float = 0.02, sector: str = "Technology"
) -> dict[str, Any]:
    return {"open": open_, "high": high, "low": low, "close": close, "atr_pct": atr, "sector": sector}


def market(day: date, **rows: dict[str, Any]) -> MarketDay:
    return MarketDay(day, dict(rows))


def pending(
    ticker: str,
    signal_day: date,
    *,
    shares: int,
    entry: float = 50.0,
    stop_pct: float = 0.04,
    target_pct: float = 0.08,
    sector: str | None = "Technology",
) -> SignalRecord:
    """An approved entry as `generate_signals` leaves it: levels relative to the reference close."""
    return SignalRecord(
        ticker=ticker,
        trade_date=signal_day,
        signal="BUY",
        confidence=0.9,
        status="pending",
        entry_price=entry,
        generated_at=session_close(signal_day),
        expires_at=session_open(next_trading_day(signal_day)),
        stop_price=entry * (1 - stop_pct),
        target_price=entry * (1 + target_pct),
        stop_pct=stop_pct,
        target_pct=target_pct,
        shares=shares,
        sector=sector,
    )


def holding_aapl(settings: RiskSettings = FREE, **kwargs: Any) -> tuple[PaperBook, SignalRecord]:
    """A book holding 100 AAPL filled at D1's open of 50: stop 48 (4%), target 54 (8%)."""
    book = PaperBook.new(settings, starting_cash=kwargs.pop("starting_cash", None))
    record = pending("AAPL", SIGNAL_DAY, shares=100, **kwargs)
    book.pending["AAPL"] = record
    report = run_session(book, market(D1, AAPL=row(50.0, 50.5, 49.5, 50.0)))
    assert report.filled == [record] and report.closed == []
    return book, record


def test_a_pending_entry_fills_at_the_next_open_with_levels_re_anchored_on_it() -> None:
    book = PaperBook.new(FREE)
    record = pending("AAPL", SIGNAL_DAY, shares=100, entry=50.0)  # reference close 50: stop 48, target 54
    book.pending["AAPL"] = record
    report = run_session(book, market(D1, AAPL=row(51.0, 52.0, 50.0, 51.5)))

    holding = book.ledger.open_positions["AAPL"]
    # Filled at the open of 51: stop 51 x 0.96 = 48.96, target 51 x 1.08 = 55.08 (not 48 / 54).
    assert (holding.shares, holding.fill_price, holding.entry_date, holding.signal_date) == (
        100,
        51.0,
        D1,
        SIGNAL_DAY,
    )
    assert (holding.stop_price, holding.target_price) == pytest.approx((48.96, 55.08))
    assert (record.stop_price, record.target_price) == pytest.approx((48.96, 55.08))
    assert record.status == "active" and record.fill_price == 51.0 and record.shares == 100
    assert record.filled_at == session_open(D1)
    assert record.messages == []
    assert book.pending == {} and book.active == {"AAPL": record}
    assert book.touched[("AAPL", SIGNAL_DAY)] is record
    assert report.filled == [record] and report.expired == [] and report.closed == []
    # Cash 100,000 - 100 x 51 = 94,900; marked at the close 51.5: 94,900 + 5,150 = 100,050.
    assert report.snapshot is not None
    assert (report.snapshot.cash, report.snapshot.positions_value, report.snapshot.equity) == pytest.approx(
        (94_900.0, 5_150.0, 100_050.0)
    )
    assert book.last_session == D1 and book.peak_equity == pytest.approx(100_050.0)


def test_a_gap_up_cuts_the_shares_to_what_the_cash_buys_with_costs() -> None:
    book = PaperBook.new(COSTS, starting_cash=5_000.0)
    record = pending("AAPL", SIGNAL_DAY, shares=100, entry=48.0)  # sized off a 48 close
    book.pending["AAPL"] = record
    report = run_session(book, market(D1, AAPL=row(55.0, 56.0, 54.0, 55.5)))

    # Buy fill 55 x 1.0005 = 55.0275; (5,000 - 1) / 55.0275 = 90.85 -> 90 shares.
    # Cost 90 x 55.0275 + 1 = 4,953.475; cash 5,000 - 4,953.475 = 46.525.
    holding = book.ledger.open_positions["AAPL"]
    assert holding.shares == 90 and record.shares == 90
    assert holding.fill_price == pytest.approx(55.0275) and record.fill_price == pytest.approx(55.0275)
    assert holding.cost_basis == pytest.approx(4_953.475)
    assert book.ledger.cash == pytest.approx(46.525)
    assert (holding.stop_price, holding.target_price) == pytest.approx((52.8, 59.4))  # 55 x 0.96, 55 x 1.08
    assert record.messages == ["filled 90 of 100 shares: cash ran short at the open"]
    # Equity 46.525 + 90 x 55.5 = 5,041.525.
    assert report.snapshot is not None and report.snapshot.equity == pytest.approx(5_041.525)


def test_an_entry_the_cash_cannot_buy_one_share_of_expires() -> None:
    book = PaperBook.new(COSTS, starting_cash=50.0)
    record = pending("AAPL", SIGNAL_DAY, shares=10)
    book.pending["AAPL"] = record
    report = run_session(book, market(D1, AAPL=row(55.0, 56.0, 54.0, 55.5)))
    # (50 - 1) / 55.0275 < 1: not one share.
    assert record.status == "expired" and record.reasons == ["insufficient_cash"]
    assert report.expired == [record] and book.ledger.open_positions == {}
    assert book.ledger.cash == 50.0


@pytest.mark.parametrize(
    "rows",
    [
        {"MSFT": row(300.0, 301.0, 299.0, 300.5)},  # no AAPL bar at all
        {"AAPL": row(NAN, 52.0, 49.0, 51.0)},  # a NaN open
        {"AAPL": row(0.0, 52.0, 49.0, 51.0)},  # a zero open
        {"AAPL": row(51.0, 52.0, 49.0, NAN)},  # an incomplete bar
    ],
    ids=["no-bar", "nan-open", "zero-open", "nan-close"],
)
def test_an_entry_without_a_valid_open_expires_and_never_fills(rows: dict[str, dict[str, Any]]) -> None:
    book = PaperBook.new(FREE)
    record = pending("AAPL", SIGNAL_DAY, shares=100)
    book.pending["AAPL"] = record
    report = run_session(book, MarketDay(D1, rows))

    assert record.status == "expired"
    assert record.reasons == ["no_open_price"]
    assert record.fill_price is None and record.filled_at is None
    assert any("lapsed unfilled" in m for m in record.messages)
    assert report.expired == [record] and report.filled == []
    assert book.pending == {} and book.active == {} and book.ledger.open_positions == {}
    assert book.touched[("AAPL", SIGNAL_DAY)] is record
    assert book.ledger.cash == 100_000.0
    assert report.snapshot is not None and report.snapshot.equity == 100_000.0


@pytest.mark.parametrize(
    ("bar", "reason", "price", "at_open"),
    [
        # Gap down through the 48 stop: sold at the 47 open, not at 48.
        (row(47.0, 47.5, 46.0, 47.2), "stop_loss", 47.0, True),
        # The bar touches both 48 and 54: the stop wins, at the stop price.
        (row(50.0, 55.0, 47.0, 50.0), "stop_loss", 48.0, False),
        # Only the target is touched: sold at the target.
        (row(50.0, 55.0, 49.0, 52.0), "target", 54.0, False),
        # Gap up over the target: sold at the open.
        (row(56.0, 57.0, 55.5, 56.5), "target", 56.0, True),
    ],
    ids=["gap-through-stop", "both-levels", "target", "gap-over-target"],
)
def test_barrier_exits(bar: dict[str, Any], reason: str, price: float, at_open: bool) -> None:
    book, record = holding_aapl()
    report = run_session(book, market(D2, AAPL=bar))

    (trade,) = report.closed
    # 100 shares bought at 50 without costs: pnl = 100 x (price - 50).
    assert (trade.ticker, trade.exit_date, trade.exit_price, trade.trade.exit_reason) == (
        "AAPL",
        D2,
        price,
        reason,
    )
    assert trade.trade.pnl == pytest.approx(100 * (price - 50.0))
    assert record.status == "closed" and record.exit_reason == reason and record.exit_price == price
    assert record.pnl == pytest.approx(100 * (price - 50.0))
    assert record.closed_at == (session_open(D2) if at_open else session_close(D2))
    assert book.active == {} and book.ledger.open_positions == {}
    assert book.ledger.cash == pytest.approx(95_000.0 + 100 * price)
    assert report.snapshot is not None and report.snapshot.equity == pytest.approx(95_000.0 + 100 * price)


def test_a_quiet_bar_keeps_the_position() -> None:
    book, record = holding_aapl()
    report = run_session(book, market(D2, AAPL=row(50.0, 53.9, 48.1, 52.0)))
    assert report.closed == [] and record.status == "active"
    assert report.snapshot is not None and report.snapshot.equity == pytest.approx(
        100_200.0
    )  # 95,000 + 5,200


def test_an_exit_order_sells_at_the_open_and_waits_for_a_bar() -> None:
    book, record = holding_aapl()
    book.exit_orders["AAPL"] = "signal_flip"
    # No AAPL bar on D2: the order cannot fill and waits; the holding keeps its last mark of 50.
    halted = run_session(book, market(D2, MSFT=row(300.0, 301.0, 299.0, 300.0)))
    assert halted.closed == [] and book.exit_orders == {"AAPL": "signal_flip"}
    assert halted.snapshot is not None and halted.snapshot.equity == pytest.approx(100_000.0)

    report = run_session(book, market(D3, AAPL=row(51.0, 53.0, 50.5, 52.0)))
    (trade,) = report.closed
    # Sold at the 51 open (not the 52 close): pnl 100 x (51 - 50) = 100.
    assert (trade.trade.exit_reason, trade.exit_price, trade.exit_date) == ("signal_flip", 51.0, D3)
    assert trade.trade.pnl == pytest.approx(100.0)
    assert record.status == "closed" and record.exit_reason == "signal_flip"
    assert record.closed_at == session_open(D3)
    assert book.exit_orders == {} and book.active == {}
    assert book.ledger.cash == pytest.approx(100_100.0)


def test_an_exit_order_pays_slippage_and_commission() -> None:
    book, _ = holding_aapl(COSTS)
    book.exit_orders["AAPL"] = "signal_flip"
    report = run_session(book, market(D2, AAPL=row(51.0, 53.0, 50.5, 52.0)))
    (trade,) = report.closed
    # Cost 100 x 50.025 + 1 = 5,003.50; proceeds 100 x 51 x 0.9995 - 1 = 5,096.45; pnl 92.95.
    assert trade.exit_fill == pytest.approx(50.9745)
    assert trade.trade.pnl == pytest.approx(92.95)
    assert book.ledger.cash == pytest.approx(100_000.0 - 5_003.50 + 5_096.45)


@pytest.mark.parametrize(
    ("signal_day", "entry", "sixth", "seventh"),
    [
        (date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 11), date(2024, 7, 12)),  # across July 4
        (date(2024, 11, 25), date(2024, 11, 26), date(2024, 12, 4), date(2024, 12, 5)),  # Thanksgiving
    ],
    ids=["july-4", "thanksgiving"],
)
def test_time_decay_counts_nyse_sessions_across_a_holiday(
    signal_day: date, entry: date, sixth: date, seventh: date
) -> None:
    book = PaperBook.new(FREE)
    record = pending("AAPL", signal_day, shares=100)
    book.pending["AAPL"] = record
    days = trading_days(entry, seventh)
    # 7 sessions, but 8 weekdays: counting the holiday would close the position a session early.
    assert len(days) == FREE.max_hold_days
    assert np.busday_count(entry, seventh) + 1 == FREE.max_hold_days + 1
    quiet = row(50.0, 50.5, 49.5, 50.2)  # never near the 48 stop or the 54 target
    for day in days:
        report = run_session(book, market(day, AAPL=quiet))
        if day == sixth:
            assert report.closed == [] and "AAPL" in book.ledger.open_positions
            assert sessions_between(entry, day) == 6
    (trade,) = report.closed
    # At the close of the 7th session, at the close price.
    assert (trade.trade.exit_reason, trade.exit_date, trade.exit_price) == ("time_decay", seventh, 50.2)
    assert record.closed_at == session_close(seventh)
    assert book.ledger.cash == pytest.approx(100_020.0)  # 95,000 + 100 x 50.2


def test_a_missing_bar_carries_the_position_at_its_last_mark() -> None:
    book, _ = holding_aapl()
    first = run_session(book, market(D2, AAPL=row(50.5, 51.5, 50.0, 51.0)))
    # 95,000 cash + 100 x 51 = 100,100.
    assert first.snapshot is not None and first.snapshot.equity == pytest.approx(100_100.0)
    for day, rows in [
        (D3, {"MSFT": row(300.0, 301.0, 299.0, 300.0)}),  # no AAPL row
        (D4, {"AAPL": row(NAN, NAN, NAN, NAN)}),  # an all-NaN row
    ]:
        report = run_session(book, MarketDay(day, rows))
        assert report.closed == [] and report.snapshot is not None
        assert (report.snapshot.equity, report.snapshot.positions_value, report.snapshot.n_positions) == (
            pytest.approx(100_100.0),
            pytest.approx(5_100.0),
            1,
        )
    assert book.ledger.open_positions["AAPL"].highest_close == 51.0
    back = run_session(book, market(D5, AAPL=row(51.5, 52.5, 51.0, 52.0)))
    assert back.snapshot is not None and back.snapshot.equity == pytest.approx(100_200.0)  # 95,000 + 5,200
    assert [s.trade_date for s in book.ledger.snapshots] == [D1, D2, D3, D4, D5]


def test_the_kill_switch_latches_past_the_drawdown_limit_and_a_reset_rebases_the_peak() -> None:
    settings = FREE.model_copy(update={"max_drawdown_pct": 0.15})
    # 100 shares at 50 with a far stop (25) and target (100), so only the marks move.
    book, _ = holding_aapl(settings, starting_cash=10_000.0, stop_pct=0.5, target_pct=1.0)
    assert book.peak_equity == pytest.approx(10_000.0)

    # Close 35: equity 5,000 + 3,500 = 8,500, exactly 15% down: at the limit is not past it.
    at_limit = run_session(book, market(D2, AAPL=row(40.0, 40.5, 34.5, 35.0)))
    assert not at_limit.halted and not book.kill_switch
    # Close 34: equity 8,400, 16% down: latched.
    past = run_session(book, market(D3, AAPL=row(34.5, 35.0, 33.5, 34.0)))
    assert past.halted and book.kill_switch
    assert book.kill_switch_reason is not None and "drawdown 16.0%" in book.kill_switch_reason
    assert book.drawdown == pytest.approx(0.16)
    # A recovery to 8,600 (14% down) does not clear it: it is latched, and halted reports only the latch.
    recovered = run_session(book, market(D4, AAPL=row(35.5, 36.5, 35.0, 36.0)))
    assert not recovered.halted and book.kill_switch
    assert book.peak_equity == pytest.approx(10_000.0)
    assert book.state(D4).kill_switch

    book.set_kill_switch(False)
    assert not book.kill_switch and book.kill_switch_reason is None
    assert book.peak_equity == pytest.approx(8_600.0) and book.drawdown == 0.0
    # Close 35: 8,500 is 1 - 8,500 / 8,600 = 1.2% below the new peak: no latch.
    after = run_session(book, market(D5, AAPL=row(35.5, 36.0, 34.8, 35.0)))
    assert not after.halted and not book.kill_switch
    assert book.drawdown == pytest.approx(1 - 8_500 / 8_600)

    book.set_kill_switch(True, "going on holiday")
    assert book.kill_switch and book.kill_switch_reason == "going on holiday"


def test_sessions_must_come_in_order_each_once() -> None:
    book = PaperBook.new(FREE)
    run_session(book, market(D2))
    with pytest.raises(ValidationFailed, match="is not after 2024-07-02"):
        run_session(book, market(D1))
    with pytest.raises(ValidationFailed, match="is not after 2024-07-02"):
        run_session(book, market(D2))
    assert book.last_session == D2 and [s.trade_date for s in book.ledger.snapshots] == [D2]
    run_session(book, market(D3))
    assert book.last_session == D3


def _random_day(
    rng: np.random.Generator, day: date, tickers: list[str], closes: dict[str, float]
) -> MarketDay:
    """One session of a random walk; now and then a ticker has no bar or a NaN open (a halt)."""
    rows: dict[str, dict[str, Any]] = {}
    for i, ticker in enumerate(tickers):
        draw = rng.random()
        open_ = closes[ticker] * math.exp(rng.normal(0, 0.02))
        close = open_ * math.exp(rng.normal(0, 0.025))
        high = max(open_, close) * (1 + abs(rng.normal(0, 0.012)))
        low = min(open_, close) * (1 - abs(rng.normal(0, 0.012)))
        if draw < 0.04:
            continue
        if draw < 0.07:
            open_ = NAN
        else:
            closes[ticker] = close
        rows[ticker] = row(open_, high, low, close, sector=f"S{i % 3}")
    return MarketDay(day, rows)


def test_books_balance_after_every_session_of_a_random_run() -> None:
    """cash + positions == equity, cash >= 0, and cash moves only by fills and exits, every session."""
    rng = np.random.default_rng(20240603)
    settings = RiskSettings(
        starting_capital=60_000.0, commission_per_trade=1.0, slippage_bps=5.0, max_hold_days=7
    )
    book = PaperBook.new(settings)
    tickers = [f"T{i}" for i in range(6)]
    closes = {t: float(rng.uniform(20, 200)) for t in tickers}
    days = trading_days(date(2024, 6, 3), date(2024, 8, 9))  # ten weeks with July 4 inside
    fills = expiries = 0
    reasons: set[str] = set()
    for day in days:
        today = _random_day(rng, day, tickers, closes)
        cash_before = book.ledger.cash
        report: SessionReport = run_session(book, today)
        snap = report.snapshot
        assert snap is not None and snap.trade_date == day
        assert snap.cash + snap.positions_value == pytest.approx(snap.equity, abs=1e-9)
        assert snap.cash >= 0
        assert snap.equity == pytest.approx(book.ledger.equity, abs=1e-9)
        held = book.ledger.open_positions
        assert snap.positions_value == pytest.approx(sum(h.shares * h.price for h in held.values()), abs=1e-9)
        # Cash changes by the fills' costs and the exits' proceeds, nothing else.
        spent = sum(r.shares * r.fill_price + 1.0 for r in report.filled if r.fill_price is not None)
        received = sum(t.proceeds for t in report.closed)
        assert book.ledger.cash == pytest.approx(cash_before - spent + received, abs=1e-6)
        # The equity identity: start + realized + unrealized.
        assert snap.equity == pytest.approx(
            60_000.0 + book.ledger.realized_pnl + book.ledger.unrealized_pnl(), abs=1e-6
        )
        assert set(book.active) == set(held) and book.pending == {}
        for record in report.filled:
            assert record.fill_price == pytest.approx(today.rows[record.ticker]["open"] * 1.0005)
            # Re-anchored on the open (the fresh holding may already have exited on its entry bar).
            assert record.stop_pct is not None and record.stop_price is not None
            assert record.stop_price == pytest.approx(
                today.rows[record.ticker]["open"] * (1 - record.stop_pct)
            )
        for trade in report.closed:
            assert sessions_between(trade.entry_date, day) <= settings.max_hold_days
            reasons.add(trade.trade.exit_reason)
        fills += len(report.filled)
        expiries += len(report.expired)

        # After the close: random entries (some larger than the cash can buy) and exit orders.
        for ticker in tickers:
            close = today.value(ticker, "close")
            if ticker in held:
                if rng.random() < 0.12:
                    book.exit_orders[ticker] = "signal_flip"
            elif close is not None and rng.random() < 0.35:
                stop_pct = float(rng.uniform(0.02, 0.05))
                book.pending[ticker] = pending(
                    ticker,
                    day,
                    shares=int(rng.integers(20, 600)),
                    entry=close,
                    stop_pct=stop_pct,
                    target_pct=2 * stop_pct,
                )
        book.last_signal_date = day

    closed = book.ledger.trade_records
    assert fills > 15 and len(closed) > 10 and expiries > 0, (fills, len(closed), expiries)
    assert reasons <= set(EXIT_REASONS) and len(reasons) >= 3, reasons
    assert any("cash ran short" in m for r in book.touched.values() for m in r.messages)


def test_a_time_decay_exit_on_a_bar_closing_at_its_open_is_stamped_at_the_close() -> None:
    # Regression: the exit time was chosen by comparing the price with the open, not by the reason.
    settings = FREE.model_copy(update={"max_hold_days": 2})
    book, record = holding_aapl(settings)
    report = run_session(book, market(D2, AAPL=row(50.0, 50.5, 49.5, 50.0)))
    assert [t.trade.exit_reason for t in report.closed] == ["time_decay"]
    assert record.closed_at == session_close(D2)


def test_cash_a_hair_above_a_share_boundary_fills_instead_of_failing_half_way() -> None:
    # Regression: the float-tolerant floor could pick a share count costing a fraction of a cent more than
    # the cash; Ledger.open then refused it in the middle of the session. 1736 shares at 68.05 with 5 bps
    # and $1 commission cost 1736 * 68.05 * 1.0005 + 1 = 118,194.8674 - just above this cash.
    book = PaperBook.new(COSTS, starting_cash=118194.86739999898)
    book.pending["AAPL"] = pending("AAPL", SIGNAL_DAY, shares=5_000, entry=68.0)
    report = run_session(book, market(D1, AAPL=row(68.05, 69.0, 67.5, 68.5)))
    assert [r.shares for r in report.filled] == [1735]
    assert book.ledger.cash >= 0 and book.last_session == D1


def test_quotes_in_market_hours_close_at_the_quote_only_past_a_level() -> None:
    book, record = holding_aapl()  # 100 AAPL, stop 48, target 54, processed through D1
    noon = datetime(2024, 7, 2, 16, 0, tzinfo=UTC)
    quiet = check_quotes(book, D2, {"AAPL": 50.0}, noon)
    assert quiet.intraday and quiet.closed == []
    assert check_quotes(book, D2, {"AAPL": float("nan")}, noon).closed == []  # never at a NaN
    hit = check_quotes(book, D2, {"AAPL": 54.2}, noon)
    assert [(t.trade.exit_reason, t.exit_price) for t in hit.closed] == [("target", 54.2)]
    assert (record.status, record.closed_at) == ("closed", noon)
    assert book.ledger.open_positions == {} and book.last_session == D1  # the session is still to come

    stopped, _ = holding_aapl()
    low = check_quotes(stopped, D2, {"AAPL": 47.5}, noon)
    assert [(t.trade.exit_reason, t.exit_price) for t in low.closed] == [("stop_loss", 47.5)]
    with pytest.raises(ValidationFailed, match="already processed"):
        check_quotes(stopped, D1, {"AAPL": 47.5}, noon)


def test_a_2_for_1_split_doubles_the_shares_and_halves_the_levels_without_an_exit() -> None:
    book, _ = holding_aapl()  # 100 AAPL filled at 50: stop 48, target 54, marked at 50
    equity_before = book.ledger.equity
    split_bar = {**row(25.1, 25.5, 24.8, 25.2), "split_ratio": 2.0}
    report = run_session(book, market(D2, AAPL=split_bar))
    assert report.closed == []  # as traded the open (25.1) is far below the old stop of 48: not an exit
    held = book.ledger.open_positions["AAPL"]
    assert (held.shares, held.stop_price, held.target_price) == (200, 24.0, 27.0)
    assert held.cost_basis == 5_000.0
    # 200 x 25.2 = 5,040 against 100 x 50 = 5,000 before: the 0.8% move, not a 50% crash.
    assert book.ledger.equity - equity_before == pytest.approx(40.0)


def test_a_3_for_2_split_pays_the_fractional_share_in_cash() -> None:
    book, _ = holding_aapl()  # 100 AAPL marked at 50
    book.ledger.apply_split("AAPL", 1.5, D2)  # 100 x 1.5 = 150 shares exactly: nothing in lieu
    assert book.ledger.open_positions["AAPL"].shares == 150
    odd, _ = holding_aapl()
    cash = odd.ledger.cash
    odd.ledger._holdings["AAPL"] = replace(odd.ledger._holdings["AAPL"], shares=101)
    paid = odd.ledger.apply_split("AAPL", 1.5, D2)
    # 101 x 1.5 = 151.5: 151 shares, and half a share at 50 / 1.5 = 33.33 is paid: 16.67 in cash.
    assert odd.ledger.open_positions["AAPL"].shares == 151
    assert paid == pytest.approx(50 / 1.5 / 2) and odd.ledger.cash == pytest.approx(cash + paid)


def test_a_halted_portfolio_lets_no_pending_entry_fill() -> None:
    book = PaperBook.new(FREE)
    book.pending["AAPL"] = pending("AAPL", SIGNAL_DAY, shares=10)
    book.set_kill_switch(True, "by hand after the close")
    report = run_session(book, market(D1, AAPL=row(50.0, 50.5, 49.5, 50.0)))
    assert report.filled == [] and [r.reasons for r in report.expired] == [["kill_switch"]]
    assert book.ledger.open_positions == {}


def test_exit_orders_sell_before_entries_fill_and_the_most_confident_entry_fills_first() -> None:
    # Cash 1,000 and 100 AAPL held with an exit order: selling at the open (50) brings 5,000, which is
    # what lets the 100-share MSFT entry (5,000) fill; the less confident IBM entry finds 1,000 left.
    book, _ = holding_aapl(starting_cash=6_000.0)  # 6,000 - 100 x 50 = 1,000 cash
    book.exit_orders["AAPL"] = "signal_flip"
    book.pending["MSFT"] = replace(pending("MSFT", D1, shares=100), confidence=0.95)
    book.pending["IBM"] = replace(pending("IBM", D1, shares=100), confidence=0.80)
    bars = {
        "AAPL": row(50.0, 51.0, 49.0, 50.0),
        "MSFT": row(50.0, 51.0, 49.0, 50.0),
        "IBM": row(50.0, 51.0, 49.0, 50.0),
    }
    report = run_session(book, market(D2, **bars))
    assert [t.ticker for t in report.closed] == ["AAPL"]
    assert [(r.ticker, r.shares) for r in report.filled] == [("MSFT", 100), ("IBM", 20)]  # 1,000 / 50
