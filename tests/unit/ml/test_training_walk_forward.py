"""The walk-forward training loop on synthetic data: no skill where there is none, skill where there is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.core.calendar import trading_days
from backend.core.settings import override_settings
from backend.features.build import FEATURE_COLUMNS
from backend.ml import training

SMALL = {
    "xgb_n_estimators": 40, "lgbm_n_estimators": 40, "walk_forward_splits": 3, "validation_days": 60,
    "calibration_days": 60, "min_train_days": 150, "embargo_days": 10,
}  # fmt: skip


def synthetic(planted: bool, seed: int = 0, n_tickers: int = 20, n_days: int = 520) -> training.TrainingSet:
    rng = np.random.default_rng(seed)
    days = trading_days(pd.Timestamp("2015-01-02").date(), pd.Timestamp("2017-12-29").date())[:n_days]
    index = pd.MultiIndex.from_product(
        [[f"T{i:02d}" for i in range(n_tickers)], days], names=["ticker", "trade_date"]
    )
    X = pd.DataFrame(
        rng.normal(size=(len(index), len(FEATURE_COLUMNS))), index=index, columns=list(FEATURE_COLUMNS)
    )
    if planted:
        # The first feature shifts the odds: high values tend to BUY, low values to SELL.
        signal = X.iloc[:, 0].to_numpy()
        p_buy = 1 / (1 + np.exp(-(2.5 * signal - 2.5)))
        p_sell = 1 / (1 + np.exp(-(-2.5 * signal - 2.5)))
        u = rng.random(len(index))
        y = np.where(u < p_buy, 2, np.where(u < p_buy + p_sell, 0, 1))
    else:
        y = rng.choice(3, size=len(index), p=[0.3, 0.6, 0.1])
    indicators = pd.DataFrame(
        {"rsi_14": rng.uniform(10, 90, len(index)), "macd": rng.normal(size=len(index)),
         "macd_signal": rng.normal(size=len(index)), "ema_12": rng.normal(100, 1, len(index)),
         "ema_26": rng.normal(100, 1, len(index))},
        index=index,
    )  # fmt: skip
    return training.TrainingSet(X=X, y=y, indicators=indicators, realised_return=np.zeros(len(index)))


@pytest.fixture(autouse=True)
def small_models():
    with override_settings(ml=SMALL):
        yield


def test_no_skill_on_noise_ensemble_stays_near_the_majority_baseline():
    oos = training.walk_forward(synthetic(planted=False), member_names=["xgboost", "lightgbm"])
    metrics = training.report(oos)
    ensemble, majority = metrics["ensemble"]["accuracy"], metrics["baselines"]["majority"]["accuracy"]
    assert abs(ensemble - majority) < 0.05, (ensemble, majority)
    # Calibrated on noise, the model must not claim confident BUYs.
    assert metrics["signal_rate"]["buy_signals"] == 0


def test_planted_effect_is_learned_and_beats_every_baseline():
    oos = training.walk_forward(synthetic(planted=True), member_names=["xgboost", "lightgbm"])
    metrics = training.report(oos)
    ensemble = metrics["ensemble"]
    for name, baseline in metrics["baselines"].items():
        assert ensemble["accuracy"] > baseline["accuracy"] + 0.05, name
        assert ensemble["log_loss"] < baseline["log_loss"], name
    assert ensemble["buy_precision"] > 0.5
    summary = training.calibration_summary(oos)
    assert summary["ece_after"] < 0.08


def test_out_of_sample_rows_come_after_their_training_and_calibration_windows():
    ts = synthetic(planted=True)
    oos = training.walk_forward(ts, member_names=["lightgbm"])
    dates = sorted(set(ts.dates))
    assert len(oos.y) == 3 * 60 * 20  # three folds of 60 sessions for 20 tickers
    assert min(oos.dates) == dates[-180]
    for (_, cal_end), fold_start in zip(
        oos.calibration_windows, (dates[-180], dates[-120], dates[-60]), strict=True
    ):
        gap = dates.index(fold_start) - dates.index(cal_end) - 1
        assert gap >= SMALL["embargo_days"]  # purged: no label window overlaps the validation fold
