"""The position monitor: one session of a paper book, in the order the market runs it.

1. At the open, pending entries fill: approved after the previous close, bought at this open (plus
   slippage and commission). Stop and target are re-anchored on the open with the percentages the risk
   manager chose, so the trade has exactly the risk it was sized for; the share count is cut to what the
   cash buys if the open gapped up, and an entry without an open price (a halt, a data gap) expires.
2. Through the session, every holding (the fresh ones too) is checked by `exits.check_exit` on the day's
   bar; exit orders from the previous close sell at the open.
3. At the close, holdings are marked (a missing price keeps the last mark), the equity snapshot is taken,
   the high-water mark moves and the drawdown kill switch latches if the limit is passed.

The live paper portfolio and the backtest both call `run_session`, one session at a time, in order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from backend.core.calendar import session_close, session_open
from backend.core.errors import ValidationFailed
from backend.portfolio.book import PaperBook
from backend.portfolio.ledger import EquitySnapshot, TradeRecord
from backend.risk.sizing import affordable_shares, whole_shares
from backend.signals.exits import check_exit, effective_stop, sessions_between
from backend.signals.market import MarketDay
from backend.signals.schemas import SignalRecord

log = logging.getLogger(__name__)


@dataclass
class SessionReport:
    trade_date: date
    filled: list[SignalRecord] = field(default_factory=list)
    expired: list[SignalRecord] = field(default_factory=list)
    closed: list[TradeRecord] = field(default_factory=list)
    snapshot: EquitySnapshot | None = None
    halted: bool = False  # the kill switch latched at this close
    intraday: bool = False  # a quotes pass during the session (exits only, no snapshot)


def run_session(book: PaperBook, market: MarketDay) -> SessionReport:
    """Fill, exit and mark one session; sessions must come in order, each exactly once."""
    day = market.trade_date
    if book.last_session is not None and day <= book.last_session:
        raise ValidationFailed(
            f"session {day.isoformat()} is not after {book.last_session.isoformat()}, "
            "the latest session this portfolio has processed"
        )
    report = SessionReport(day)
    was_halted = book.kill_switch
    _apply_splits(book, market)
    # The open's exit orders first: their proceeds are cash the open's entries may use.
    _check_exits(book, market, report, only=set(book.exit_orders))
    _fill_pending(book, market, report)
    _check_exits(book, market, report)
    closes = {t: market.value(t, "close") for t in book.ledger.open_positions}
    report.snapshot = book.ledger.mark({t: c for t, c in closes.items() if c is not None}, day)
    book.update_peak_and_halt()
    report.halted = book.kill_switch and not was_halted
    if report.halted:
        log.warning("kill switch latched on %s: %s", day, book.kill_switch_reason)
    book.last_session = day
    return report


def _apply_splits(book: PaperBook, market: MarketDay) -> None:
    """A split effective today rescales holdings (shares up, levels down) and pending share counts."""
    for ticker in [*book.ledger.open_positions, *book.pending]:
        ratio = market.value(ticker, "split_ratio")
        if ratio is None or ratio == 1.0:
            continue
        if ticker in book.pending:
            record = book.pending[ticker]
            record.shares = whole_shares(record.shares * ratio)
            record.messages.append(f"{ratio:g}-for-1 split before the fill: shares rescaled")
        else:
            book.ledger.apply_split(ticker, ratio, market.trade_date)
            log.info("%s: %g-for-1 split on %s applied to the holding", ticker, ratio, market.trade_date)


def _fill_pending(book: PaperBook, market: MarketDay, report: SessionReport) -> None:
    settings = book.settings
    day = market.trade_date
    # Most confident first: if a gap-up leaves the cash short, the strongest call is the one that fills.
    for ticker, record in sorted(book.pending.items(), key=lambda item: (-item[1].confidence, item[0])):
        del book.pending[ticker]
        book.touch(record)
        if book.kill_switch:
            _expire(record, "kill_switch", f"the kill switch is on ({book.kill_switch_reason})")
            report.expired.append(record)
            continue
        bar = market.bar(ticker)
        if bar is None or not bar.complete:
            _expire(record, "no_open_price", f"no valid price for {ticker} on {day.isoformat()}")
            report.expired.append(record)
            continue
        shares = min(record.shares, affordable_shares(book.ledger.cash, bar.open, settings))
        if shares <= 0:
            cash = book.ledger.cash
            _expire(record, "insufficient_cash", f"cash {cash:,.2f} buys no share at {bar.open:,.2f}")
            report.expired.append(record)
            continue
        assert record.stop_pct is not None and record.target_pct is not None
        stop, target = bar.open * (1.0 - record.stop_pct), bar.open * (1.0 + record.target_pct)
        holding = book.ledger.open(
            ticker, shares, bar.open, day, stop, target, sector=record.sector, signal_date=record.trade_date
        )
        if shares < record.shares:
            record.messages.append(f"filled {shares} of {record.shares} shares: cash ran short at the open")
        record.status = "active"
        record.shares = shares
        record.fill_price = holding.fill_price
        record.filled_at = session_open(day)
        record.stop_price, record.target_price = stop, target
        book.active[ticker] = record
        report.filled.append(record)


def _check_exits(
    book: PaperBook, market: MarketDay, report: SessionReport, only: set[str] | None = None
) -> None:
    settings = book.settings
    day = market.trade_date
    for ticker, holding in sorted(book.ledger.open_positions.items()):
        if only is not None and ticker not in only:
            continue
        bar = market.bar(ticker)
        if bar is None:
            continue  # halted or missing: carried at its last mark, orders wait for a price
        decision = check_exit(
            holding.to_open_position(),
            bar,
            sessions_held=sessions_between(holding.entry_date, day),
            sell_signal=ticker in book.exit_orders,
            risk=settings,
            trailing_stop_pct=settings.trailing_stop_pct,
        )
        if decision is None:
            continue
        # Exit orders and gaps fill at the open; stops, targets and time decay during or at the close.
        at_open = decision.reason == "signal_flip" or (
            decision.reason != "time_decay" and decision.price == bar.open
        )
        when = session_open(day) if at_open else session_close(day)
        report.closed.append(_close(book, ticker, decision.price, day, decision.reason, when))


def check_quotes(book: PaperBook, day: date, quotes: Mapping[str, float], now: datetime) -> SessionReport:
    """An intraday pass: a holding whose latest price is at or through its stop (or trailing stop) or its
    target closes at that price. Only barriers are checked here; fills at the open, exit orders, time
    decay and the close's mark belong to `run_session` once the day's bar is stored."""
    if book.last_session is not None and day <= book.last_session:
        raise ValidationFailed(f"session {day.isoformat()} is already processed; quotes are for a later one")
    report = SessionReport(day, intraday=True)
    for ticker, holding in sorted(book.ledger.open_positions.items()):
        if ticker in book.exit_orders:
            continue  # already sold at today's open; the session step books it with the day's bar
        price = quotes.get(ticker)
        if price is None or not (math.isfinite(price) and price > 0):
            continue
        stop, stop_reason = effective_stop(holding.to_open_position(), book.settings.trailing_stop_pct)
        if price <= stop:
            report.closed.append(_close(book, ticker, price, day, stop_reason, now))
        elif price >= holding.target_price:
            report.closed.append(_close(book, ticker, price, day, "target", now))
    return report


def _close(book: PaperBook, ticker: str, price: float, day: date, reason: str, when: datetime) -> TradeRecord:
    """Sell a holding in the ledger and close the signal it came from."""
    book.ledger.close(ticker, price, day, reason)
    trade = book.ledger.trade_records[-1]
    book.exit_orders.pop(ticker, None)
    record = book.active.pop(ticker, None)
    if record is not None:
        book.touch(record)
        record.status = "closed"
        record.closed_at = when
        record.exit_price = price
        record.exit_reason = reason
        record.pnl = trade.trade.pnl
        record.return_pct = trade.trade.return_pct
    return trade


def _expire(record: SignalRecord, code: str, message: str) -> None:
    record.status = "expired"
    record.reasons.append(code)
    record.messages.append(f"{message}: the entry lapsed unfilled")
