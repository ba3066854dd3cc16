"""Model registry and predictions: register with a promotion gate, load the active model, store calls."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.ml.models import ModelArtifact, ModelVersion, Prediction

# Registry reads live in a light module (the API imports it without the ML stack); re-exported here.
from backend.ml.registry import active_model, get, list_models, list_page  # noqa: F401

if TYPE_CHECKING:
    # The model libraries (torch, XGBoost, LightGBM, scikit-learn, pandas-ta) and pandas load only where a
    # model is built, loaded or run, so `tft-trader models list` and the API's registry pages start fast.
    import numpy as np
    import pandas as pd

    from backend.ml.ensemble import Ensemble

log = logging.getLogger(__name__)
_loaded: dict[str, Ensemble] = {}  # version -> ensemble; versions are immutable, so caching is safe


@dataclass
class Promotion:
    promoted: bool
    new_score: float
    active_version: str | None
    active_score: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def promotion_decision(new_score: float, active: ModelVersion | None) -> Promotion:
    """Promote when there is no active model or the new out-of-sample score is not worse."""
    if active is None:
        return Promotion(True, new_score, None, None, "first model: always promoted")
    if new_score >= active.oos_score:
        return Promotion(
            True,
            new_score,
            active.version,
            active.oos_score,
            f"out-of-sample score {new_score:.4f} >= active {active.oos_score:.4f}",
        )
    return Promotion(
        False,
        new_score,
        active.version,
        active.oos_score,
        f"out-of-sample score {new_score:.4f} < active {active.oos_score:.4f}: active model kept",
    )


async def register(
    *, session: AsyncSession, ensemble: Ensemble, version: str, record: dict[str, Any]
) -> tuple[ModelVersion, Promotion]:
    """Store a trained ensemble with its record; activate it if it passes the promotion gate."""
    active = await active_model(session=session)
    decision = promotion_decision(record["oos_score"], active)
    model = ModelVersion(
        version=version,
        members=sorted(ensemble.members),
        weights=ensemble.weights,
        feature_set_version=ensemble.feature_set_version,
        feature_columns=list(ensemble.feature_columns),
        promotion=decision.as_dict(),
        notes=list(ensemble.notes),
        is_active=False,
        **record,
    )
    session.add(model)
    await session.flush()
    session.add_all(ModelArtifact(model_id=model.id, name=n, data=d) for n, d in ensemble.save().items())
    if decision.promoted:
        await session.execute(update(ModelVersion).where(ModelVersion.id != model.id).values(is_active=False))
        model.is_active = True
    await session.flush()
    return model, decision


async def load_ensemble(*, session: AsyncSession, model: ModelVersion) -> Ensemble:
    """The fitted ensemble of `model`, refusing artifacts built for another feature set."""
    from backend.features.build import FEATURE_SET_VERSION
    from backend.ml.ensemble import Ensemble

    if model.feature_set_version != FEATURE_SET_VERSION:
        raise ValidationFailed(
            f"model {model.version} was trained on feature set {model.feature_set_version}, this code builds "
            f"{FEATURE_SET_VERSION}: retrain with `tft-trader train`"
        )
    if model.version not in _loaded:
        rows = await session.execute(
            select(ModelArtifact.name, ModelArtifact.data).where(ModelArtifact.model_id == model.id)
        )
        _loaded[model.version] = Ensemble.load(dict(rows.all()), feature_set_version=FEATURE_SET_VERSION)
    return _loaded[model.version]


def model_age_days(model: ModelVersion, as_of: date) -> int:
    """Calendar days between the newest data the model saw and the date it would predict."""
    return (as_of - model.as_of).days


def check_fresh(model: ModelVersion, as_of: date, *, force: bool = False) -> None:
    """Refuse a stale model (older than `ml.max_model_age_days` at `as_of`) unless forced."""
    if model.as_of > as_of:
        # Not overridable: the model learned from sessions after the one it would predict.
        raise ValidationFailed(
            f"active model {model.version} was trained on data up to {model.as_of}, after {as_of}: "
            "predicting an earlier date with it would use the future"
        )
    limit = get_settings().ml.max_model_age_days
    age = model_age_days(model, as_of)
    if age > limit and not force:
        raise ValidationFailed(
            f"active model {model.version} is {age} days old at {as_of} "
            f"(limit {limit}, ML__MAX_MODEL_AGE_DAYS): "
            "retrain with `tft-trader train`, or pass --force to predict anyway"
        )


async def store_predictions(*, session: AsyncSession, frame: pd.DataFrame, model_version: str) -> int:
    """Upsert predictions by (ticker, trade_date, model_version)."""
    if frame.empty:
        return 0
    floats = ("p_sell", "p_hold", "p_buy", "confidence")
    rows = [
        {**r, **{c: float(r[c]) for c in floats}, "model_version": model_version}
        for r in frame[
            ["ticker", "trade_date", *floats, "signal", "member_probabilities", "contributions"]
        ].to_dict("records")
    ]
    table = table_of(Prediction)
    stmt = dialect_insert(session, table)
    updatable = [c for c in rows[0] if c not in ("ticker", "trade_date", "model_version")]
    stmt = stmt.on_conflict_do_update(
        index_elements=["ticker", "trade_date", "model_version"],
        set_={c: stmt.excluded[c] for c in updatable},
    )
    await session.execute(stmt, rows)
    return len(rows)


async def load_predictions(
    *, session: AsyncSession, trade_date: date, model_version: str | None = None
) -> pd.DataFrame:
    """Predictions for a trading date (by default those of the active model)."""
    import pandas as pd

    if model_version is None:
        active = await active_model(session=session)
        if active is None:
            return pd.DataFrame()
        model_version = active.version
    rows = (
        await session.scalars(
            select(Prediction).where(
                Prediction.trade_date == trade_date, Prediction.model_version == model_version
            )
        )
    ).all()
    columns = [column.key for column in table_of(Prediction).c]
    return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows])


async def prediction_dates(*, session: AsyncSession, end: date, limit: int) -> list[tuple[date, str]]:
    """(trading date, model version) of stored predictions on the newest `limit` dates up to `end`."""
    newest = (
        select(Prediction.trade_date)
        .where(Prediction.trade_date <= end)
        .distinct()
        .order_by(Prediction.trade_date.desc())
        .limit(limit)
    )
    dates = list((await session.scalars(newest)).all())
    if not dates:
        return []
    query = (
        select(Prediction.trade_date, Prediction.model_version)
        .where(Prediction.trade_date.in_(dates))
        .distinct()
        .order_by(Prediction.trade_date, Prediction.model_version)
    )
    return [(d, v) for d, v in (await session.execute(query)).all()]


def prediction_frame(
    ensemble: Ensemble, X: pd.DataFrame, rows: np.ndarray, k: int = 5, *, explain: str | None = None
) -> pd.DataFrame:
    """Predictions for X.iloc[rows] (X may carry earlier rows as the LSTM's history), with the why.

    `explain="BUY"` computes the SHAP contributions only for rows called BUY (others get []): a replay
    needs them only for the candidates it records, and SHAP is most of the prediction time.
    """
    import numpy as np
    import pandas as pd

    from backend.ml.members.base import CLASS_NAMES

    everything = ensemble.predict_all(X, rows=rows)  # only `rows` are scored; the rest is history
    probs = everything["ensemble"]
    signal = probs.argmax(axis=1)
    chosen = X.iloc[rows]
    explained = np.ones(len(rows), dtype=bool) if explain is None else signal == CLASS_NAMES.index(explain)
    top: list[list[tuple[str, float]]] = [[] for _ in rows]
    if explained.any():
        for i, row in zip(
            np.flatnonzero(explained),
            ensemble.top_contributions(X, k, rows=rows[explained], classes=signal[explained]),
            strict=True,
        ):
            top[i] = row
    index = chosen.index
    return pd.DataFrame(
        {
            "ticker": index.get_level_values("ticker"),
            "trade_date": index.get_level_values("trade_date"),
            "p_sell": probs[:, 0],
            "p_hold": probs[:, 1],
            "p_buy": probs[:, 2],
            "signal": [CLASS_NAMES[c] for c in signal],
            "confidence": probs.max(axis=1),
            "member_probabilities": [
                {name: [round(float(v), 6) for v in everything[name][i]] for name in ensemble.members}
                for i in range(len(rows))
            ],
            "contributions": [
                [
                    {"feature": f, "contribution": round(c, 6), "value": float(chosen.iloc[i][f])}
                    for f, c in row
                ]
                for i, row in enumerate(top)
            ],
        }
    )
