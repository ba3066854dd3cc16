"""LightGBM member: leaf-wise boosted trees, multiclass, deterministic, with native SHAP contributions."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from backend.core.settings import get_settings
from backend.ml.members.base import N_CLASSES, N_THREADS, Member, n_threads


class LightGBMMember(Member):
    """`multiclass` objective; sizes from `get_settings().ml` at fit time."""

    name = "lightgbm"

    def __init__(self) -> None:
        super().__init__()
        self.booster: lgb.Booster | None = None

    def _fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray) -> None:
        ml = get_settings().ml
        params = {
            "objective": "multiclass",
            "num_class": N_CLASSES,
            "num_leaves": ml.lgbm_num_leaves,
            "learning_rate": ml.lgbm_learning_rate,
            "seed": ml.seed,
            # Same model from the same data on any run: no row/column-wise auto choice, fixed threads.
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": n_threads(len(X)),
            "verbose": -1,
        }
        dataset = lgb.Dataset(self._matrix(X), label=y, weight=sample_weight, free_raw_data=True)
        self.booster = lgb.train(params, dataset, num_boost_round=ml.lgbm_n_estimators)

    def _predict_proba(self, X: pd.DataFrame, rows: np.ndarray | None) -> np.ndarray:
        probs = self._booster().predict(self._matrix(X), num_threads=n_threads(len(X)))
        return np.asarray(probs, dtype=np.float64).reshape(len(X), N_CLASSES)

    def _per_class_contributions(self, X: pd.DataFrame) -> np.ndarray:
        # TreeSHAP costs milliseconds per row: worth both threads even for a few hundred rows.
        raw = self._booster().predict(self._matrix(X), pred_contrib=True, num_threads=N_THREADS)
        # LightGBM lays classes side by side: [class 0: features..., bias | class 1: ... | class 2: ...].
        per_class = np.asarray(raw, dtype=np.float64).reshape(len(X), N_CLASSES, -1)
        return per_class[:, :, :-1]

    def _save_blobs(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {}, {"model.txt": self._booster().model_to_string().encode()}

    def _restore(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> None:
        self.booster = lgb.Booster(model_str=blobs["model.txt"].decode())

    def _booster(self) -> lgb.Booster:
        if self.booster is None:
            raise ValueError("lightgbm member is not fitted")
        return self.booster

    @staticmethod
    def _matrix(X: pd.DataFrame) -> np.ndarray:
        return X.to_numpy(dtype=np.float64)
