"""XGBoost member: gradient-boosted trees with a softmax objective and native SHAP contributions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from backend.core.settings import get_settings
from backend.ml.members.base import N_CLASSES, N_THREADS, Member, n_threads


class XGBoostMember(Member):
    """`multi:softprob`, histogram trees; sizes from `get_settings().ml` at fit time."""

    name = "xgboost"

    def __init__(self) -> None:
        super().__init__()
        self.booster: xgb.Booster | None = None

    def _fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray) -> None:
        ml = get_settings().ml
        params = {
            "objective": "multi:softprob",
            "num_class": N_CLASSES,
            "max_depth": ml.xgb_max_depth,
            "eta": ml.xgb_learning_rate,
            "tree_method": "hist",
            "nthread": n_threads(len(X)),
            "seed": ml.seed,
            "eval_metric": "mlogloss",
            "verbosity": 0,
        }
        dtrain = xgb.DMatrix(self._matrix(X), label=y, weight=sample_weight, feature_names=self._names())
        self.booster = xgb.train(params, dtrain, num_boost_round=ml.xgb_n_estimators)

    def _predict_proba(self, X: pd.DataFrame, rows: np.ndarray | None) -> np.ndarray:
        booster = self._booster(len(X))
        probs = booster.predict(xgb.DMatrix(self._matrix(X), feature_names=self._names()))
        return np.asarray(probs, dtype=np.float64).reshape(len(X), N_CLASSES)

    def _per_class_contributions(self, X: pd.DataFrame) -> np.ndarray:
        booster = self._booster()
        # TreeSHAP costs milliseconds per row: worth both threads even for a few hundred rows.
        booster.set_param({"nthread": N_THREADS})
        dmatrix = xgb.DMatrix(self._matrix(X), feature_names=self._names())
        # (n, classes, features + bias); the last column is the bias term.
        contribs = booster.predict(dmatrix, pred_contribs=True)
        return np.asarray(contribs, dtype=np.float64).reshape(len(X), N_CLASSES, -1)[:, :, :-1]

    def _save_blobs(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {}, {"model.ubj": bytes(self._booster().save_raw("ubj"))}

    def _restore(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> None:
        booster = xgb.Booster()
        booster.load_model(bytearray(blobs["model.ubj"]))
        self.booster = booster

    def _booster(self, n_rows: int | None = None) -> xgb.Booster:
        if self.booster is None:
            raise ValueError("xgboost member is not fitted")
        if n_rows is not None:
            self.booster.set_param({"nthread": n_threads(n_rows)})
        return self.booster

    def _names(self) -> list[str]:
        # XGBoost rejects names with [, ] or <; positions suffice because columns are checked by name.
        return [f"f{i}" for i in range(len(self.feature_columns))]

    @staticmethod
    def _matrix(X: pd.DataFrame) -> np.ndarray:
        return X.to_numpy(dtype=np.float32)
