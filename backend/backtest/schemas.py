"""Read schemas of backtest runs (API and dashboard)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BacktestRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(description="running, finished or failed")
    start_date: date
    end_date: date
    tickers: list[str]
    retrain_every: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class BacktestDetailRead(BacktestRunRead):
    settings: dict[str, Any]
    results: dict[str, Any] | None = Field(
        description="metrics and equity curves of the strategy, the rule baselines and buy-and-hold"
    )
