"""Probability calibration on held-out data, and the reliability measures that judge it.

Calibration is one-vs-rest: one monotone map per class (isotonic, or Platt's sigmoid on the log-odds), then
each row is renormalised to sum to 1. It must be fitted on data the members did not train on, and judged on
data it was not fitted on: `evaluate_calibration` refuses an evaluation window that does not come later.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal, Self

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from backend.ml.members.base import N_CLASSES, check_labels

Method = Literal["isotonic", "sigmoid", "none"]
PROB_FLOOR = 1e-6  # isotonic maps can output exactly 0; a floor keeps log loss finite and rows normalisable


def check_probabilities(probs: np.ndarray) -> np.ndarray:
    """Probabilities as float64 (n, 3) in [0, 1]."""
    array = np.asarray(probs, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != N_CLASSES:
        raise ValueError(f"probabilities must have shape (n, {N_CLASSES}), got {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any() or (array > 1 + 1e-9).any():
        raise ValueError("probabilities must be finite and within [0, 1]")
    return array


def brier_score(probs: np.ndarray, y: np.ndarray) -> float:
    """Multi-class Brier score: mean over rows of the squared distance to the one-hot label (0 is perfect)."""
    p = check_probabilities(probs)
    labels = check_labels(y, len(p))
    onehot = np.eye(N_CLASSES)[labels]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE of the max-probability confidence: size-weighted |accuracy - mean confidence| over equal bins."""
    p = check_probabilities(probs)
    labels = check_labels(y, len(p))
    if len(p) == 0:
        raise ValueError("expected_calibration_error needs at least one row")
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    # Bins (0, 1/n], (1/n, 2/n], ...; confidence is at least 1/3, so the first bins are usually empty.
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        total += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total / len(p))


class Calibrator:
    """One-vs-rest calibration maps; serialises to JSON (thresholds or coefficients), never pickle."""

    def __init__(self, method: Method = "isotonic") -> None:
        if method not in ("isotonic", "sigmoid", "none"):
            raise ValueError(f"calibration method must be isotonic, sigmoid or none, got {method!r}")
        self.method: Method = method
        # isotonic: per class (x thresholds, y thresholds); sigmoid: per class (coef, intercept).
        self.maps: list[tuple[list[float], list[float]]] = []
        self.n_fit = 0

    @property
    def is_fitted(self) -> bool:
        return self.method == "none" or len(self.maps) == N_CLASSES

    def fit(self, probs: np.ndarray, y: np.ndarray) -> Self:
        """Fit one map per class on held-out probabilities and their true labels."""
        p = check_probabilities(probs)
        labels = check_labels(y, len(p))
        self.n_fit = len(p)
        if self.method == "none":
            return self
        if len(np.unique(labels)) < 2:
            raise ValueError("calibration data hold a single class; need held-out rows of several classes")
        self.maps = []
        for k in range(N_CLASSES):
            target = (labels == k).astype(np.float64)
            if self.method == "isotonic":
                iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[:, k], target)
                self.maps.append(
                    ([float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_])
                )
            elif target.min() == target.max():
                # Class absent (or the only one) in the window: the best constant is its observed rate.
                self.maps.append(([0.0], [_logit(np.array([target[0]]))[0]]))
            else:
                platt = LogisticRegression(C=1e6).fit(_logit(p[:, k])[:, None], target)
                self.maps.append(([float(platt.coef_[0, 0])], [float(platt.intercept_[0])]))
        return self

    def transform(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, rows summing to 1."""
        p = check_probabilities(probs)
        if self.method == "none":
            return p
        if not self.is_fitted:
            raise ValueError("calibrator is not fitted")
        out = np.empty_like(p)
        for k, (a, b) in enumerate(self.maps):
            if self.method == "isotonic":
                out[:, k] = np.interp(p[:, k], np.asarray(a), np.asarray(b))
            else:
                out[:, k] = 1.0 / (1.0 + np.exp(-(a[0] * _logit(p[:, k]) + b[0])))
        out = np.clip(out, PROB_FLOOR, 1.0)
        return out / out.sum(axis=1, keepdims=True)

    def save(self) -> bytes:
        return json.dumps({"method": self.method, "maps": self.maps, "n_fit": self.n_fit}).encode()

    @classmethod
    def load(cls, data: bytes) -> Calibrator:
        try:
            payload = json.loads(data)
            calibrator = cls(payload["method"])
            calibrator.maps = [(list(a), list(b)) for a, b in payload["maps"]]
            calibrator.n_fit = int(payload["n_fit"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a calibrator artifact: {exc}") from exc
        return calibrator


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, PROB_FLOOR, 1 - PROB_FLOOR)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


@dataclass(frozen=True)
class CalibrationReport:
    """Reliability on the evaluation window, before and after calibration."""

    method: str
    n_fit: int
    n_eval: int
    brier_before: float
    brier_after: float
    ece_before: float
    ece_after: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_calibration(
    calibrator: Calibrator,
    probs: np.ndarray,
    y: np.ndarray,
    *,
    fit_dates: np.ndarray | None = None,
    eval_dates: np.ndarray | None = None,
) -> CalibrationReport:
    """Brier and ECE of raw vs calibrated probabilities on a window LATER than the calibration window.

    With dates given, an evaluation window that starts on or before the calibration window's last date is
    refused: judging a calibrator on the data it was fitted on flatters it.
    """
    if fit_dates is not None and eval_dates is not None:
        if len(fit_dates) == 0 or len(eval_dates) == 0:
            raise ValueError("calibration and evaluation windows must both be non-empty")
        if np.min(eval_dates) <= np.max(fit_dates):
            raise ValueError(
                f"calibration evaluated from {np.min(eval_dates)}, not after the calibration window's "
                f"end {np.max(fit_dates)}: evaluate on a later window"
            )
    calibrated = calibrator.transform(probs)
    return CalibrationReport(
        method=calibrator.method,
        n_fit=calibrator.n_fit,
        n_eval=len(probs),
        brier_before=brier_score(probs, y),
        brier_after=brier_score(calibrated, y),
        ece_before=expected_calibration_error(probs, y),
        ece_after=expected_calibration_error(calibrated, y),
    )
