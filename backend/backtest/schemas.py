"""Read schemas of backtest runs (API and dashboard)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BacktestRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(description="queued, running, finished or failed")
    start_date: date
    end_date: date
    tickers: list[str]
    retrain_every: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class BookMetricsRead(BaseModel):
    """One book's headline numbers (fractions: 0.12 = 12%); buy-and-hold has no trade metrics (null)."""

    total_return: float | None = None
    cagr: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    calmar: float | None = None
    max_drawdown: float | None = None
    win_rate: float | None = None
    n_trades: int | None = None
    avg_trade_return: float | None = None
    profit_factor: float | None = None
    exposure: float | None = None
    end_equity: float | None = None


class EquityPointRead(BaseModel):
    trade_date: date
    equity: float


BOOKS_TEXT = "`strategy`, `rsi_mean_reversion`, `macd_momentum` (the rule baselines) and `buy_and_hold`"


class BacktestDetailRead(BacktestRunRead):
    settings: dict[str, Any]
    metrics: dict[str, BookMetricsRead] = Field(
        description=f"per book: {BOOKS_TEXT}; empty until the run finished"
    )
    equity_curves: dict[str, list[EquityPointRead]] = Field(
        description=f"per book ({BOOKS_TEXT}), one point per session from the close before `start_date`"
    )
    caveats: list[str] = Field(
        description="what the numbers do not account for (survivorship, dividends, ...)"
    )
    results: dict[str, Any] | None = Field(
        description="everything the replay reported (`tft-trader backtest --json`): model quality, "
        "breakdowns by exit reason, ticker and month, timings, assumptions"
    )

    @classmethod
    def from_run(cls, run: Any) -> BacktestDetailRead:
        """The run with its results' books pulled out into typed fields."""
        results: dict[str, Any] = run.results or {}
        books: dict[str, Any] = {}
        if results:
            books = {"strategy": results.get("strategy") or {}, **(results.get("baselines") or {})}
            books["buy_and_hold"] = results.get("benchmark") or {}
        fields = set(BookMetricsRead.model_fields)
        metrics = {
            name: BookMetricsRead(**{k: v for k, v in (values or {}).items() if k in fields})
            for name, values in books.items()
        }
        raw_curves = {"strategy": results.get("equity_curve") or []} if results else {}
        raw_curves |= results.get("baseline_equity_curves") or {}
        curves = {
            name: [EquityPointRead(trade_date=d, equity=v) for d, v in points]
            for name, points in raw_curves.items()
        }
        base = BacktestRunRead.model_validate(run).model_dump()
        return cls(
            **base,
            settings=run.settings,
            metrics=metrics,
            equity_curves=curves,
            caveats=list(results.get("caveats") or []),
            results=run.results,
        )


class BacktestQueued(BaseModel):
    """A replay recorded and sent to the workers: poll `GET /api/v1/backtests/{run_id}` for its results."""

    run_id: int
    task_id: str = Field(description="the Celery task id")
    status: str = Field(default="queued", examples=["queued"])
