"""The ensemble: weights, renormalisation without a member, calibration hook, explanations, round trip."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from backend.core.settings import get_settings, override_settings
from backend.ml.calibration import Calibrator
from backend.ml.ensemble import Ensemble
from backend.ml.members import MEMBERS


@pytest.fixture
def fitted(tiny, small_models):
    return {name: MEMBERS[name]().fit(tiny.X, tiny.y) for name in ("lstm", "xgboost", "lightgbm")}


def test_default_weights_are_the_products(fitted, tiny):
    ensemble = Ensemble(fitted)
    assert ensemble.weights == pytest.approx({"lstm": 0.30, "xgboost": 0.40, "lightgbm": 0.30})
    assert ensemble.missing_members == [] and ensemble.notes == []
    expected = sum(
        w * fitted[n].predict_proba(tiny.X) for n, w in [("lstm", 0.3), ("xgboost", 0.4), ("lightgbm", 0.3)]
    )
    np.testing.assert_allclose(ensemble.predict_proba(tiny.X), expected, rtol=1e-12)


def test_weights_renormalise_without_the_lstm_and_say_so(fitted, tiny, caplog):
    trees = {n: fitted[n] for n in ("xgboost", "lightgbm")}
    with caplog.at_level(logging.DEBUG, logger="backend.ml.ensemble"):
        ensemble = Ensemble(trees)
    assert ensemble.weights == pytest.approx({"xgboost": 0.4 / 0.7, "lightgbm": 0.3 / 0.7})
    assert ensemble.missing_members == ["lstm"]
    assert len(ensemble.notes) == 1 and "lstm" in ensemble.notes[0]
    # Said in the model's record (`train` prints it once); the log line is debug-only, as every load of
    # the model would repeat it.
    assert [r.levelno for r in caplog.records if "missing" in r.getMessage()] == [logging.DEBUG]
    expected = (4 / 7) * fitted["xgboost"].predict_proba(tiny.X) + (3 / 7) * fitted["lightgbm"].predict_proba(
        tiny.X
    )
    np.testing.assert_allclose(ensemble.predict_proba(tiny.X), expected, rtol=1e-12)
    per_member = ensemble.member_probabilities(tiny.X)
    assert sorted(per_member) == ["lightgbm", "xgboost"]


def test_weights_from_settings_and_zero_weight_members(fitted):
    ml = get_settings().ml.model_copy(
        update={"weight_lstm": 0.0, "weight_xgboost": 1.0, "weight_lightgbm": 3.0}
    )
    with override_settings(ml=ml):
        ensemble = Ensemble({n: fitted[n] for n in ("xgboost", "lightgbm")})
    # LSTM weighs 0 here: leaving it out is not "missing".
    assert ensemble.weights == pytest.approx({"xgboost": 0.25, "lightgbm": 0.75})
    assert ensemble.missing_members == []
    with pytest.raises(ValueError, match="no weight for members"):
        Ensemble(fitted, weights={"xgboost": 1.0})


def test_members_on_different_features_are_refused(fitted, tiny, small_models):
    other = MEMBERS["xgboost"]().fit(tiny.X.drop(columns=["noise_0"]), tiny.y)
    with pytest.raises(ValueError, match="other features"):
        Ensemble({"lightgbm": fitted["lightgbm"], "xgboost": other})


def test_predict_is_argmax_and_max_of_calibrated_probabilities(fitted, tiny):
    ensemble = Ensemble(fitted).calibrate(tiny.X, tiny.y, method="sigmoid")
    probs = ensemble.predict_proba(tiny.X)
    raw = ensemble.raw_proba(tiny.X)
    assert not np.allclose(probs, raw)
    np.testing.assert_allclose(probs, Calibrator.load(ensemble.calibrator.save()).transform(raw))
    signal, confidence = ensemble.predict(tiny.X)
    np.testing.assert_array_equal(signal, probs.argmax(axis=1))
    np.testing.assert_array_equal(confidence, probs.max(axis=1))
    everything = ensemble.predict_all(tiny.X)
    np.testing.assert_array_equal(everything["ensemble"], probs)


def test_top_contributions_average_the_tree_members(fitted, tiny):
    ensemble = Ensemble(fitted)
    top = ensemble.top_contributions(tiny.X, k=3)
    signal, _ = ensemble.predict(tiny.X)
    xgb = fitted["xgboost"].contributions(tiny.X, signal).to_numpy()
    lgbm = fitted["lightgbm"].contributions(tiny.X, signal).to_numpy()
    mean = (xgb + lgbm) / 2
    columns = list(tiny.X.columns)
    assert len(top) == len(tiny.X)
    for row in range(0, len(tiny.X), 37):
        expected = sorted(range(len(columns)), key=lambda j: -abs(mean[row, j]))[:3]
        assert [name for name, _ in top[row]] == [columns[j] for j in expected]
        assert [value for _, value in top[row]] == pytest.approx([mean[row, j] for j in expected])
    # The planted feature explains most calls.
    assert np.mean([row[0][0] == "signal" for row in top]) > 0.7


def test_rows_restrict_every_prediction(fitted, tiny):
    ensemble = Ensemble(fitted).calibrate(tiny.X, tiny.y)
    rows = np.array([3, 100, 400])
    np.testing.assert_allclose(
        ensemble.predict_proba(tiny.X, rows=rows), ensemble.predict_proba(tiny.X)[rows]
    )
    signal, confidence = ensemble.predict(tiny.X, rows=rows)
    assert signal.shape == confidence.shape == (3,)
    full = ensemble.top_contributions(tiny.X, k=2)
    assert ensemble.top_contributions(tiny.X, k=2, rows=rows) == [full[r] for r in rows]


def test_lstm_only_ensemble_has_no_contributions(fitted, tiny):
    ensemble = Ensemble({"lstm": fitted["lstm"]})
    assert ensemble.top_contributions(tiny.X.iloc[:4]) == [[], [], [], []]


def test_save_load_round_trip(fitted, tiny):
    ensemble = Ensemble({n: fitted[n] for n in ("lstm", "xgboost")}).calibrate(tiny.X, tiny.y)
    artifacts = ensemble.save()
    assert sorted(artifacts) == ["calibrator", "ensemble", "lstm", "xgboost"]
    assert all(isinstance(v, bytes) for v in artifacts.values())
    restored = Ensemble.load(artifacts)
    np.testing.assert_array_equal(restored.predict_proba(tiny.X), ensemble.predict_proba(tiny.X))
    assert restored.weights == ensemble.weights
    assert restored.missing_members == ["lightgbm"] and restored.notes == ensemble.notes
    assert restored.top_contributions(tiny.X, k=2) == ensemble.top_contributions(tiny.X, k=2)
    v2 = get_settings().features.model_copy(update={"version": "v2"})
    with override_settings(features=v2), pytest.raises(ValueError, match="trained on feature set v1, got v2"):
        Ensemble.load(artifacts)


def test_fit_trains_every_available_member(tiny, small_models):
    ensemble = Ensemble.fit(tiny.X, tiny.y)
    assert sorted(ensemble.members) == ["lightgbm", "lstm", "xgboost"]
    assert ensemble.calibrator.method == "none"
    only_trees = Ensemble.fit(tiny.X, tiny.y, member_names=["xgboost", "lightgbm"])
    assert only_trees.missing_members == ["lstm"]
