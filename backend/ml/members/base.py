"""The interface every ensemble member implements, and the feature-set guard they share.

A member is trained on one feature frame layout (column names, order, feature-set version). Predicting with
another layout would silently feed the wrong numbers into the trees, so every entry point checks it.
"""

from __future__ import annotations

import io
import json
import zipfile
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_sample_weight

from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings

N_CLASSES = 3  # SELL=0, HOLD=1, BUY=2 (backend.features labels)
CLASS_NAMES = ("SELL", "HOLD", "BUY")
INDEX_NAMES = ("ticker", "trade_date")
N_THREADS = 2  # the product's machines have 2 cores; a fixed count also keeps training reproducible
# Below this many rows a second OpenMP thread costs more in synchronisation than it saves, and on a busy
# machine (API + worker on 2 cores) its spin-waiting can make a tiny fit 20x slower.
SMALL_MATRIX_ROWS = 20_000


def n_threads(n_rows: int) -> int:
    """Threads for tree training/inference on `n_rows` rows: one for small matrices, else N_THREADS."""
    return 1 if n_rows < SMALL_MATRIX_ROWS else N_THREADS


class FeatureSetMismatch(ValidationFailed, ValueError):
    """A model was asked to load or predict on features other than the ones it was trained on."""


def check_features(X: pd.DataFrame) -> None:
    """Reject frames members cannot use: wrong index, non-numeric or non-finite columns (named)."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"features must be a pandas DataFrame, got {type(X).__name__}")
    if not isinstance(X.index, pd.MultiIndex) or tuple(X.index.names) != INDEX_NAMES:
        raise ValueError(f"features need a MultiIndex named {INDEX_NAMES}, got {list(X.index.names)}")
    if len(X.columns) == 0:
        raise ValueError("features have no columns")
    if X.columns.has_duplicates:
        raise ValueError(f"duplicate feature columns: {sorted(set(X.columns[X.columns.duplicated()]))}")
    for column in X.columns:
        values = X[column].to_numpy()
        if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
            raise ValueError(f"feature column {column!r} is not numeric (dtype {values.dtype})")
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ValueError(f"feature column {column!r} has {bad} NaN/inf values; features must be finite")


def check_labels(y: np.ndarray, n_rows: int) -> np.ndarray:
    """Labels as an int array in {0, 1, 2} with one entry per feature row."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_rows:
        raise ValueError(f"labels must be 1-D with one entry per feature row ({n_rows}), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise ValueError("labels must be integers 0 (SELL), 1 (HOLD) or 2 (BUY)")
        labels = labels.astype(np.int64)
    bad = set(np.unique(labels).tolist()) - {0, 1, 2}
    if bad:
        raise ValueError(f"labels must be 0 (SELL), 1 (HOLD) or 2 (BUY); got {sorted(bad)}")
    return labels.astype(np.int64)


def balanced_weights(y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """The caller's weights, or weights that make each class count equally in the loss."""
    if sample_weight is None:
        return np.asarray(compute_sample_weight("balanced", y), dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != y.shape or not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must be finite, non-negative and have one entry per label")
    return weights


def pack(meta: dict[str, Any], blobs: dict[str, bytes]) -> bytes:
    """Metadata (JSON) and native model blobs in one zip: inspectable, and no pickle."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(meta, sort_keys=True))
        for name, blob in blobs.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Inverse of `pack`."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            meta = json.loads(archive.read("meta.json"))
            blobs = {name: archive.read(name) for name in archive.namelist() if name != "meta.json"}
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"not a model artifact: {exc}") from exc
    return meta, blobs


class Member(ABC):
    """One model of the ensemble: fit on features + labels, predict class probabilities (n, 3).

    Subclasses implement `_fit`, `_predict_proba`, `_save_blobs`, `_restore`; the base class owns input
    checks, class balancing and the feature-set guard.
    """

    name: ClassVar[str]
    # True for members whose prediction for a row reads earlier rows (sequences); `rows` then keeps X whole.
    uses_history: ClassVar[bool] = False

    def __init__(self) -> None:
        self.feature_columns: list[str] = []
        self.feature_set_version: str = ""

    @property
    def is_fitted(self) -> bool:
        return bool(self.feature_columns)

    # -- public API -----------------------------------------------------------------------------------

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        feature_set_version: str | None = None,
    ) -> Self:
        """Train on `X` (MultiIndex ticker, trade_date) and labels `y`; classes are balanced by default."""
        check_features(X)
        labels = check_labels(y, len(X))
        if len(np.unique(labels)) < 2:
            raise ValueError("labels hold a single class; a classifier needs at least two")
        weights = balanced_weights(labels, sample_weight)
        self.feature_columns = [str(c) for c in X.columns]
        self.feature_set_version = feature_set_version or get_settings().features.version
        self._fit(X, labels, weights)
        return self

    def predict_proba(
        self,
        X: pd.DataFrame,
        *,
        rows: np.ndarray | None = None,
        feature_set_version: str | None = None,
    ) -> np.ndarray:
        """Class probabilities (columns SELL, HOLD, BUY) for every row of `X`, or for positions `rows` only.

        With `rows`, the other rows of `X` are history: a sequence member reads its windows from them.
        """
        frame = self.aligned(X, feature_set_version)
        positions = check_rows(rows, len(frame))
        if positions is not None and not self.uses_history:
            frame, positions = frame.iloc[positions], None
        probs = np.asarray(self._predict_proba(frame, positions), dtype=np.float64)
        # Libraries compute in float32; renormalise in float64 so rows sum to 1 to double precision.
        return probs / probs.sum(axis=1, keepdims=True)

    def contributions(
        self,
        X: pd.DataFrame,
        classes: np.ndarray | None = None,
        *,
        rows: np.ndarray | None = None,
        feature_set_version: str | None = None,
    ) -> pd.DataFrame | None:
        """Per-row, per-feature contributions (log-odds) to `classes` (default: this member's argmax).

        For all rows of `X` or positions `rows`; None when the member has no per-feature contributions.
        """
        frame = self.aligned(X, feature_set_version)
        positions = check_rows(rows, len(frame))
        if positions is not None:
            frame = frame.iloc[positions]
        per_class = self._per_class_contributions(frame)
        if per_class is None:
            return None
        if classes is None:
            chosen = predicted_classes(self._predict_proba(frame, None))
        else:
            chosen = check_classes(classes, len(frame))
        picked = per_class[np.arange(len(frame)), chosen, :]
        return pd.DataFrame(picked, index=frame.index, columns=self.feature_columns)

    def save(self) -> bytes:
        """Serialise the fitted member (metadata + native model) to bytes."""
        self._require_fitted()
        meta = {
            "member": self.name,
            "feature_columns": self.feature_columns,
            "feature_set_version": self.feature_set_version,
        }
        meta_extra, blobs = self._save_blobs()
        return pack({**meta, **meta_extra}, blobs)

    @classmethod
    def load(cls, data: bytes, *, feature_set_version: str | None = None) -> Self:
        """Restore a member saved by `save`; refuses one trained on another feature-set version."""
        meta, blobs = unpack(data)
        if meta.get("member") != cls.name:
            raise ValueError(f"artifact holds member {meta.get('member')!r}, not {cls.name!r}")
        member = cls()
        member.feature_columns = list(meta["feature_columns"])
        member.feature_set_version = str(meta["feature_set_version"])
        member.check_version(feature_set_version)
        member._restore(meta, blobs)
        return member

    def check_version(self, feature_set_version: str | None = None) -> None:
        """Raise unless the model was trained on `feature_set_version` (default: the configured one)."""
        expected = feature_set_version or get_settings().features.version
        if expected != self.feature_set_version:
            raise FeatureSetMismatch(
                f"{self.name} model trained on feature set {self.feature_set_version}, got {expected}"
            )

    # -- for subclasses -------------------------------------------------------------------------------

    @abstractmethod
    def _fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray) -> None: ...

    @abstractmethod
    def _predict_proba(self, X: pd.DataFrame, rows: np.ndarray | None) -> np.ndarray:
        """Probabilities for `rows` of X (all rows when None; always None unless `uses_history`)."""

    @abstractmethod
    def _save_blobs(self) -> tuple[dict[str, Any], dict[str, bytes]]: ...

    @abstractmethod
    def _restore(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> None: ...

    def _per_class_contributions(self, X: pd.DataFrame) -> np.ndarray | None:
        """Contributions shaped (n, 3, n_features) without the bias term; None if unsupported."""
        return None

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise ValueError(f"{self.name} member is not fitted")

    def aligned(self, X: pd.DataFrame, feature_set_version: str | None = None) -> pd.DataFrame:
        """`X` checked, with columns in training order; raises if the feature set differs."""
        self._require_fitted()
        self.check_version(feature_set_version)
        check_features(X)
        given = [str(c) for c in X.columns]
        if given != self.feature_columns:
            missing = [c for c in self.feature_columns if c not in set(given)]
            extra = [c for c in given if c not in set(self.feature_columns)]
            if missing or extra:
                raise FeatureSetMismatch(
                    f"{self.name} model trained on feature set {self.feature_set_version} with "
                    f"{len(self.feature_columns)} columns; missing {missing}, unexpected {extra}"
                )
            # Same columns in another order: reorder rather than fail, trees index features by position.
            X = X.loc[:, self.feature_columns]
        return X


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    """Argmax class per row."""
    return np.asarray(np.argmax(probs, axis=1), dtype=np.int64)


def check_rows(rows: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """Row positions to predict: None (all rows) or distinct integers within [0, n_rows)."""
    if rows is None:
        return None
    positions = np.asarray(rows)
    if positions.ndim != 1 or not np.issubdtype(positions.dtype, np.integer):
        raise ValueError("rows must be a 1-D array of integer row positions")
    if len(positions) and (positions.min() < 0 or positions.max() >= n_rows):
        raise ValueError(f"rows must lie within [0, {n_rows})")
    return positions.astype(np.int64)


def check_classes(classes: np.ndarray, n_rows: int) -> np.ndarray:
    """Classes to explain, one per row, each in {0, 1, 2}."""
    chosen = np.asarray(classes)
    if chosen.shape != (n_rows,) or not np.isin(chosen, (0, 1, 2)).all():
        raise ValueError(f"classes must hold one of 0, 1, 2 per row ({n_rows} rows)")
    return chosen.astype(np.int64)
