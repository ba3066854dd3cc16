"""A trading signal as the product records it: the approved entry or the rejected candidate, and its fate.

One record per (portfolio, ticker, trading date). Status moves `pending` (approved after the close) ->
`active` (filled at the next open) -> `closed` (exited, with price and reason); a pending entry that cannot
fill at the next open becomes `expired`; a candidate the risk manager turned down is `rejected` with its
reasons, so "why no signal on X?" has an answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The book's record of a signal lives with the portfolio (which stores it); re-exported for the signal code.
from backend.portfolio.positions import OPEN_STATUSES, SignalRecord, SignalStatus

__all__ = [
    "OPEN_STATUSES",
    "CandidateRead",
    "CandidatesRead",
    "RiskDecisionRead",
    "SignalDetailRead",
    "SignalRead",
    "SignalRecord",
    "SignalStatus",
]


class SignalRead(BaseModel):
    """A signal (approved entry or rejected candidate) and its fate; prices in the response's currency."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "ticker": "AAPL",
                    "trade_date": "2013-03-01",
                    "signal": "BUY",
                    "status": "active",
                    "confidence": 0.74,
                    "entry_price": 61.5,
                    "stop_price": 58.9,
                    "target_price": 66.7,
                    "shares": 180,
                    "position_size_pct": 0.11,
                }
            ]
        },
    )

    id: int
    ticker: str
    trade_date: date = Field(description="the session whose close produced the signal")
    signal: str
    status: str = Field(description="pending, active, closed, expired or rejected")
    confidence: float
    expected_value: float | None = Field(
        default=None, description="expected net trade return at signal time (0.012 = +1.2%); None if unpriced"
    )
    entry_price: float
    stop_price: float | None
    target_price: float | None
    stop_pct: float | None
    target_pct: float | None
    risk_reward: float | None
    position_size_pct: float
    shares: int
    sector: str | None
    model_version: str | None
    generated_at: datetime
    expires_at: datetime
    fill_price: float | None
    filled_at: datetime | None
    closed_at: datetime | None
    exit_price: float | None
    exit_reason: str | None
    pnl: float | None
    return_pct: float | None

    @model_validator(mode="before")
    @classmethod
    def _expected_value_from_explanation(cls, data: Any) -> Any:
        """The EV is kept in the stored explanation (no column of its own): lift it for the response."""
        if isinstance(data, dict) or not hasattr(data, "explanation"):
            return data
        # A page of 100 signals went through SQLAlchemy's attribute descriptors twice per field (hasattr, then
        # getattr): ~4.5 ms of a 10 ms request. Read loaded column values straight from the instance dict and
        # fall back to getattr only for what is not loaded (expired or not a column).
        loaded = getattr(data, "__dict__", {})
        values = {
            name: loaded[name] if name in loaded else getattr(data, name)
            for name in cls.model_fields
            if name in loaded or hasattr(data, name)
        }
        values["expected_value"] = (data.explanation or {}).get("expected_value")
        return values


class RiskDecisionRead(BaseModel):
    approved: bool
    reasons: list[str] = Field(description="machine-readable codes of every failing rule")
    messages: list[str] = Field(description="messages[i] explains reasons[i]")


class SignalDetailRead(SignalRead):
    """A signal with why: the model's explanation, the values it saw, and the risk manager's decision."""

    explanation: dict[str, Any] = Field(description="text, class probabilities and top feature contributions")
    indicators: dict[str, float | None] = Field(description="RSI and MACD at the signal's close")
    sentiment: dict[str, float | None] = Field(description="Reddit score and its trend at the signal's close")
    risk: RiskDecisionRead


class CandidateRead(BaseModel):
    """One of a session's top candidates by expected value, and why it is or is not a signal."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "rank": 1,
                    "ticker": "AAPL",
                    "call": "BUY",
                    "confidence": 0.64,
                    "expected_value": 0.012,
                    "entry_price": 61.5,
                    "stop_price": 58.9,
                    "target_price": 66.7,
                    "is_signal": False,
                    "reasons": ["untrusted_model"],
                    "why": "the model shows no out-of-sample edge (not trusted): no signals",
                    "drivers": [{"feature": "rsi_14", "value": 31.2, "contribution": 0.12}],
                    "model_version": "20130101-000000",
                    "model_trusted": False,
                }
            ]
        },
    )

    rank: int = Field(description="1 = highest expected value (then P(win))")
    ticker: str
    call: str = Field(description="the model's BUY, HOLD or SELL")
    confidence: float = Field(description="calibrated P(the trade wins after costs), 0..1")
    expected_value: float | None = Field(description="expected net trade return (0.012 = +1.2%)")
    entry_price: float | None = Field(description="the reference close; the order fills at the next open")
    stop_price: float | None
    target_price: float | None
    is_signal: bool
    reasons: list[str] = Field(description="machine-readable codes of why not a signal; empty for a signal")
    why: str = Field(description="the same in words, with the numbers")
    drivers: list[dict[str, Any]] = Field(
        description="top feature contributions: feature, value, contribution"
    )
    model_version: str | None
    model_trusted: bool


class CandidatesRead(BaseModel):
    """A session's ranked candidates; `trade_date` is null when no session has candidates yet."""

    trade_date: date | None = Field(description="the session whose close the candidates are from")
    portfolio: str
    currency: str = "USD"
    model_version: str | None = Field(description="the model that ranked them (of the first candidate)")
    model_trusted: bool | None = Field(
        description="whether that model showed an out-of-sample edge; untrusted models make no signals"
    )
    n_signals: int = Field(description="how many of the candidates became signals")
    items: list[CandidateRead]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
