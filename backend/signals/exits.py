"""When an open position exits, and at what price: the rules both the paper portfolio and the backtest use.

They follow the training labels (`backend.features.labels`) so the model is judged on the trades it learned:

- the stop and the target are resting orders; a bar whose open is already beyond one fills at that open
  (a gap down through the stop sells at the open, not at the stop; an open above the target sells at the
  open);
- a bar whose range touches both levels counts as the stop, at the stop price: the intraday order is
  unknown, so the conservative outcome is assumed;
- otherwise the stop or the target fills at its own price;
- an exit order from the previous session's close (a SELL prediction on the held ticker, or bearish
  Reddit sentiment) sells at this bar's open ("signal_flip"), unless the open already gapped through a
  level, which then reports that level's reason;
- with no barrier hit, a position in its `max_hold_days`-th session exits at the close ("time_decay").

A bar that opens at or above the target and later trades down to the stop is a target exit: the open is
the first print, so the order of events is known. The labels (`features.labels`) follow the same rule.

`sessions_held` counts NYSE sessions from the entry day (1) to the bar's day, both included
(`sessions_between`). With `max_hold_days = 7` the time exit fires at the close of the 7th session, e.g.
entered Monday -> closed at the close of the next Tuesday without a holiday; exactly the labels' exit at
the close of t + 7 for a signal at t and entry at t + 1. If that bar is missing (a halt), the exit happens
at the close of the first later bar with prices.

A bar with a missing, NaN or non-positive price never exits and never fills: the position is carried to
the next bar with prices, and the caller values it at its last known price meanwhile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

from backend.core.calendar import trading_days
from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings

# A holding as the exit rules see it, and the exit reasons, live with the portfolio's positions (the ledger
# books them); re-exported here for the exit rules' callers.
from backend.portfolio.positions import EXIT_REASONS, STOP_EXIT_REASONS, ExitReason, OpenPosition

__all__ = [
    "EXIT_REASONS",
    "STOP_EXIT_REASONS",
    "Bar",
    "Exit",
    "ExitReason",
    "OpenPosition",
    "check_exit",
    "effective_stop",
    "sessions_between",
]


@dataclass(frozen=True, slots=True)
class Bar:
    """One session's prices for a ticker; any of them may be NaN when the data is missing."""

    trade_date: date
    open: float
    high: float
    low: float
    close: float

    @property
    def complete(self) -> bool:
        """True when all four prices are finite and positive, i.e. the bar can trigger and fill an exit."""
        return all(math.isfinite(p) and p > 0 for p in (self.open, self.high, self.low, self.close))


@dataclass(frozen=True, slots=True)
class Exit:
    """An exit decision: why, the price it fills at (before slippage and commission), and on which day."""

    reason: ExitReason
    price: float
    trade_date: date


def sessions_between(entry_date: date, day: date) -> int:
    """NYSE sessions from `entry_date` to `day`, both included: 1 on the entry day itself.

    Holidays and weekends do not count, so a position entered on Wednesday 2024-07-03 is in its 2nd session
    on Friday 2024-07-05 (July 4 is closed).
    """
    if day < entry_date:
        raise ValidationFailed(f"day {day.isoformat()} is before the entry date {entry_date.isoformat()}")
    return len(trading_days(entry_date, day))


def trailing_stop_level(position: OpenPosition, trailing_stop_pct: float | None) -> float | None:
    """highest_close x (1 - trailing_stop_pct), or None without a trailing stop or a close to trail."""
    if trailing_stop_pct is None or position.highest_close is None:
        return None
    _check_trailing_pct(trailing_stop_pct)
    return position.highest_close * (1.0 - trailing_stop_pct)


def effective_stop(
    position: OpenPosition, trailing_stop_pct: float | None = None
) -> tuple[float, ExitReason]:
    """The stop in force and the reason it would report: the trailing level only once it is above the stop.

    Taking the max with the initial stop, and `highest_close` only ever rising, is what makes the stop
    ratchet: it is raised by new highs and never lowered.
    """
    trailing = trailing_stop_level(position, trailing_stop_pct)
    if trailing is not None and trailing > position.stop_price:
        return trailing, "trailing_stop"
    return position.stop_price, "stop_loss"


def record_close(position: OpenPosition, bar: Bar) -> OpenPosition:
    """The position after `bar`'s close: `highest_close` raised to that close (a missing close is skipped)."""
    close = bar.close
    if not (math.isfinite(close) and close > 0):
        return position
    if position.highest_close is not None and position.highest_close >= close:
        return position
    return replace(position, highest_close=close)


def check_exit(
    position: OpenPosition,
    bar: Bar,
    *,
    sessions_held: int,
    sell_signal: bool = False,
    bearish_sentiment: bool = False,
    risk: RiskSettings,
    trailing_stop_pct: float | None = None,
) -> Exit | None:
    """The exit `bar` triggers for `position`, or None to carry it (see the module docstring for the rules).

    Args:
        position: the held position; its levels are absolute prices.
        bar: the session being replayed; its date must not precede the entry.
        sessions_held: sessions since entry counting the entry day as 1 (`sessions_between`).
        sell_signal, bearish_sentiment: decided at the previous session's close (the after-close signal
            run), so either one sells at this bar's open.
        risk: supplies `max_hold_days`.
        trailing_stop_pct: e.g. 0.05 trails the stop 5% under the highest close; None disables it.
    """
    if sessions_held < 1:
        raise ValidationFailed(
            f"{position.ticker}: sessions_held must be >= 1 (1 = entry day), got {sessions_held}"
        )
    if bar.trade_date < position.entry_date:
        raise ValidationFailed(
            f"{position.ticker}: bar of {bar.trade_date.isoformat()} precedes the entry on "
            f"{position.entry_date.isoformat()}"
        )
    if not bar.complete:
        return None
    if bar.high < bar.low:
        raise ValidationFailed(
            f"{position.ticker} bar of {bar.trade_date.isoformat()}: high {bar.high} is below low {bar.low}"
        )

    stop, stop_reason = effective_stop(position, trailing_stop_pct)
    target = position.target_price
    day = bar.trade_date
    # The open is the first print, so a gap beyond either level is resolved before any intraday question.
    if bar.open <= stop:
        return Exit(stop_reason, bar.open, day)
    if bar.open >= target:
        return Exit("target", bar.open, day)
    if sell_signal or bearish_sentiment:
        return Exit("signal_flip", bar.open, day)
    # Touching the stop wins whether or not the target was also touched: same-bar order is unknown.
    if bar.low <= stop:
        return Exit(stop_reason, stop, day)
    if bar.high >= target:
        return Exit("target", target, day)
    if sessions_held >= risk.max_hold_days:
        return Exit("time_decay", bar.close, day)
    return None


def _check_trailing_pct(trailing_stop_pct: float) -> None:
    if not (math.isfinite(trailing_stop_pct) and 0.0 < trailing_stop_pct < 1.0):
        raise ValidationFailed(f"trailing_stop_pct must be in (0, 1), got {trailing_stop_pct}")
