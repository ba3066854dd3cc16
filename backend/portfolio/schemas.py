"""Read schemas of the paper portfolio: what the CLI, the API and the dashboard show, from one service.

Money is a plain number in the portfolio's currency, stated once per response (`currency`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CURRENCY = "USD"


class PositionRead(BaseModel):
    """An open position marked at its last price."""

    ticker: str
    shares: int
    signal_date: date | None
    entry_date: date
    fill_price: float
    last_price: float
    stop_price: float
    target_price: float
    cost_basis: float
    market_value: float
    unrealized_pnl: float
    unrealized_pct: float
    exit_order: str | None = Field(description="why it sells at the next open, if it does")


class PendingEntryRead(BaseModel):
    """An approved signal waiting for the next open."""

    ticker: str
    shares: int
    signal_date: date


class PortfolioSummaryRead(BaseModel):
    """Equity, cash, P&L, drawdown against the halt limit and the kill switch."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "currency": "USD",
                    "as_of": "2013-03-01",
                    "starting_capital": 100000.0,
                    "cash": 81234.5,
                    "equity": 101520.3,
                    "positions_value": 20285.8,
                    "realized_pnl": 1100.0,
                    "unrealized_pnl": 420.3,
                    "total_pnl": 1520.3,
                    "today_pnl": -85.1,
                    "peak_equity": 102000.0,
                    "drawdown": 0.0047,
                    "max_drawdown": 0.15,
                    "kill_switch": False,
                    "kill_switch_reason": None,
                    "n_positions": 2,
                    "n_pending": 1,
                }
            ]
        }
    )

    currency: str = CURRENCY
    as_of: date | None = Field(description="the latest session the book has processed")
    starting_capital: float
    cash: float
    equity: float
    positions_value: float
    realized_pnl: float
    unrealized_pnl: float
    total_pnl: float = Field(description="equity minus the starting capital")
    today_pnl: float | None = Field(description="equity change over the last processed session")
    peak_equity: float
    drawdown: float = Field(description="fraction below the high-water mark (0.05 = 5%)")
    max_drawdown: float = Field(description="the drawdown at which new entries halt")
    kill_switch: bool
    kill_switch_reason: str | None
    n_positions: int
    n_pending: int


class PortfolioRead(PortfolioSummaryRead):
    """The summary with the positions, pending entries and performance metrics (`portfolio show`)."""

    positions: list[PositionRead]
    pending: list[PendingEntryRead]
    performance: dict[str, Any] | None = Field(
        description="equity and trade metrics since the start (None before the first session)"
    )


class TradeRead(BaseModel):
    """A closed round trip after slippage and both commissions."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticker: str
    signal_date: date | None
    shares: int
    entry_date: date
    entry_fill: float
    exit_date: date
    exit_price: float
    exit_fill: float
    exit_reason: str
    cost_basis: float
    proceeds: float
    pnl: float
    return_pct: float


class EquityPointRead(BaseModel):
    """The book marked at a session's close."""

    model_config = ConfigDict(from_attributes=True)

    trade_date: date
    cash: float
    positions_value: float
    equity: float
    n_positions: int
