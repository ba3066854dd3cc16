"""Baselines on hand-made indicator rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.ml.baselines import macd_ema_momentum, majority_class, rsi_mean_reversion, rule_probabilities


def test_majority_class_uses_training_frequencies():
    predicted, probs = majority_class(np.array([1, 1, 2, 0, 1]), 3)
    np.testing.assert_array_equal(predicted, [1, 1, 1])
    np.testing.assert_allclose(probs, [[0.2, 0.6, 0.2]] * 3)


def test_rsi_rule():
    rows = pd.DataFrame({"rsi_14": [25.0, 30.0, 50.0, 70.0, 75.0, np.nan]})
    predicted, probs = rsi_mean_reversion(rows)
    np.testing.assert_array_equal(predicted, [2, 1, 1, 1, 0, 1])
    np.testing.assert_allclose(probs[0], [0.1, 0.1, 0.8])
    np.testing.assert_allclose(probs[4], [0.8, 0.1, 0.1])


def test_momentum_rule_needs_macd_and_ema_to_agree():
    rows = pd.DataFrame(
        {
            "macd": [1.0, 1.0, -1.0, -1.0, np.nan],
            "macd_signal": [0.5, 0.5, 0.0, -2.0, 0.0],
            "ema_12": [101.0, 99.0, 99.0, 99.0, 101.0],
            "ema_26": [100.0, 100.0, 100.0, 100.0, 100.0],
        }
    )
    predicted, _ = macd_ema_momentum(rows)
    # up+up -> BUY; MACD up, EMA down -> HOLD; both down -> SELL; MACD up, EMA down -> HOLD; NaN -> HOLD
    np.testing.assert_array_equal(predicted, [2, 1, 0, 1, 1])


def test_momentum_rule_with_cross_fires_only_on_the_crossing_session_per_ticker():
    index = pd.MultiIndex.from_tuples(
        [("A", 1), ("A", 2), ("A", 3), ("A", 4), ("B", 1), ("B", 2)], names=["ticker", "trade_date"]
    )
    rows = pd.DataFrame(
        {
            # macd - signal: A: -1, +1 (cross up), +1 (no cross), -1 (cross down); B: +1 (first row), +1
            "macd": [0.0, 2.0, 2.0, 0.0, 2.0, 2.0],
            "macd_signal": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            "ema_12": [101.0, 101.0, 101.0, 99.0, 101.0, 101.0],
            "ema_26": [100.0] * 6,
        },
        index=index,
    )
    predicted, _ = macd_ema_momentum(rows, require_cross=True)
    np.testing.assert_array_equal(predicted, [1, 2, 1, 0, 1, 1])


def test_missing_indicator_is_named():
    with pytest.raises(ValueError, match="'ema_26'"):
        macd_ema_momentum(pd.DataFrame({"macd": [1.0], "macd_signal": [0.0], "ema_12": [1.0]}))
    with pytest.raises(ValueError, match="confidence"):
        rule_probabilities(np.array([0]), confidence=0.2)
