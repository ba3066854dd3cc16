"""Training and prediction flows: features -> labels -> walk-forward ensemble -> registry -> predictions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import add_trading_days, utcnow
from backend.core.errors import NotFound, ValidationFailed
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.features import service as feature_service
from backend.features.build import FEATURE_COLUMNS, FEATURE_SET_VERSION, usable_rows
from backend.features.labels import triple_barrier_labels
from backend.market import service as market_service
from backend.ml import edge, training
from backend.ml import service as ml_service
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
    oos: Any  # the walk-forward out-of-sample rows
    assessment: Any  # edge.Assessment: calibration, EV and the edge test
    ts: Any
    skipped: dict[str, str]


async def load_training(
    *, session: AsyncSession, as_of: date, tickers: Sequence[str] | None, progress: Progress | None
) -> TrainingData:
    """Features and outcome labels known at the close of `as_of`."""
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
    """Walk-forward evaluation with the edge test, then the final fit on all labelled history (no DB)."""
    ts = data.ts
    oos = training.walk_forward(ts, member_names=member_names, progress=progress)
    assessment = training.assess(oos)
    if progress:
        progress("final fit on the latest labelled history")
    ensemble = training.fit_final(ts, member_names=member_names)
    return Fitted(ensemble, oos, assessment, ts, data.skipped)


async def register_fitted(*, session: AsyncSession, as_of: date, fitted: Fitted) -> TrainOutcome:
    """Compare with the active model on the same rows, register the new version, maybe promote it."""
    ts, assessment = fitted.ts, fitted.assessment
    quality = assessment.quality
    active = await ml_service.active_model(session=session)
    same_rows = await _same_rows(session=session, active=active, ts=ts, oos=fitted.oos, assessment=assessment)
    decision = ml_service.promotion_decision(
        -quality["log_loss"], active, prior_score=-quality["prior_log_loss"], same_rows=same_rows
    )
    dates = ts.dates
    record = {
        "tickers": sorted(set(ts.X.index.get_level_values("ticker"))),
        "train_start": dates.min(),
        "train_end": dates.max(),
        "as_of": as_of,
        "n_samples": len(ts.win),
        "class_balance": training.class_balance(ts),
        "metrics": training.summary(assessment),
        "calibration": {
            "method": quality["calibration_method"],
            "base_rate": quality["base_rate"],
            "ece": quality["ece"],
            "reliability": quality["reliability"],
        },
        # Log loss is a proper scoring rule: it rewards honest probabilities, not just the ranking.
        "oos_score": -quality["log_loss"],
        "trusted": assessment.trusted,
        "quality": quality,
        "outcome": assessment.outcome.as_dict(),
    }
    version = f"{as_of:%Y%m%d}-{utcnow():%H%M%S%f}"
    model = await ml_service.register(
        session=session, ensemble=fitted.ensemble, version=version, record=record, decision=decision
    )
    return TrainOutcome(model, decision, quality, record["calibration"], fitted.skipped)


async def _same_rows(
    *,
    session: AsyncSession,
    active: ModelVersion | None,
    ts: training.TrainingSet,
    oos: pd.DataFrame,
    assessment: edge.Assessment,
) -> tuple[float, float, int] | None:
    """(challenger score, active score, rows) on the out-of-sample rows newer than the active model's data.

    None when there is no active model or it cannot score these features (another feature set).
    """
    if active is None or active.feature_set_version != FEATURE_SET_VERSION or not active.outcome:
        return None
    newer = np.asarray(pd.Index(oos["trade_date"]) > active.as_of)
    if not newer.any():
        return 0.0, 0.0, 0
    ensemble = await ml_service.load_ensemble(session=session, model=active)
    rows = oos["row"].to_numpy()[newer]
    raw = training.raw_win_score(ensemble.raw_proba(ts.X, rows=rows))
    theirs = ml_service.outcome_of(active).win_probability(raw)
    assert assessment.oos_p is not None
    win = oos["win"].to_numpy(dtype="float64")[newer]
    mine = assessment.oos_p[newer]
    return -edge.log_loss(mine, win), -edge.log_loss(theirs, win), int(newer.sum())


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
    stored_features: bool = False,
) -> PredictOutcome:
    """Features and predictions for `as_of` with the active model; both are stored.

    `stored_features`: read the features the features step stored for `as_of` instead of rebuilding
    them (the daily chain, right after that step), when the model reads no history (no sequence member)
    and the stored rows are complete and newer than the prices (`feature_service.stored_day`).
    """
    model = await ml_service.active_model(session=session)
    if model is None:
        raise NotFound("no trained model yet: run `tft-trader train` first")
    ml_service.check_fresh(model, as_of, force=force)
    ensemble = await ml_service.load_ensemble(session=session, model=model)
    symbols = await resolve_tickers(session=session, tickers=tickers, end=as_of)
    from_store = None
    if stored_features and not any(m.uses_history for m in ensemble.members.values()):
        from_store = await feature_service.stored_day(session=session, tickers=symbols, day=as_of)
    if from_store is not None:
        features, skipped = from_store.features, dict(from_store.skipped)
        store_features = False  # they are the stored rows
    else:
        # The LSTM reads each ticker's last `sequence_length` rows; a few spare sessions cover gaps. More
        # rows would only cost inference time (the LSTM predicts every row it is given).
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
    outcome = ml_service.outcome_of(model)
    top_n = get_settings().risk.candidates_top_n
    frame = ml_service.prediction_frame(ensemble, outcome, X, rows, explain_top=top_n)
    stored = await ml_service.store_predictions(session=session, frame=frame, model_version=model.version)
    return PredictOutcome(model.version, stored, skipped)


@dataclass
class FeaturesStored:
    rows: int
    skipped: dict[str, str]


async def store_features(
    *,
    session: AsyncSession,
    as_of: date,
    tickers: Sequence[str] | None = None,
    cross_section: bool = True,
) -> FeaturesStored:
    """Features of `as_of` for `tickers` (default: every ticker with enough history), stored by upsert.

    `cross_section=False` (a ticker batch): the per-ticker columns only; `feature_service.complete_day`
    fills the cross-sectional ones once every batch of the day stored its rows.
    """
    symbols = await resolve_tickers(session=session, tickers=tickers, end=as_of)
    # The same window for a batch as for the whole universe: ATR is a recursive average, so where the
    # loaded bars start moves its last bits.
    history_start = add_trading_days(as_of, -(get_settings().features.sequence_length + 5))
    inputs = await feature_service.load_inputs(
        session=session, tickers=symbols, start=history_start, end=as_of
    )
    features = feature_service.features_between(inputs, history_start, as_of, cross_section=cross_section)
    today = features[features["trade_date"] == as_of]
    skipped = dict(inputs.skipped)
    for ticker in sorted(set(symbols) - set(today["ticker"]) - set(skipped)):
        skipped[ticker] = f"no price bar on {as_of}"
    await feature_service.store(session=session, features=today)
    return FeaturesStored(len(today), skipped)
