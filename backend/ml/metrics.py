"""Out-of-sample classification metrics shared by members, the ensemble and the baselines."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score

from backend.ml.calibration import brier_score, check_probabilities, expected_calibration_error
from backend.ml.members.base import check_labels

BUY = 2
LABELS = [0, 1, 2]


def classification_metrics(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, macro F1, BUY precision, log loss, Brier, ECE and BUY share of argmax predictions.

    BUY precision is 0 when nothing is predicted BUY (the model makes no BUY calls to be right about).
    """
    p = check_probabilities(probs)
    labels = check_labels(y, len(p))
    if len(p) == 0:
        raise ValueError("metrics need at least one row")
    predicted = p.argmax(axis=1)
    sums = p.sum(axis=1, keepdims=True)
    if not np.allclose(sums, 1.0, atol=1e-6):
        raise ValueError("probability rows must sum to 1")
    return {
        "n": float(len(p)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, labels=LABELS, average="macro", zero_division=0)),
        "buy_precision": float(
            precision_score(labels, predicted, labels=[BUY], average="macro", zero_division=0)
        ),
        "log_loss": float(log_loss(labels, p / sums, labels=LABELS)),
        "brier": brier_score(p, labels),
        "ece": expected_calibration_error(p, labels),
        "buy_share": float(np.mean(predicted == BUY)),
    }
