"""Running service flows from synchronous tests the way the CLI does: one event loop per flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from backend.cli import app
from backend.db.engine import run_on_new_loop, transaction
from backend.pipeline import ml as ml_pipeline
from backend.pipeline.ml import TrainOutcome

T = TypeVar("T")


def run(flow: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """One flow on its own loop, its engines closed after (as the CLI and the tasks do)."""
    return run_on_new_loop(flow)


def in_db(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one committed transaction on the configured database."""

    async def flow() -> T:
        async with transaction() as session:
            return await work(session)

    return run(flow)


# A model small enough to train in seconds on the bundled sample (two tickers, a few months).
SMALL_MODEL = {
    "xgb_n_estimators": 15, "lgbm_n_estimators": 15, "walk_forward_splits": 2, "validation_days": 40,
    "calibration_days": 60, "min_train_days": 150,
}  # fmt: skip


def sample_with_model(*, as_of: date, tickers: Sequence[str]) -> TrainOutcome:
    """The bundled sample prices and four months of the synthetic Reddit feed, loaded through the CLI,
    then an XGBoost + LightGBM model trained at the close of `as_of` (its size from the settings in
    force: `override_settings(ml=SMALL_MODEL)`)."""
    runner = CliRunner()
    assert runner.invoke(app, ["prices", "load-sample"]).exit_code == 0
    feed = runner.invoke(app, ["reddit", "load-sample", "--start", "2012-03-01", "--end", "2012-07-31"])
    assert feed.exit_code == 0, feed.output

    async def train(session: AsyncSession) -> TrainOutcome:
        return await ml_pipeline.train(
            session=session, as_of=as_of, tickers=list(tickers), member_names=["xgboost", "lightgbm"]
        )

    return in_db(train)
