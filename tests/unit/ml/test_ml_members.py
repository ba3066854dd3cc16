"""Ensemble members: round trips, the feature-set guard, input checks, explanations, no lookahead."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend.core.settings import get_settings, override_settings
from backend.ml.members import MEMBERS, FeatureSetMismatch, available_members, load_member
from backend.ml.members.lstm import TORCH_AVAILABLE, LSTMMember, sequence_positions

REPO = Path(__file__).resolve().parents[3]
TREE_MEMBERS = ["xgboost", "lightgbm"]


def test_torch_is_installed_here_so_every_member_is_exercised():
    # The LSTM tests below would be meaningless without torch; the dev environment installs the extra.
    assert TORCH_AVAILABLE
    assert available_members() == ["lstm", "xgboost", "lightgbm"]


@pytest.mark.parametrize("name", ["lstm", "xgboost", "lightgbm"])
def test_save_load_round_trip_gives_identical_probabilities(name, tiny, small_models):
    member = MEMBERS[name]().fit(tiny.X, tiny.y)
    probs = member.predict_proba(tiny.X)
    assert probs.shape == (len(tiny.X), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)

    restored = load_member(name, member.save())
    assert restored.feature_columns == list(tiny.X.columns)
    assert restored.feature_set_version == "v1"
    np.testing.assert_array_equal(restored.predict_proba(tiny.X), probs)


@pytest.mark.parametrize("name", ["lstm", "xgboost", "lightgbm"])
def test_training_is_deterministic(name, tiny, small_models):
    first = MEMBERS[name]().fit(tiny.X, tiny.y).predict_proba(tiny.X)
    second = MEMBERS[name]().fit(tiny.X, tiny.y).predict_proba(tiny.X)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", TREE_MEMBERS)
def test_members_learn_the_planted_feature(name, plant, small_models):
    train, test = plant.X.iloc[::2], plant.X.iloc[1::2]
    member = MEMBERS[name]().fit(train, plant.y[::2])
    accuracy = (member.predict_proba(test).argmax(axis=1) == plant.y[1::2]).mean()
    majority = np.bincount(plant.y[::2]).max() / len(train)
    assert accuracy > majority + 0.10


@pytest.mark.parametrize("name", ["lstm", "xgboost", "lightgbm"])
def test_other_columns_are_refused_naming_them(name, tiny, small_models):
    member = MEMBERS[name]().fit(tiny.X, tiny.y)
    renamed = tiny.X.rename(columns={"noise_0": "noise_zero"})
    with pytest.raises(ValueError, match=r"missing \['noise_0'\], unexpected \['noise_zero'\]"):
        member.predict_proba(renamed)
    with pytest.raises(FeatureSetMismatch):
        member.predict_proba(tiny.X.drop(columns=["signal"]))


@pytest.mark.parametrize("name", TREE_MEMBERS)
def test_reordered_columns_are_realigned(name, tiny, small_models):
    member = MEMBERS[name]().fit(tiny.X, tiny.y)
    shuffled = tiny.X[list(reversed(tiny.X.columns))]
    np.testing.assert_array_equal(member.predict_proba(shuffled), member.predict_proba(tiny.X))


@pytest.mark.parametrize("name", ["lstm", "xgboost", "lightgbm"])
def test_other_feature_set_version_is_refused_on_load_and_predict(name, tiny, small_models):
    member = MEMBERS[name]().fit(tiny.X, tiny.y)
    data = member.save()
    with override_settings(features=get_settings().features.model_copy(update={"version": "v2"})):
        with pytest.raises(ValueError, match="trained on feature set v1, got v2"):
            MEMBERS[name].load(data)
        with pytest.raises(ValueError, match="trained on feature set v1, got v2"):
            member.predict_proba(tiny.X)
    with pytest.raises(FeatureSetMismatch, match="trained on feature set v1, got v3"):
        member.predict_proba(tiny.X, feature_set_version="v3")
    # An explicit matching version loads even when settings say otherwise.
    with override_settings(features=get_settings().features.model_copy(update={"version": "v2"})):
        assert MEMBERS[name].load(data, feature_set_version="v1").feature_set_version == "v1"


def test_loading_an_artifact_as_another_member_is_refused(tiny, small_models):
    data = MEMBERS["xgboost"]().fit(tiny.X, tiny.y).save()
    with pytest.raises(ValueError, match="holds member 'xgboost', not 'lightgbm'"):
        MEMBERS["lightgbm"].load(data)
    with pytest.raises(ValueError, match="not a model artifact"):
        MEMBERS["xgboost"].load(b"not a zip")


def test_non_finite_feature_is_refused_naming_the_column(tiny, small_models):
    bad = tiny.X.copy()
    bad.iloc[3, bad.columns.get_loc("noise_2")] = np.nan
    with pytest.raises(ValueError, match="'noise_2' has 1 NaN/inf"):
        MEMBERS["xgboost"]().fit(bad, tiny.y)
    bad.iloc[3, bad.columns.get_loc("noise_2")] = np.inf
    member = MEMBERS["lightgbm"]().fit(tiny.X, tiny.y)
    with pytest.raises(ValueError, match="'noise_2'"):
        member.predict_proba(bad)


def test_bad_labels_and_index_are_refused(tiny, small_models):
    member = MEMBERS["xgboost"]()
    with pytest.raises(ValueError, match=r"got \[3\]"):
        member.fit(tiny.X, np.where(tiny.y == 2, 3, tiny.y))
    with pytest.raises(ValueError, match="one entry per feature row"):
        member.fit(tiny.X, tiny.y[:-1])
    with pytest.raises(ValueError, match="MultiIndex named"):
        member.fit(tiny.X.reset_index(drop=True), tiny.y)
    with pytest.raises(ValueError, match="not fitted"):
        member.predict_proba(tiny.X)


@pytest.mark.parametrize("name", TREE_MEMBERS)
def test_contributions_pick_the_requested_class_and_find_the_planted_feature(name, plant, small_models):
    member = MEMBERS[name]().fit(plant.X, plant.y)
    rows = plant.X.iloc[:200]
    own = member.contributions(rows)
    assert own is not None
    assert own.shape == (200, plant.X.shape[1]) and list(own.columns) == list(plant.X.columns)
    buy = member.contributions(rows, np.full(200, 2))
    sell = member.contributions(rows, np.full(200, 0))
    predicted = member.predict_proba(rows).argmax(axis=1)
    expected = np.where((predicted == 2)[:, None], buy.to_numpy(), sell.to_numpy())
    mask = predicted != 1
    np.testing.assert_allclose(own.to_numpy()[mask], expected[mask])
    # The signal pushes BUY up where it is positive: its BUY contribution has the sign of the signal.
    signal = rows["signal"].to_numpy()
    strong = np.abs(signal) > 0.5
    assert (np.sign(buy["signal"].to_numpy()[strong]) == np.sign(signal[strong])).mean() > 0.9
    assert (buy.abs().idxmax(axis=1) == "signal").mean() > 0.8


def test_lstm_has_no_contributions(tiny, small_models):
    assert LSTMMember().fit(tiny.X, tiny.y).contributions(tiny.X) is None


def test_sequence_positions_by_hand():
    index = pd.MultiIndex.from_tuples(
        [("A", 1), ("A", 2), ("A", 3), ("A", 4), ("B", 1), ("B", 2)], names=["ticker", "trade_date"]
    )
    pad = 6
    expected = [
        [pad, pad, 0],
        [pad, 0, 1],
        [0, 1, 2],
        [1, 2, 3],
        [pad, pad, 4],
        [pad, 4, 5],
    ]
    np.testing.assert_array_equal(sequence_positions(index, 3), expected)
    with pytest.raises(ValueError, match="sorted by"):
        sequence_positions(index[::-1], 3)


def test_lstm_prediction_uses_only_its_tickers_past(tiny, small_models):
    member = LSTMMember().fit(tiny.X, tiny.y)
    base = member.predict_proba(tiny.X)
    changed = tiny.X.copy()
    tickers = changed.index.get_level_values("ticker")
    first = tickers[0]
    ticker_rows = np.flatnonzero(tickers == first)
    t = ticker_rows[40]
    changed.iloc[t] = changed.iloc[t] + 5.0
    after = member.predict_proba(changed)
    # Rows before t, and other tickers' rows, cannot see the change; t and the next 9 rows (window 10) do.
    np.testing.assert_array_equal(after[:t], base[:t])
    np.testing.assert_array_equal(after[ticker_rows[-1] + 1 :], base[ticker_rows[-1] + 1 :])
    assert not np.allclose(after[t], base[t])
    np.testing.assert_array_equal(after[t + 10 : ticker_rows[-1] + 1], base[t + 10 : ticker_rows[-1] + 1])


@pytest.mark.parametrize("name", ["lstm", "xgboost", "lightgbm"])
def test_rows_predicts_a_subset_with_the_rest_as_history(name, tiny, small_models):
    member = MEMBERS[name]().fit(tiny.X, tiny.y)
    everything = member.predict_proba(tiny.X)
    rows = np.array([0, 5, 79, 80, 200, len(tiny.X) - 1])
    np.testing.assert_allclose(member.predict_proba(tiny.X, rows=rows), everything[rows], rtol=1e-6)
    with pytest.raises(ValueError, match="within"):
        member.predict_proba(tiny.X, rows=np.array([len(tiny.X)]))


def test_lstm_without_history_sees_padding_instead(tiny, small_models):
    member = LSTMMember().fit(tiny.X, tiny.y)
    last_per_ticker = np.flatnonzero(~tiny.X.index.get_level_values("ticker").duplicated(keep="last"))
    with_history = member.predict_proba(tiny.X, rows=last_per_ticker)
    alone = member.predict_proba(tiny.X.iloc[last_per_ticker])
    assert not np.allclose(with_history, alone)
    # The 10-session window (small_models) is all that matters: 10 rows of history give the same answer.
    window = np.concatenate([np.arange(p - 9, p + 1) for p in last_per_ticker])
    recent = member.predict_proba(tiny.X.iloc[window], rows=np.arange(9, len(window), 10))
    np.testing.assert_allclose(recent, with_history, rtol=1e-6)


def test_lstm_subsamples_training_rows(tiny):
    # With 1 sample per epoch the loss sees 1 row: fitting must still work (rows drawn from the whole frame).
    ml = get_settings().ml.model_copy(update={"lstm_max_train_samples": 50, "lstm_hidden": (4, 4)})
    with override_settings(ml=ml):
        probs = LSTMMember().fit(tiny.X, tiny.y).predict_proba(tiny.X)
    assert probs.shape == (len(tiny.X), 3)


def test_without_torch_the_registry_and_ensemble_leave_the_lstm_out():
    script = textwrap.dedent(
        """
        import sys

        class BlockTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, BlockTorch())
        import numpy as np
        import pandas as pd
        from backend.core.settings import override_settings, get_settings
        from backend.ml.members import available_members
        from backend.ml.ensemble import Ensemble

        assert available_members() == ["xgboost", "lightgbm"], available_members()
        rng = np.random.default_rng(0)
        index = pd.MultiIndex.from_product(
            [["A", "B"], pd.bdate_range("2021-01-01", periods=60)], names=["ticker", "trade_date"]
        )
        X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)}, index=index)
        y = rng.integers(0, 3, 120)
        ml = get_settings().ml.model_copy(update={"xgb_n_estimators": 5, "lgbm_n_estimators": 5})
        with override_settings(ml=ml):
            ensemble = Ensemble.fit(X, y)
        assert sorted(ensemble.members) == ["lightgbm", "xgboost"]
        assert ensemble.missing_members == ["lstm"]
        assert abs(ensemble.weights["xgboost"] - 0.4 / 0.7) < 1e-12
        assert "torch" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
