"""Calibration and reliability measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.ml.calibration import (
    Calibrator,
    brier_score,
    evaluate_calibration,
    expected_calibration_error,
)


def test_brier_by_hand():
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    y = np.array([2, 1])
    # row 1: .04 + .09 + .25 = .38; row 2: .36 + .64 + .04 = 1.04
    assert brier_score(probs, y) == pytest.approx((0.38 + 1.04) / 2)


def test_ece_by_hand():
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # conf .9, correct
            [0.05, 0.9, 0.05],  # conf .9, wrong
            [0.1, 0.35, 0.55],  # conf .55, correct
            [0.25, 0.35, 0.4],  # conf .4, wrong
        ]
    )
    y = np.array([0, 0, 2, 0])
    # bins: (.8,.9] -> acc .5 conf .9; (.5,.6] -> acc 1 conf .55; (.3,.4] -> acc 0 conf .4
    expected = (2 * abs(0.5 - 0.9) + abs(1 - 0.55) + abs(0 - 0.4)) / 4
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(expected)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities, labels drawn from them, and a model that sharpens them (too confident)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 0.6, (n, 3))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(true, axis=1)).sum(axis=1)
    sharp = np.exp(4 * logits) / np.exp(4 * logits).sum(axis=1, keepdims=True)
    return true, y, sharp


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_fitted_on_one_window_improves_a_later_window(method):
    _, y, model = _overconfident(12_000, seed=3)
    dates = np.repeat(pd.bdate_range("2022-01-03", periods=120).to_numpy(), 100)
    fit_rows, eval_rows = dates < dates[6_000], dates >= dates[6_000]
    calibrator = Calibrator(method).fit(model[fit_rows], y[fit_rows])
    report = evaluate_calibration(
        calibrator, model[eval_rows], y[eval_rows], fit_dates=dates[fit_rows], eval_dates=dates[eval_rows]
    )
    assert report.n_fit == 6_000 and report.n_eval == 6_000
    assert report.ece_before > 0.15
    assert report.ece_after < report.ece_before / 3
    assert report.brier_after < report.brier_before
    calibrated = calibrator.transform(model[eval_rows])
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert report.ece_after == pytest.approx(expected_calibration_error(calibrated, y[eval_rows]))


def test_evaluating_on_the_calibration_window_is_refused():
    _, y, model = _overconfident(200, seed=4)
    dates = np.repeat(pd.bdate_range("2022-01-03", periods=20).to_numpy(), 10)
    calibrator = Calibrator().fit(model[:100], y[:100])
    with pytest.raises(ValueError, match="later window"):
        evaluate_calibration(calibrator, model[90:], y[90:], fit_dates=dates[:100], eval_dates=dates[90:])


def test_calibrator_round_trip_and_none():
    _, y, model = _overconfident(2_000, seed=5)
    for method in ("isotonic", "sigmoid"):
        calibrator = Calibrator(method).fit(model, y)
        restored = Calibrator.load(calibrator.save())
        np.testing.assert_array_equal(restored.transform(model), calibrator.transform(model))
    identity = Calibrator("none").fit(model, y)
    np.testing.assert_array_equal(identity.transform(model), model)
    with pytest.raises(ValueError, match="isotonic, sigmoid or none"):
        Calibrator("beta")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not fitted"):
        Calibrator().transform(model)


def test_isotonic_maps_are_monotone_per_class():
    _, y, model = _overconfident(3_000, seed=6)
    calibrator = Calibrator("isotonic").fit(model, y)
    grid = np.linspace(0, 1, 101)
    for xs, ys in calibrator.maps:
        mapped = np.interp(grid, xs, ys)
        assert np.all(np.diff(mapped) >= -1e-12)


def test_bad_probabilities_are_refused():
    with pytest.raises(ValueError, match="shape"):
        brier_score(np.ones((3, 2)) / 2, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="within"):
        brier_score(np.array([[1.2, -0.1, -0.1]]), np.array([0]))
