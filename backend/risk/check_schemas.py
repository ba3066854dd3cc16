"""The what-if risk check (`POST /api/v1/risk/check`): a proposed trade in, the risk manager's verdict out."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from backend.risk.schemas import SizeLimit


class RiskCheckIn(BaseModel):
    """A trade a user is considering; nothing is written."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"ticker": "AAPL", "entry_price": 61.5, "quantity": 150, "stop_price": 59.2}]
        },
    )

    ticker: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$", examples=["AAPL"])
    entry_price: float = Field(gt=0.0, le=1_000_000.0, description="the price you would buy at")
    quantity: int | None = Field(
        default=None, gt=0, le=100_000_000, description="shares; default: the most allowed"
    )
    stop_price: float | None = Field(
        default=None, gt=0.0, description="your stop; default: the risk manager's ATR-based stop"
    )
    confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the model's confidence; without it the confidence rule is skipped",
    )


class RiskCheckRead(BaseModel):
    """The verdict: every failing rule with its reason, and the quantity the rules allow."""

    currency: str = "USD"
    ticker: str
    trade_date: dt.date = Field(description="the session the check was made as of")
    approved: bool
    reasons: list[str] = Field(description="machine-readable codes of every failing check")
    messages: list[str] = Field(description="messages[i] explains reasons[i]")
    skipped_rules: list[str] = Field(description="rules not checked for lack of input")
    entry_price: float
    requested_quantity: int | None
    allowed_quantity: int = Field(description="the most shares the sizing rules allow (0 if none)")
    stop_price: float | None
    target_price: float | None
    stop_pct: float | None
    target_pct: float | None
    reward_risk: float | None
    position_value: float
    position_pct: float
    risk_amount: float
    limited_by: SizeLimit | None
    equity: float
    cash: float
    open_positions: int
    kill_switch: bool
