"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.ml.metrics import classification_metrics


def test_metrics_on_a_tiny_example():
    probs = np.array(
        [
            [0.1, 0.2, 0.7],  # BUY, true BUY
            [0.2, 0.2, 0.6],  # BUY, true HOLD
            [0.5, 0.3, 0.2],  # SELL, true SELL
            [0.3, 0.5, 0.2],  # HOLD, true SELL
        ]
    )
    y = np.array([2, 1, 0, 0])
    m = classification_metrics(probs, y)
    assert m["n"] == 4
    assert m["accuracy"] == pytest.approx(0.5)
    # F1: SELL p=1 r=.5 -> 2/3; HOLD p=0 r=0 -> 0; BUY p=.5 r=1 -> 2/3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert m["buy_precision"] == pytest.approx(0.5)
    assert m["buy_share"] == pytest.approx(0.5)
    assert m["log_loss"] == pytest.approx(
        -(math.log(0.7) + math.log(0.2) + math.log(0.5) + math.log(0.3)) / 4
    )
    brier = ((0.01 + 0.04 + 0.09) + (0.04 + 0.64 + 0.36) + (0.25 + 0.09 + 0.04) + (0.49 + 0.25 + 0.04)) / 4
    assert m["brier"] == pytest.approx(brier)
    # bins: .7 (acc 1), .6 (acc 0), .5 (acc 1), .5 (acc 0) -> (.3 + .6 + |.5 - .5| * 2) / 4
    assert m["ece"] == pytest.approx((0.3 + 0.6 + 0.0) / 4)


def test_no_buy_calls_give_zero_buy_precision():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    m = classification_metrics(probs, np.array([2, 1]))
    assert m["buy_precision"] == 0.0 and m["buy_share"] == 0.0
