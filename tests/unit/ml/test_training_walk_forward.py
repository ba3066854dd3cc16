"""The outcome model's walk-forward and edge test on synthetic trades: quiet on noise, trusted on signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.core.calendar import trading_days
from backend.core.settings import override_settings
from backend.features.build import FEATURE_COLUMNS
from backend.ml import edge, training

SMALL = {
    "xgb_n_estimators": 40, "lgbm_n_estimators": 40, "walk_forward_splits": 3, "validation_days": 60,
    "min_train_days": 150, "embargo_days": 10, "max_train_days": None,
}  # fmt: skip


def synthetic(planted: bool, seed: int = 0, n_tickers: int = 20, n_days: int = 520) -> training.TrainingSet:
    """Trades whose net return is noise, or noise plus a push from the first feature."""
    rng = np.random.default_rng(seed)
    days = trading_days(pd.Timestamp("2015-01-02").date(), pd.Timestamp("2017-12-29").date())[:n_days]
    index = pd.MultiIndex.from_product(
        [[f"T{i:02d}" for i in range(n_tickers)], days], names=["ticker", "trade_date"]
    )
    X = pd.DataFrame(
        rng.normal(size=(len(index), len(FEATURE_COLUMNS))), index=index, columns=list(FEATURE_COLUMNS)
    )
    net = rng.normal(-0.002, 0.04, len(index))
    if planted:
        net += 0.02 * X.iloc[:, 0].to_numpy()
    indicators = pd.DataFrame(
        {"rsi_14": rng.uniform(10, 90, len(index)), "macd": rng.normal(size=len(index)),
         "macd_signal": rng.normal(size=len(index)), "ema_12": rng.normal(100, 1, len(index)),
         "ema_26": rng.normal(100, 1, len(index))},
        index=index,
    )  # fmt: skip
    return training.TrainingSet(X=X, win=(net > 0).astype(float), net_return=net, indicators=indicators)


@pytest.fixture(autouse=True)
def small_models():
    with override_settings(ml=SMALL):
        yield


@pytest.mark.parametrize("seed", [0, 1])
def test_noise_is_not_trusted_and_calibration_stays_near_the_base_rate(seed: int) -> None:
    ts = synthetic(planted=False, seed=seed)
    assessment = training.assess(training.walk_forward(ts, member_names=["lightgbm"]))
    q = assessment.quality
    assert not assessment.trusted and assessment.reasons
    p = assessment.outcome.win_probability(np.linspace(0.001, 0.999, 50))
    assert p.min() > 0.3 and p.max() < 0.7  # no confident claims from noise, never 0 or 1
    assert q["ece"] < 0.05
    assert abs(q["base_rate"] - ts.win.mean()) < 0.05


def test_a_planted_effect_is_trusted_and_its_top_bucket_earns_more() -> None:
    ts = synthetic(planted=True)
    assessment = training.assess(training.walk_forward(ts, member_names=["xgboost", "lightgbm"]))
    q = assessment.quality
    assert assessment.trusted, assessment.reasons
    assert q["rank_ic"] > 0.2 and q["rank_ic_t"] >= 2
    assert q["top_bucket"]["net_return"] > q["all_candidates"]["net_return"] + 0.01
    assert q["top_bucket"]["hit_rate"] > 0.6
    assert q["log_loss"] < q["prior_log_loss"]
    # Expected value is measured: it rises with the probability, and a sure-looking loss prices negative.
    ev = assessment.outcome.expected_value(np.array([0.2, 0.5, 0.8]))
    assert ev[0] < 0 < ev[2] and ev[0] < ev[1] < ev[2]


def test_out_of_sample_rows_come_after_their_training_window_and_embargo() -> None:
    ts = synthetic(planted=True)
    oos = training.walk_forward(ts, member_names=["lightgbm"])
    dates = sorted(set(ts.dates))
    assert len(oos) == 3 * 60 * 20  # three folds of 60 sessions for 20 tickers
    assert oos["trade_date"].min() == dates[-180]
    for fold, start in zip((1, 2, 3), (dates[-180], dates[-120], dates[-60]), strict=True):
        rows = oos[oos["fold"] == fold]
        assert rows["trade_date"].min() == start
        # The fold's prior is the win rate of its own training rows: those before the embargo only.
        train_end = dates[dates.index(start) - SMALL["embargo_days"] - 1]
        train = np.asarray(ts.dates <= train_end)
        assert rows["prior"].iloc[0] == pytest.approx(ts.win[train].mean())


def test_platt_calibration_of_a_handful_of_rows_never_gives_0_or_1() -> None:
    raw = np.array([0.9, 0.95, 0.99, 0.97])
    platt = edge.PlattMap.fit(raw, np.ones(4))
    p = platt.transform(np.array([0.0, 0.5, 1.0]))
    assert np.all((p > 0) & (p < 1)) and p[0] == pytest.approx(5 / 6)  # Laplace rate of 4 wins in 4


def test_rank_ic_t_is_over_non_overlapping_periods() -> None:
    days = trading_days(pd.Timestamp("2016-01-04").date(), pd.Timestamp("2016-03-31").date())[:40]
    rows = []
    for i, day in enumerate(days):
        for k in range(5):  # the score ranks the returns perfectly on even days, reversed on odd days
            rows.append({"trade_date": day, "ev": k, "net_return": k if i % 2 == 0 else -k})
    result = edge.rank_ic(pd.DataFrame(rows), "ev", period_days=8)
    assert result["ic_days"] == 40 and result["ic_periods"] == 5
    assert result["rank_ic"] == pytest.approx(0.0)
