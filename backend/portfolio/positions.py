"""The shared vocabulary of a paper book: a signal's record and status, an open position as the exit rules
see it, and the exit reasons.

The portfolio stores and books these; the signal code (generation, exits, the monitor) fills them in. They
live here, in the portfolio package, so the dependency runs one way: `signals` imports `portfolio`, never
the reverse.

A signal is recorded once per (portfolio, ticker, trading date). Status moves `pending` (approved after the
close) -> `active` (filled at the next open) -> `closed` (exited, with price and reason); a pending entry
that cannot fill at the next open becomes `expired`; a candidate the risk manager turned down is `rejected`
with its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

SignalStatus = Literal["pending", "active", "closed", "expired", "rejected"]
OPEN_STATUSES: tuple[SignalStatus, ...] = ("pending", "active")


@dataclass(slots=True)
class SignalRecord:
    """A row of `trading_signals`. Prices are the reference close's until the fill re-anchors them."""

    ticker: str
    trade_date: date
    signal: str
    confidence: float
    status: SignalStatus
    entry_price: float
    generated_at: datetime
    expires_at: datetime
    stop_price: float | None = None
    target_price: float | None = None
    stop_pct: float | None = None
    target_pct: float | None = None
    risk_reward: float | None = None
    position_size_pct: float = 0.0
    shares: int = 0
    sector: str | None = None
    rsi: float | None = None
    macd: float | None = None
    sentiment: float | None = None
    sentiment_trend: float | None = None
    model_version: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    fill_price: float | None = None
    filled_at: datetime | None = None
    closed_at: datetime | None = None
    exit_price: float | None = None
    exit_reason: str | None = None
    pnl: float | None = None
    return_pct: float | None = None

    @property
    def key(self) -> tuple[str, date]:
        return self.ticker, self.trade_date


ExitReason = Literal["target", "stop_loss", "signal_flip", "time_decay", "trailing_stop"]
EXIT_REASONS: tuple[ExitReason, ...] = ("target", "stop_loss", "signal_flip", "time_decay", "trailing_stop")
# Exits that count as stop-outs for the risk manager's cooldown and stop pause.
STOP_EXIT_REASONS: frozenset[ExitReason] = frozenset({"stop_loss", "trailing_stop"})


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A held position as the exit rules see it.

    `stop_price` is the initial stop and never moves; a trailing stop is derived from `highest_close`, the
    highest close from the entry day up to the PREVIOUS session (update it with `record_close` after a bar
    has been checked, so a bar never raises its own stop).
    """

    ticker: str
    shares: int
    entry_price: float
    entry_date: date
    stop_price: float
    target_price: float
    highest_close: float | None = None
