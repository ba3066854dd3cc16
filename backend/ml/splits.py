"""Walk-forward splits over trading dates, purged by an embargo so no training label sees validation prices.

A label at date t looks up to the label horizon ahead, so training rows must end at least `embargo_days`
sessions (>= the horizon) before the first validation date. Sessions are the distinct dates present in the
data. All functions return positional row indices (for `X.iloc` / `y[...]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from backend.core.settings import get_settings


@dataclass(frozen=True)
class Split:
    """One walk-forward fold: row positions to train on and to validate on."""

    train: np.ndarray
    validation: np.ndarray
    train_start: object
    train_end: object
    validation_start: object
    validation_end: object


def _session_codes(dates: pd.Index | np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's session number (0 = earliest date present) and the sorted distinct sessions."""
    values = pd.Index(dates)
    if values.hasnans:
        raise ValueError("dates contain missing values")
    codes, sessions = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(sessions)


def walk_forward_splits(
    dates: pd.Index | np.ndarray | pd.Series,
    *,
    n_splits: int,
    validation_days: int,
    min_train_days: int,
    embargo_days: int | None = None,
    window: Literal["expanding", "rolling"] = "expanding",
    train_days: int | None = None,
) -> list[Split]:
    """Consecutive validation windows at the end of the data, each preceded by an embargo and a train window.

    Args:
        dates: each row's trading date (e.g. `X.index.get_level_values("trade_date")`).
        n_splits: number of folds; the last `n_splits * validation_days` sessions are validated on.
        validation_days: sessions per validation window.
        min_train_days: refuse folds whose train window is shorter than this.
        embargo_days: sessions dropped between train end and validation start (default settings.ml).
        window: "expanding" trains from the first session; "rolling" on the last `train_days` sessions.
    """
    embargo = get_settings().ml.embargo_days if embargo_days is None else embargo_days
    if n_splits < 1 or validation_days < 1 or min_train_days < 1 or embargo < 0:
        raise ValueError("n_splits, validation_days and min_train_days must be >= 1, embargo_days >= 0")
    if window == "rolling" and (train_days is None or train_days < min_train_days):
        raise ValueError("a rolling window needs train_days >= min_train_days")
    if window not in ("expanding", "rolling"):
        raise ValueError(f"window must be 'expanding' or 'rolling', got {window!r}")
    codes, sessions = _session_codes(dates)
    n_sessions = len(sessions)
    first_validation = n_sessions - n_splits * validation_days
    if first_validation - embargo < min_train_days:
        raise ValueError(
            f"{n_sessions} sessions cannot hold {n_splits} folds of {validation_days} validation sessions, "
            f"an embargo of {embargo} and at least {min_train_days} training sessions"
        )
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]

    def rows(start: int, stop: int) -> np.ndarray:
        """Positions of rows whose session is in [start, stop), in original row order."""
        lo, hi = np.searchsorted(sorted_codes, [start, stop])
        return np.sort(order[lo:hi])

    splits = []
    for fold in range(n_splits):
        val_start = first_validation + fold * validation_days
        val_stop = val_start + validation_days
        train_stop = val_start - embargo
        train_start = 0 if window == "expanding" else max(0, train_stop - int(train_days or 0))
        splits.append(
            Split(
                train=rows(train_start, train_stop),
                validation=rows(val_start, val_stop),
                train_start=sessions[train_start],
                train_end=sessions[train_stop - 1],
                validation_start=sessions[val_start],
                validation_end=sessions[val_stop - 1],
            )
        )
    return splits


def calibration_split(
    positions: np.ndarray,
    dates: pd.Index | np.ndarray | pd.Series,
    *,
    calibration_days: int,
    embargo_days: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a calibration window out of the tail of the training rows `positions`.

    Returns (fit positions, calibration positions): the last `calibration_days` sessions of the training
    rows are for calibration, the `embargo_days` sessions before them are dropped, and the rest fit the
    members, so calibration labels are never seen, even partly, by the models they calibrate.
    """
    embargo = get_settings().ml.embargo_days if embargo_days is None else embargo_days
    if calibration_days < 1 or embargo < 0:
        raise ValueError("calibration_days must be >= 1 and embargo_days >= 0")
    positions = np.asarray(positions, dtype=np.int64)
    all_dates = pd.Index(dates)
    codes, _ = _session_codes(all_dates[positions])
    n_sessions = int(codes.max()) + 1 if len(codes) else 0
    cal_start = n_sessions - calibration_days
    fit_stop = cal_start - embargo
    if fit_stop < 1:
        raise ValueError(
            f"training rows span {n_sessions} sessions: too few for {calibration_days} calibration sessions "
            f"after an embargo of {embargo}"
        )
    return positions[codes < fit_stop], positions[codes >= cal_start]
