"""Inputs and outputs of the risk manager: a candidate entry, the portfolio it would join, the decision.

Frozen pydantic models: they validate what callers hand in (a NaN ATR or a negative price is an error that
names the field, not a silent wrong size) and serialize straight to JSON for the API and the signal rows.
State collections are tuples so a `PortfolioState` can be shared without anyone mutating it underneath.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Signal = Literal["BUY", "HOLD", "SELL"]
SizeLimit = Literal["risk", "max_position", "cash"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, allow_inf_nan=False, extra="forbid")


class Candidate(_Frozen):
    """A model's call for one ticker at the close of `trade_date`, as the risk manager sees it.

    `entry_price` is the reference price (that session's close); the order fills at the next open.
    `atr_pct` is ATR as a fraction of the close (0.02 = 2%).
    """

    ticker: str = Field(min_length=1)
    trade_date: dt.date
    signal: Signal
    confidence: float = Field(ge=0.0, le=1.0)
    entry_price: float = Field(gt=0.0)
    atr_pct: float = Field(ge=0.0)
    sector: str | None = None
    avg_dollar_volume_20d: float | None = Field(default=None, ge=0.0)
    market_above_sma200: bool | None = None


class Position(_Frozen):
    """An open position. `last_price` (the latest close) values it; without one it is valued at entry."""

    ticker: str = Field(min_length=1)
    sector: str | None = None
    shares: int = Field(gt=0)
    entry_price: float = Field(gt=0.0)
    entry_date: dt.date
    stop_price: float = Field(gt=0.0)
    target_price: float = Field(gt=0.0)
    last_price: float | None = Field(default=None, gt=0.0)

    @property
    def market_value(self) -> float:
        return self.shares * (self.last_price if self.last_price is not None else self.entry_price)


class StopEvent(_Frozen):
    """A position closed by its stop-loss on `date` (a trading date)."""

    ticker: str = Field(min_length=1)
    date: dt.date


class PortfolioState(_Frozen):
    """The portfolio as of a session's close: what the rules check a candidate against.

    `peak_equity` is the high-water mark that drawdown is measured from; `kill_switch` is the latched
    halt that only a user clears (see `manager.reset_kill_switch`).
    """

    equity: float = Field(ge=0.0)
    cash: float
    peak_equity: float = Field(gt=0.0)
    positions: tuple[Position, ...] = ()
    recent_stops: tuple[StopEvent, ...] = ()
    kill_switch: bool = False
    as_of: dt.date

    @property
    def drawdown(self) -> float:
        """1 - equity / peak_equity, floored at 0 (equity above a stale peak is not a drawdown)."""
        return max(0.0, 1.0 - self.equity / self.peak_equity)


class Decision(_Frozen):
    """The risk manager's verdict on one candidate.

    `reasons` are machine-readable codes (e.g. "max_positions") and `messages[i]` explains `reasons[i]`;
    every failing check is listed, not only the first. Levels and size are what the trade would be even
    when it is rejected, so users see what was turned down; only `approved` decisions are entries.
    `stop_price` and `target_price` are relative to `entry_price` (the reference close).
    """

    ticker: str
    trade_date: dt.date
    signal: Signal
    confidence: float
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # what passing rules want a user to know
    entry_price: float
    shares: int = 0
    position_value: float = 0.0
    position_pct: float = 0.0
    stop_price: float | None = None
    target_price: float | None = None
    stop_pct: float | None = None
    target_pct: float | None = None
    risk_amount: float = 0.0
    reward_risk: float | None = None
    limited_by: SizeLimit | None = None
