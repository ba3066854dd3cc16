"""The ensemble: a weighted average of member probabilities, then calibration, plus explanations.

Weights default to the product's 0.30 LSTM / 0.40 XGBoost / 0.30 LightGBM. A member that is configured but
absent (no PyTorch for the LSTM) is left out, the remaining weights are renormalised, and the fact is
recorded in `missing_members` and `notes` so a model version says what it really is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backend.core.settings import get_settings
from backend.ml.calibration import Calibrator, Method
from backend.ml.members import MEMBERS, Member, available_members, load_member
from backend.ml.members.base import CLASS_NAMES, FeatureSetMismatch, predicted_classes

log = logging.getLogger(__name__)

META_ARTIFACT = "ensemble"
CALIBRATOR_ARTIFACT = "calibrator"


def configured_weights() -> dict[str, float]:
    """Member weights from settings, keyed by member name."""
    ml = get_settings().ml
    return {"lstm": ml.weight_lstm, "xgboost": ml.weight_xgboost, "lightgbm": ml.weight_lightgbm}


class Ensemble:
    """Fitted members, their weights and a calibrator; all members share one feature set."""

    def __init__(
        self,
        members: Mapping[str, Member],
        *,
        weights: Mapping[str, float] | None = None,
        calibrator: Calibrator | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one fitted member")
        wanted = dict(configured_weights() if weights is None else weights)
        if any(w < 0 for w in wanted.values()):
            raise ValueError(f"ensemble weights must be non-negative, got {wanted}")
        unknown = set(members) - set(wanted)
        if unknown:
            raise ValueError(f"no weight for members {sorted(unknown)}; weights given for {sorted(wanted)}")
        first = next(iter(members.values()))
        for name, member in members.items():
            if not member.is_fitted:
                raise ValueError(f"member {name!r} is not fitted")
            if (member.feature_columns, member.feature_set_version) != (
                first.feature_columns,
                first.feature_set_version,
            ):
                raise FeatureSetMismatch(f"member {name!r} was trained on other features than {first.name!r}")
        present = {name: float(wanted[name]) for name in members}
        total = sum(present.values())
        if total <= 0:
            raise ValueError(f"weights of the members present {sorted(members)} sum to zero")
        self.members: dict[str, Member] = dict(members)
        self.weights = {name: w / total for name, w in present.items()}
        self.missing_members = sorted(name for name, w in wanted.items() if w > 0 and name not in members)
        self.notes = list(notes)
        if self.missing_members:
            note = (
                f"member(s) {', '.join(self.missing_members)} missing; weights renormalised over "
                f"{', '.join(sorted(members))}: " + ", ".join(f"{n}={w:.3f}" for n, w in self.weights.items())
            )
            if note not in self.notes:
                self.notes.append(note)
            # Debug only: the note is part of the model's record (`train` prints it, `models show` has it);
            # every load of a stored model and every backtest retrain would repeat it otherwise.
            log.debug("ensemble: %s", note)
        self.calibrator = calibrator or Calibrator("none")
        self.feature_columns = list(first.feature_columns)
        self.feature_set_version = first.feature_set_version

    # -- training -------------------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        member_names: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
        feature_set_version: str | None = None,
    ) -> Ensemble:
        """Fit every available member (or `member_names`) on the same rows; uncalibrated until `calibrate`."""
        names = list(member_names) if member_names is not None else available_members()
        weights = configured_weights()
        unavailable = [n for n in names if n not in available_members()]
        if unavailable:
            raise ValueError(f"members {unavailable} are not available here (is PyTorch installed?)")
        members = {}
        for name in names:
            if weights.get(name, 0.0) <= 0:
                continue  # a zero-weight member would cost training time and change nothing
            log.info("training %s on %d rows x %d features", name, len(X), X.shape[1])
            members[name] = MEMBERS[name]().fit(X, y, sample_weight, feature_set_version=feature_set_version)
        return cls(members, weights=weights)

    def calibrate(
        self, X: pd.DataFrame, y: np.ndarray, *, rows: np.ndarray | None = None, method: Method | None = None
    ) -> Ensemble:
        """Fit the calibrator on held-out rows (never rows the members were fitted on).

        `y` holds the labels of `rows` (or of every row of X); other rows of X serve as history only.
        """
        raw = self.raw_proba(X, rows=rows)
        self.calibrator = Calibrator(method or get_settings().ml.calibration).fit(raw, y)
        return self

    # -- prediction -----------------------------------------------------------------------------------
    # Every method predicts all rows of X, or only positions `rows`, the rest of X then being history that
    # the sequence member reads its windows from (e.g. 30 sessions per ticker to score the last one).

    def member_probabilities(
        self, X: pd.DataFrame, *, rows: np.ndarray | None = None, feature_set_version: str | None = None
    ) -> dict[str, np.ndarray]:
        """Each member's (n, 3) probabilities."""
        return {
            name: member.predict_proba(X, rows=rows, feature_set_version=feature_set_version)
            for name, member in self.members.items()
        }

    def raw_proba(
        self, X: pd.DataFrame, *, rows: np.ndarray | None = None, feature_set_version: str | None = None
    ) -> np.ndarray:
        """Weighted average of member probabilities, before calibration."""
        return self._combine(self.member_probabilities(X, rows=rows, feature_set_version=feature_set_version))

    def predict_proba(
        self, X: pd.DataFrame, *, rows: np.ndarray | None = None, feature_set_version: str | None = None
    ) -> np.ndarray:
        """Calibrated (n, 3) probabilities of SELL, HOLD, BUY."""
        return self.calibrator.transform(
            self.raw_proba(X, rows=rows, feature_set_version=feature_set_version)
        )

    def predict(
        self, X: pd.DataFrame, *, rows: np.ndarray | None = None, feature_set_version: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(signal, confidence): argmax class (0 SELL, 1 HOLD, 2 BUY) and its calibrated probability."""
        probs = self.predict_proba(X, rows=rows, feature_set_version=feature_set_version)
        return predicted_classes(probs), probs.max(axis=1)

    def predict_all(
        self, X: pd.DataFrame, *, rows: np.ndarray | None = None, feature_set_version: str | None = None
    ) -> dict[str, np.ndarray]:
        """Each member's, the raw and the calibrated ensemble probabilities from one pass (for storing)."""
        per_member = self.member_probabilities(X, rows=rows, feature_set_version=feature_set_version)
        raw = self._combine(per_member)
        return {**per_member, "raw": raw, "ensemble": self.calibrator.transform(raw)}

    def top_contributions(
        self,
        X: pd.DataFrame,
        k: int = 5,
        *,
        rows: np.ndarray | None = None,
        classes: np.ndarray | None = None,
        feature_set_version: str | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Per row, the `k` features with the largest |contribution| to the ensemble's predicted class.

        Contributions (log-odds, from the members' native SHAP) are averaged over the members that provide
        them; an empty list per row when no member does (e.g. an LSTM-only ensemble). `classes` overrides
        the class explained (default: the ensemble's call).
        """
        if k < 1:
            raise ValueError("k must be >= 1")
        if classes is None:
            classes = self.predict(X, rows=rows, feature_set_version=feature_set_version)[0]
        frames = [
            frame.to_numpy()
            for member in self.members.values()
            if (frame := member.contributions(X, classes, rows=rows, feature_set_version=feature_set_version))
            is not None
        ]
        n = len(X) if rows is None else len(rows)
        if not frames:
            return [[] for _ in range(n)]
        mean = np.mean(frames, axis=0)
        columns = self.feature_columns
        k = min(k, len(columns))
        # A stable sort on -|c|: ties keep column order, so explanations are reproducible.
        top = np.argsort(-np.abs(mean), axis=1, kind="stable")[:, :k]
        return [[(columns[j], float(mean[row, j])) for j in top[row]] for row in range(n)]

    # -- persistence ----------------------------------------------------------------------------------

    def save(self) -> dict[str, bytes]:
        """Artifacts by name: one per member, the calibrator, and the ensemble's metadata."""
        meta = {
            "members": list(self.members),
            "weights": self.weights,
            "missing_members": self.missing_members,
            "notes": self.notes,
            "feature_columns": self.feature_columns,
            "feature_set_version": self.feature_set_version,
            "classes": list(CLASS_NAMES),
        }
        artifacts = {name: member.save() for name, member in self.members.items()}
        artifacts[CALIBRATOR_ARTIFACT] = self.calibrator.save()
        artifacts[META_ARTIFACT] = json.dumps(meta, sort_keys=True).encode()
        return artifacts

    @classmethod
    def load(cls, artifacts: Mapping[str, bytes], *, feature_set_version: str | None = None) -> Ensemble:
        """Restore an ensemble saved by `save`; refuses one trained on another feature-set version."""
        if META_ARTIFACT not in artifacts:
            raise ValueError(f"ensemble artifacts lack {META_ARTIFACT!r}; got {sorted(artifacts)}")
        meta = json.loads(artifacts[META_ARTIFACT])
        members = {
            name: load_member(name, artifacts[name], feature_set_version=feature_set_version)
            for name in meta["members"]
        }
        calibrator = Calibrator.load(artifacts[CALIBRATOR_ARTIFACT])
        ensemble = cls(members, weights=meta["weights"], calibrator=calibrator, notes=meta["notes"])
        ensemble.missing_members = list(meta["missing_members"])
        return ensemble

    def describe(self) -> dict[str, Any]:
        """What this ensemble is, for the model registry."""
        return {
            "members": list(self.members),
            "weights": self.weights,
            "missing_members": self.missing_members,
            "notes": self.notes,
            "calibration": self.calibrator.method,
            "feature_set_version": self.feature_set_version,
            "feature_columns": self.feature_columns,
        }

    def _combine(self, per_member: Mapping[str, np.ndarray]) -> np.ndarray:
        combined = sum(self.weights[name] * probs for name, probs in per_member.items())
        return np.asarray(combined, dtype=np.float64)
