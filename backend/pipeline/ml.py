"""Training and prediction flows: features -> labels -> walk-forward ensemble -> registry -> predictions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import add_trading_days, utcnow
from backend.core.errors import NotFound, ValidationFailed
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.features import service as feature_service
from backend.features.build import FEATURE_COLUMNS, usable_rows
from backend.features.labels import triple_barrier_labels
from backend.market import service as market_service
from backend.ml import service as ml_service
from backend.ml import training
from backend.ml.members.base import INDEX_NAMES
from backend.ml.models import ModelVersion

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
EARLIEST = date(1990, 1, 1)


@dataclass
class TrainOutcome:
    model: ModelVersion
    promotion: ml_service.Promotion
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)


async def resolve_tickers(*, session: AsyncSession, tickers: Sequence[str] | None, end: date) -> list[str]:
    """The requested tickers, or every ticker with enough stored history by `end`."""
    counts = await market_service.bar_counts(session=session, tickers=list(tickers or []), end=end)
    if tickers:
        unknown = [t for t in tickers if t not in counts]
        if unknown:
            raise ValidationFailed(f"no stored prices for {', '.join(unknown)}: load them first")
        return list(tickers)
    index = get_settings().features.market_index
    return sorted(t for t, n in counts.items() if n >= feature_service.min_history_rows() and t != index)


async def too_little_history(*, session: AsyncSession, end: date) -> dict[str, str]:
    """Stored tickers (other than the market index) without enough bars by `end` to be predicted, and why."""
    counts = await market_service.bar_counts(session=session, tickers=[], end=end)
    need, index = feature_service.min_history_rows(), get_settings().features.market_index
    return {
        t: f"too little history: {n} daily bars up to {end}, needs {need} (SMA 200 + "
        f"{need - feature_service.SMA_LOOKBACK}-session sequence)"
        for t, n in sorted(counts.items())
        if n < need and t != index
    }


async def train(
    *,
    session: AsyncSession,
    as_of: date,
    tickers: Sequence[str] | None = None,
    progress: Progress | None = None,
    member_names: list[str] | None = None,
) -> TrainOutcome:
    """Train on everything known at the close of `as_of`, evaluate walk-forward, register, maybe promote."""
    data = await load_training(session=session, as_of=as_of, tickers=tickers, progress=progress)
    fitted = fit(data, progress=progress, member_names=member_names)
    return await register_fitted(session=session, as_of=as_of, fitted=fitted)


async def train_detached(
    *,
    as_of: date,
    tickers: Sequence[str] | None = None,
    progress: Progress | None = None,
    member_names: list[str] | None = None,
) -> TrainOutcome:
    """`train` with no transaction open while fitting: read in one, fit (minutes), register in another.

    A transaction held over the fit would pin a connection and, on SQLite, block writers for its length.
    """
    async with transaction() as session:
        data = await load_training(session=session, as_of=as_of, tickers=tickers, progress=progress)
    fitted = fit(data, progress=progress, member_names=member_names)
    async with transaction() as session:
        return await register_fitted(session=session, as_of=as_of, fitted=fitted)


@dataclass
class TrainingData:
    ts: Any  # training.TrainingSet
    skipped: dict[str, str]


@dataclass
class Fitted:
    ensemble: Any
    record: dict[str, Any]
    metrics: dict[str, Any]
    skipped: dict[str, str]


async def load_training(
    *, session: AsyncSession, as_of: date, tickers: Sequence[str] | None, progress: Progress | None
) -> TrainingData:
    """Features and labels known at the close of `as_of`."""
    symbols = await resolve_tickers(session=session, tickers=tickers, end=as_of)
    if not symbols:
        raise ValidationFailed(f"no ticker has {feature_service.min_history_rows()} daily bars up to {as_of}")
    inputs = await feature_service.load_inputs(session=session, tickers=symbols, start=EARLIEST, end=as_of)
    if progress:
        progress(f"features for {inputs.prices['ticker'].nunique()} tickers, {len(inputs.prices)} rows")
    features = feature_service.features_between(inputs, EARLIEST, as_of)
    labels = triple_barrier_labels(inputs.prices, get_settings().risk)
    return TrainingData(training.make_training_set(features, labels, inputs.prices), inputs.skipped)


def fit(
    data: TrainingData, *, progress: Progress | None = None, member_names: list[str] | None = None
) -> Fitted:
    """Walk-forward evaluation, then the final fit on all labelled history (no database)."""
    ts = data.ts
    oos = training.walk_forward(ts, member_names=member_names, progress=progress)
    metrics = training.report(oos)
    if progress:
        progress("final fit on all labelled history")
    ensemble = training.fit_final(ts, member_names=member_names)
    dates = ts.dates
    record = {
        "tickers": sorted(set(ts.X.index.get_level_values("ticker"))),
        "train_start": dates.min(),
        "train_end": dates.max(),
        "n_samples": len(ts.y),
        "class_balance": training.class_balance(ts.y),
        "metrics": metrics,
        "calibration": training.calibration_summary(oos),
        # Log loss is a proper scoring rule: it rewards honest probabilities, not just the argmax.
        "oos_score": -metrics["ensemble"]["log_loss"],
    }
    return Fitted(ensemble, record, metrics, data.skipped)


async def register_fitted(*, session: AsyncSession, as_of: date, fitted: Fitted) -> TrainOutcome:
    version = f"{as_of:%Y%m%d}-{utcnow():%H%M%S%f}"
    record = {**fitted.record, "as_of": as_of}
    model, decision = await ml_service.register(
        session=session, ensemble=fitted.ensemble, version=version, record=record
    )
    return TrainOutcome(model, decision, fitted.metrics, record["calibration"], fitted.skipped)


@dataclass
class PredictOutcome:
    model_version: str
    predictions: int
    skipped: dict[str, str]


async def predict(
    *,
    session: AsyncSession,
    as_of: date,
    tickers: Sequence[str] | None = None,
    force: bool = False,
    store_features: bool = True,
) -> PredictOutcome:
    """Features and predictions for `as_of` with the active model; both are stored."""
    model = await ml_service.active_model(session=session)
    if model is None:
        raise NotFound("no trained model yet: run `tft-trader train` first")
    ml_service.check_fresh(model, as_of, force=force)
    ensemble = await ml_service.load_ensemble(session=session, model=model)
    symbols = await resolve_tickers(session=session, tickers=tickers, end=as_of)
    # The LSTM reads each ticker's last `sequence_length` rows; a few spare sessions cover gaps. More rows
    # would only cost inference time (the LSTM predicts every row it is given).
    history_start = add_trading_days(as_of, -(get_settings().features.sequence_length + 5))
    inputs = await feature_service.load_inputs(
        session=session, tickers=symbols, start=history_start, end=as_of
    )
    features = feature_service.features_between(inputs, history_start, as_of)
    skipped = dict(inputs.skipped)
    if not tickers:  # say why a stored ticker was left out, instead of dropping it silently
        skipped.update(await too_little_history(session=session, end=as_of))
    today = features[features["trade_date"] == as_of]
    for ticker in sorted(set(symbols) - set(today["ticker"]) - set(skipped)):
        skipped[ticker] = f"no price bar on {as_of}"
    if store_features:
        await feature_service.store(session=session, features=today)
    usable = usable_rows(features).to_numpy()
    bad_today = today.loc[~usable_rows(today).to_numpy(), "ticker"]
    for ticker in bad_today:
        missing = [
            c for c in FEATURE_COLUMNS if not np.isfinite(today.loc[today["ticker"] == ticker, c]).all()
        ]
        skipped[ticker] = f"features undefined on {as_of}: {', '.join(missing[:5])}"
    X = features[usable].set_index(list(INDEX_NAMES))[list(FEATURE_COLUMNS)]
    rows = np.flatnonzero(X.index.get_level_values("trade_date") == as_of)
    if len(rows) == 0:
        return PredictOutcome(model.version, 0, skipped)
    frame = ml_service.prediction_frame(ensemble, X, rows)
    stored = await ml_service.store_predictions(session=session, frame=frame, model_version=model.version)
    return PredictOutcome(model.version, stored, skipped)


@dataclass
class FeaturesStored:
    rows: int
    skipped: dict[str, str]


async def store_features(
    *, session: AsyncSession, as_of: date, tickers: Sequence[str] | None = None
) -> FeaturesStored:
    """Features of `as_of` for `tickers` (default: every ticker with enough history), stored by upsert."""
    symbols = await resolve_tickers(session=session, tickers=tickers, end=as_of)
    history_start = add_trading_days(as_of, -(get_settings().features.sequence_length + 5))
    inputs = await feature_service.load_inputs(
        session=session, tickers=symbols, start=history_start, end=as_of
    )
    features = feature_service.features_between(inputs, history_start, as_of)
    today = features[features["trade_date"] == as_of]
    skipped = dict(inputs.skipped)
    for ticker in sorted(set(symbols) - set(today["ticker"]) - set(skipped)):
        skipped[ticker] = f"no price bar on {as_of}"
    await feature_service.store(session=session, features=today)
    return FeaturesStored(len(today), skipped)
