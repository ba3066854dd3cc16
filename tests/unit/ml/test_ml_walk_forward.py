"""End to end on synthetic data, ensemble core alone: splits -> fit -> calibrate -> predict -> metrics.

On a pure random walk there is nothing to learn, so out-of-sample accuracy must stay near the majority
baseline (a leak through the splits or the LSTM windows would show up as "skill"); with a planted effect the
ensemble must clearly beat the majority class and both indicator rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.core.settings import get_settings
from backend.ml.baselines import macd_ema_momentum, majority_class, rsi_mean_reversion
from backend.ml.calibration import evaluate_calibration
from backend.ml.ensemble import Ensemble
from backend.ml.metrics import classification_metrics
from backend.ml.splits import calibration_split, walk_forward_splits
from tests.unit.ml.conftest import Synthetic


def _with_history(X: pd.DataFrame, positions: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows `positions` plus the sessions before them that the LSTM reads; positions within that frame."""
    dates = X.index.get_level_values("trade_date")
    sessions = np.unique(dates)
    first = np.searchsorted(sessions, dates[positions].min())
    history_start = sessions[max(0, first - get_settings().features.sequence_length + 1)]
    window = np.flatnonzero((dates >= history_start) & (dates <= dates[positions].max()))
    return X.iloc[window], np.flatnonzero(np.isin(window, positions))


def _walk_forward(data: Synthetic) -> dict[str, dict[str, float]]:
    X, y = data.X, data.y
    dates = X.index.get_level_values("trade_date")
    assert get_settings().ml.embargo_days >= data.horizon
    oos_probs, oos_y, majority, rsi, momentum, reports = [], [], [], [], [], []
    for split in walk_forward_splits(dates, n_splits=3, validation_days=40, min_train_days=120):
        fit, cal = calibration_split(split.train, dates, calibration_days=40)
        ensemble = Ensemble.fit(X.iloc[fit], y[fit])
        cal_frame, cal_rows = _with_history(X, cal)
        ensemble.calibrate(cal_frame, y[cal], rows=cal_rows)
        val_frame, val_rows = _with_history(X, split.validation)
        probs = ensemble.predict_proba(val_frame, rows=val_rows)
        reports.append(
            evaluate_calibration(
                ensemble.calibrator,
                ensemble.raw_proba(val_frame, rows=val_rows),
                y[split.validation],
                fit_dates=dates[cal].to_numpy(),
                eval_dates=dates[split.validation].to_numpy(),
            )
        )
        oos_probs.append(probs)
        oos_y.append(y[split.validation])
        majority.append(majority_class(y[fit], len(split.validation))[1])
        rsi.append(rsi_mean_reversion(data.indicators.iloc[split.validation])[1])
        momentum.append(macd_ema_momentum(data.indicators.iloc[split.validation])[1])
    truth = np.concatenate(oos_y)
    return {
        "ensemble": classification_metrics(np.concatenate(oos_probs), truth),
        "majority": classification_metrics(np.concatenate(majority), truth),
        "rsi": classification_metrics(np.concatenate(rsi), truth),
        "momentum": classification_metrics(np.concatenate(momentum), truth),
        "calibration": {
            "ece_before": float(np.mean([r.ece_before for r in reports])),
            "ece_after": float(np.mean([r.ece_after for r in reports])),
        },
    }


def test_random_walk_has_no_out_of_sample_skill(walk, small_models):
    result = _walk_forward(walk)
    ensemble, majority = result["ensemble"], result["majority"]
    assert abs(ensemble["accuracy"] - majority["accuracy"]) <= 0.05
    # Calibrated noise should not look confident.
    assert ensemble["ece"] < 0.08


def test_planted_effect_is_learned_and_beats_every_baseline(plant, small_models):
    result = _walk_forward(plant)
    ensemble = result["ensemble"]
    assert ensemble["accuracy"] > result["majority"]["accuracy"] + 0.10
    for rule in ("rsi", "momentum"):
        assert ensemble["accuracy"] > result[rule]["accuracy"] + 0.10
        assert ensemble["macro_f1"] > result[rule]["macro_f1"] + 0.10
        assert ensemble["log_loss"] < result[rule]["log_loss"]
    assert ensemble["log_loss"] < result["majority"]["log_loss"]
    assert ensemble["brier"] < result["majority"]["brier"]
