"""Read schemas of `pipeline_runs` and of queued work (API, dashboard, CLI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["running", "success", "failed", "skipped"]


class PipelineRunRead(BaseModel):
    """One scheduled step for one trading date: when it ran, what it counted, how it ended."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "task": "signals",
                    "trading_date": "2013-03-01",
                    "status": "success",
                    "started_at": "2013-03-01T22:45:00Z",
                    "finished_at": "2013-03-01T22:45:09Z",
                    "attempts": 1,
                    "counts": {"approved": ["AAPL"], "rejected": 3},
                    "error": None,
                }
            ]
        },
    )

    id: int
    task: str = Field(description="prices, features, predictions, signals, monitor, reddit, backtest, ...")
    trading_date: date
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    attempts: int
    counts: dict[str, Any] = Field(description="what the step did (rows, tickers, signals, ...)")
    error: str | None


class StepQueued(BaseModel):
    task: str = Field(examples=["tft.prices"])
    task_id: str


class PipelineQueued(BaseModel):
    """The daily chain on the workers: poll `GET /api/v1/pipeline/runs` for each step's outcome."""

    task_id: str = Field(description="the Celery id of the chain's last step (signals)")
    as_of: date = Field(description="the trading date the chain works on")
    steps: list[StepQueued] = Field(description="each step's task, in the order they run")
