"""Walk-forward training of the ensemble: out-of-sample evaluation, baselines, calibration, final fit.

Pure computation on frames (no database): the pipeline gathers features, labels and indicators known at
`as_of`, this module turns them into a fitted ensemble plus the honest numbers that go in the registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.features.build import FEATURE_COLUMNS, FEATURE_SET_VERSION, check_finite, usable_rows
from backend.ml import baselines
from backend.ml.calibration import brier_score, expected_calibration_error
from backend.ml.ensemble import Ensemble
from backend.ml.members.base import CLASS_NAMES, INDEX_NAMES
from backend.ml.metrics import classification_metrics
from backend.ml.splits import calibration_split, walk_forward_splits

log = logging.getLogger(__name__)

BASELINE_INDICATORS = ("rsi_14", "macd", "macd_signal", "ema_12", "ema_26")
Progress = Callable[[str], None]


@dataclass
class TrainingSet:
    """Rows a model may learn from: finite features, a complete label, the indicators for the baselines."""

    X: pd.DataFrame  # MultiIndex (ticker, trade_date), FEATURE_COLUMNS
    y: np.ndarray
    indicators: pd.DataFrame  # aligned with X
    realised_return: np.ndarray

    @property
    def dates(self) -> pd.Index:
        return self.X.index.get_level_values("trade_date")


def make_training_set(features: pd.DataFrame, labels: pd.DataFrame, prices: pd.DataFrame) -> TrainingSet:
    """Join features, labels and indicators on (ticker, trade_date); keep only learnable rows.

    Rows whose label window is incomplete (the last days before `as_of`) or whose features are still
    warming up are dropped here, so they can never be trained on.
    """
    key = list(INDEX_NAMES)
    joined = (
        features.merge(labels[[*key, "label", "label_complete", "realised_return"]], on=key, how="inner")
        .merge(prices[[*key, *BASELINE_INDICATORS]], on=key, how="left")
        .sort_values(key, kind="stable")
    )
    keep = usable_rows(joined) & joined["label_complete"].astype(bool) & joined["label"].notna()
    rows = joined[keep.to_numpy()].set_index(key)
    check_finite(rows.reset_index())
    y = rows["label"].to_numpy(dtype=np.int64)
    if len(np.unique(y)) < 2:
        present = [CLASS_NAMES[c] for c in np.unique(y)]
        raise ValidationFailed(
            f"training needs at least two classes in the labels; only {present or 'none'} present in "
            f"{len(y)} rows: use more history or more tickers"
        )
    return TrainingSet(
        X=rows[list(FEATURE_COLUMNS)].astype("float64"),
        y=y,
        indicators=rows[list(BASELINE_INDICATORS)],
        realised_return=rows["realised_return"].to_numpy(dtype="float64"),
    )


@dataclass
class OutOfSample:
    """Concatenated walk-forward validation predictions."""

    y: np.ndarray
    dates: np.ndarray
    tickers: np.ndarray
    ensemble: np.ndarray  # calibrated
    raw: np.ndarray  # before calibration
    members: dict[str, np.ndarray]
    baselines: dict[str, np.ndarray]
    calibration_windows: list[tuple[Any, Any]] = field(default_factory=list)


def walk_forward(
    ts: TrainingSet, *, member_names: list[str] | None = None, progress: Progress | None = None
) -> OutOfSample:
    """Fit-calibrate-predict on consecutive validation windows, each after an embargo gap."""
    ml = get_settings().ml
    splits = walk_forward_splits(
        ts.dates,
        n_splits=ml.walk_forward_splits,
        validation_days=ml.validation_days,
        min_train_days=ml.min_train_days + ml.calibration_days + ml.embargo_days,
        embargo_days=ml.embargo_days,
    )
    parts: dict[str, list[np.ndarray]] = {}
    windows = []
    for i, split in enumerate(splits, start=1):
        if progress:
            progress(
                f"fold {i}/{len(splits)}: train to {split.train_end}, validate {split.validation_start}.."
            )
        fit_rows, cal_rows = calibration_split(split.train, ts.dates, calibration_days=ml.calibration_days)
        ensemble = Ensemble.fit(
            ts.X.iloc[fit_rows],
            ts.y[fit_rows],
            member_names=member_names,
            feature_set_version=FEATURE_SET_VERSION,
        )
        # The full frame goes in with `rows=`: the LSTM reads each row's earlier sessions as history (features
        # only, no labels), instead of zero padding at the start of every window.
        ensemble.calibrate(ts.X, ts.y[cal_rows], rows=cal_rows)
        val = split.validation
        X_val = ts.X.iloc[val]
        out = ensemble.predict_all(ts.X, rows=val)
        cal_dates = ts.dates[cal_rows]
        windows.append((cal_dates.min(), cal_dates.max()))
        _, majority = baselines.majority_class(ts.y[fit_rows], len(val))
        _, rsi = baselines.rsi_mean_reversion(ts.indicators.iloc[val])
        _, macd = baselines.macd_ema_momentum(ts.indicators.iloc[val])
        chunk = {
            "y": ts.y[val],
            "dates": np.asarray(ts.dates[val]),
            "tickers": np.asarray(X_val.index.get_level_values("ticker")),
            "ensemble": out["ensemble"],
            "raw": out["raw"],
            "baseline:majority": majority,
            "baseline:rsi_mean_reversion": rsi,
            "baseline:macd_momentum": macd,
        }
        chunk.update({f"member:{name}": out[name] for name in ensemble.members})
        for name, values in chunk.items():
            parts.setdefault(name, []).append(values)
    joined = {name: np.concatenate(values) for name, values in parts.items()}
    return OutOfSample(
        y=joined["y"],
        dates=joined["dates"],
        tickers=joined["tickers"],
        ensemble=joined["ensemble"],
        raw=joined["raw"],
        members={k.split(":", 1)[1]: v for k, v in joined.items() if k.startswith("member:")},
        baselines={k.split(":", 1)[1]: v for k, v in joined.items() if k.startswith("baseline:")},
        calibration_windows=windows,
    )


def report(oos: OutOfSample) -> dict[str, Any]:
    """Metrics for the ensemble, each member and each baseline on the same out-of-sample rows."""
    metrics: dict[str, Any] = {
        "ensemble": classification_metrics(oos.ensemble, oos.y),
        "ensemble_uncalibrated": classification_metrics(oos.raw, oos.y),
    }
    metrics["members"] = {name: classification_metrics(p, oos.y) for name, p in oos.members.items()}
    metrics["baselines"] = {name: classification_metrics(p, oos.y) for name, p in oos.baselines.items()}
    metrics["signal_rate"] = signal_rate(oos)
    return metrics


def calibration_summary(oos: OutOfSample) -> dict[str, Any]:
    """Reliability before and after calibration, measured on the validation windows: each is later than
    the calibration window of its fold, so the calibrator is never judged on the data it was fitted on."""
    return {
        "method": get_settings().ml.calibration,
        "n_eval": len(oos.y),
        "brier_before": brier_score(oos.raw, oos.y),
        "brier_after": brier_score(oos.ensemble, oos.y),
        "ece_before": expected_calibration_error(oos.raw, oos.y),
        "ece_after": expected_calibration_error(oos.ensemble, oos.y),
        "calibration_windows": [[str(a), str(b)] for a, b in oos.calibration_windows],
    }


def signal_rate(oos: OutOfSample) -> dict[str, Any]:
    """How often the ensemble says BUY with confidence above the risk manager's bar, per week."""
    bar = get_settings().risk.min_confidence
    p_buy = oos.ensemble[:, 2]
    is_signal = (oos.ensemble.argmax(axis=1) == 2) & (p_buy > bar)
    weeks = max(1.0, len(np.unique(oos.dates)) / 5.0)
    n_tickers = max(1, len(np.unique(oos.tickers)))
    hit = oos.y[is_signal] == 2
    return {
        "confidence_bar": bar,
        "buy_signals": int(is_signal.sum()),
        "per_week": float(is_signal.sum() / weeks),
        "per_week_per_50_tickers": float(is_signal.sum() / weeks * 50 / n_tickers),
        "signal_precision": float(hit.mean()) if len(hit) else None,
        "p_buy_quantiles": {str(q): float(np.quantile(p_buy, q)) for q in (0.5, 0.9, 0.99, 1.0)},
        "p_buy_histogram": np.histogram(p_buy, bins=10, range=(0, 1))[0].tolist(),
    }


def fit_final(ts: TrainingSet, *, member_names: list[str] | None = None) -> Ensemble:
    """The model to deploy: members fitted on all but the newest sessions, calibrated on those."""
    ml = get_settings().ml
    fit_rows, cal_rows = calibration_split(
        np.arange(len(ts.y)), ts.dates, calibration_days=ml.calibration_days
    )
    ensemble = Ensemble.fit(
        ts.X.iloc[fit_rows],
        ts.y[fit_rows],
        member_names=member_names,
        feature_set_version=FEATURE_SET_VERSION,
    )
    return ensemble.calibrate(ts.X, ts.y[cal_rows], rows=cal_rows)


def class_balance(y: np.ndarray) -> dict[str, float]:
    counts = np.bincount(y, minlength=3)
    return {CLASS_NAMES[i]: float(counts[i] / max(1, len(y))) for i in range(3)}
