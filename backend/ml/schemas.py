"""Read schemas of the model registry (API and dashboard)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelRead(BaseModel):
    """A trained ensemble: what it was trained on and how it scored out of sample (with baselines)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    version: str
    is_active: bool
    members: list[str]
    weights: dict[str, float]
    feature_set_version: str
    train_start: date
    train_end: date
    as_of: date
    n_samples: int
    oos_score: float = Field(description="the promotion gate's out-of-sample score (higher is better)")
    created_at: datetime


class ModelDetailRead(ModelRead):
    class_balance: dict[str, float]
    metrics: dict[str, Any] = Field(description="out-of-sample metrics per member, ensemble and baselines")
    calibration: dict[str, Any]
    promotion: dict[str, Any]
    notes: list[str]
    feature_columns: list[str]
    tickers: list[str]
