"""Walk-forward splits and the calibration carve-out respect the embargo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.ml.splits import calibration_split, walk_forward_splits


def _dates(n_tickers: int = 3, n_days: int = 120) -> np.ndarray:
    """Row dates of a (ticker, date)-sorted frame; one ticker starts late so rows are ragged."""
    sessions = pd.bdate_range("2023-01-02", periods=n_days)
    per_ticker = [sessions if t else sessions[15:] for t in range(n_tickers)]
    return np.concatenate([s.to_numpy() for s in per_ticker])


def _gap(train_dates: np.ndarray, val_dates: np.ndarray, sessions: np.ndarray) -> int:
    """Sessions strictly between the last train date and the first validation date."""
    return int(((sessions > train_dates.max()) & (sessions < val_dates.min())).sum())


@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_walk_forward_folds_never_overlap_and_keep_the_embargo(window):
    dates = _dates()
    sessions = np.unique(dates)
    splits = walk_forward_splits(
        dates,
        n_splits=4,
        validation_days=10,
        min_train_days=30,
        embargo_days=10,
        window=window,
        train_days=40,
    )
    assert len(splits) == 4
    seen_validation: set[int] = set()
    for i, split in enumerate(splits):
        train_dates, val_dates = dates[split.train], dates[split.validation]
        assert set(split.train).isdisjoint(split.validation)
        assert train_dates.max() < val_dates.min()
        assert _gap(train_dates, val_dates, sessions) == 10
        assert len(np.unique(val_dates)) == 10
        # every row of the validation sessions is in the fold, none twice across folds
        assert len(split.validation) == np.isin(dates, np.unique(val_dates)).sum()
        assert seen_validation.isdisjoint(split.validation)
        seen_validation |= set(split.validation)
        if window == "expanding":
            assert train_dates.min() == sessions[0]
        else:
            assert len(np.unique(train_dates)) == 40
        assert split.validation_start == val_dates.min() and split.train_end == train_dates.max()
        if i:
            assert split.validation_start > splits[i - 1].validation_end
    # The folds tile the last 40 sessions.
    assert np.unique(dates[sorted(seen_validation)]).tolist() == sessions[-40:].tolist()


def test_embargo_defaults_to_settings(small_models):
    dates = _dates()
    split = walk_forward_splits(dates, n_splits=1, validation_days=10, min_train_days=30)[0]
    assert _gap(dates[split.train], dates[split.validation], np.unique(dates)) == 6  # small_models sets 6


def test_too_little_history_is_refused():
    with pytest.raises(ValueError, match="cannot hold 5 folds"):
        walk_forward_splits(
            _dates(n_days=60), n_splits=5, validation_days=10, min_train_days=20, embargo_days=10
        )


def test_calibration_window_is_carved_from_the_train_tail_with_an_embargo():
    dates = _dates()
    sessions = np.unique(dates)
    split = walk_forward_splits(dates, n_splits=2, validation_days=10, min_train_days=30, embargo_days=10)[1]
    fit, cal = calibration_split(split.train, dates, calibration_days=15, embargo_days=10)
    assert set(fit).isdisjoint(cal) and set(fit) | set(cal) <= set(split.train)
    assert len(np.unique(dates[cal])) == 15
    assert dates[cal].max() == dates[split.train].max()
    assert _gap(dates[fit], dates[cal], sessions) == 10
    # the rows dropped are exactly those of the 10 embargo sessions
    dropped = np.setdiff1d(split.train, np.concatenate([fit, cal]))
    assert len(np.unique(dates[dropped])) == 10
    with pytest.raises(ValueError, match="too few"):
        calibration_split(split.train, dates, calibration_days=len(sessions), embargo_days=10)
