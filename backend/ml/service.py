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

    from backend.ml.edge import OutcomeModel
    from backend.ml.ensemble import Ensemble

log = logging.getLogger(__name__)
_loaded: dict[str, Ensemble] = {}  # version -> ensemble; versions are immutable, so caching is safe


MIN_SAME_ROWS = 200  # fewer shared out-of-sample rows than this cannot tell two models apart


@dataclass
class Promotion:
    promoted: bool
    new_score: float
    active_version: str | None
    active_score: float | None
    reason: str
    prior_score: float | None = None
    compared_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def promotion_decision(
    new_score: float,
    active: ModelVersion | None,
    *,
    prior_score: float,
    same_rows: tuple[float, float, int] | None = None,
) -> Promotion:
    """Go live only when better than the trailing class-frequency prior and not worse than the active model.

    Scores are minus the out-of-sample log loss (higher is better). `same_rows` = (challenger score, active
    score, rows) on the same out-of-sample rows, those newer than the active model's data; without enough of
    them the stored out-of-sample scores are compared instead, and the reason says so.
    """
    active_version = None if active is None else active.version
    active_score = None if active is None else active.oos_score
    if new_score <= prior_score:
        if active is not None and beats_prior(active):
            return Promotion(
                False,
                new_score,
                active_version,
                active_score,
                f"out-of-sample score {new_score:.4f} does not beat the trailing prior's {prior_score:.4f}: "
                "active model kept",
                prior_score,
            )
        # Nothing better exists: it goes in to rank the day's candidates, but it can never make a signal
        # (`beats_prior` and `trusted` are both false on its predictions).
        return Promotion(
            True,
            new_score,
            active_version,
            active_score,
            f"out-of-sample score {new_score:.4f} does not beat the trailing prior's {prior_score:.4f}: "
            "active for ranking only, it makes no signals",
            prior_score,
        )
    if active is None:
        return Promotion(
            True, new_score, None, None, f"no active model; beats the prior ({prior_score:.4f})", prior_score
        )
    if same_rows is not None and same_rows[2] >= MIN_SAME_ROWS:
        mine, theirs, n = same_rows
        better = mine >= theirs
        verb = ">=" if better else "<"
        kept = "" if better else ": active model kept"
        return Promotion(
            better,
            mine,
            active.version,
            theirs,
            f"on the same {n} out-of-sample rows: score {mine:.4f} {verb} active {theirs:.4f}{kept}",
            prior_score,
            n,
        )
    better = new_score >= active.oos_score
    verb = ">=" if better else "<"
    kept = "" if better else ": active model kept"
    return Promotion(
        better,
        new_score,
        active.version,
        active.oos_score,
        f"too few rows newer than the active model to compare on the same rows; out-of-sample score "
        f"{new_score:.4f} {verb} active {active.oos_score:.4f}{kept}",
        prior_score,
    )


def beats_prior(model: ModelVersion) -> bool:
    """Whether the model's out-of-sample log loss beat the trailing class-frequency prior's."""
    quality = model.quality or {}
    loss, prior = quality.get("log_loss"), quality.get("prior_log_loss")
    return loss is not None and prior is not None and loss < prior


async def register(
    *, session: AsyncSession, ensemble: Ensemble, version: str, record: dict[str, Any], decision: Promotion
) -> ModelVersion:
    """Store a trained ensemble with its record; activate it if the promotion gate said so."""
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
    return model


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
    floats = ("p_sell", "p_hold", "p_buy", "confidence", "expected_value")
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
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows])
    if not frame.empty:
        # Whether the model showed an out-of-sample edge decides if its calls may become signals.
        trusted = await session.scalar(
            select(ModelVersion.trusted).where(ModelVersion.version == model_version)
        )
        frame["trusted"] = bool(trusted)
    return frame


def outcome_of(model: ModelVersion) -> OutcomeModel:
    """The stored outcome model (calibration and payoffs) of a model version."""
    if not model.outcome:
        raise ValidationFailed(
            f"model {model.version} has no outcome calibration (trained before the edge test): "
            "retrain with `tft-trader train`"
        )
    from backend.ml.edge import OutcomeModel

    return OutcomeModel.from_dict(model.outcome)


def classify(p_win: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """BUY / HOLD / SELL from the outcome: BUY when P(win) >= risk.min_confidence and EV > 0; SELL when
    P(win) <= risk.sell_max_probability and EV < 0; HOLD otherwise."""
    import numpy as np

    risk = get_settings().risk
    buy = (p_win >= risk.min_confidence) & (ev > 0)
    sell = (p_win <= risk.sell_max_probability) & (ev < 0)
    return np.where(buy, "BUY", np.where(sell, "SELL", "HOLD"))


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
    ensemble: Ensemble,
    outcome: OutcomeModel,
    X: pd.DataFrame,
    rows: np.ndarray,
    k: int = 5,
    *,
    explain_top: int | None = None,
) -> pd.DataFrame:
    """Predictions for X.iloc[rows] (X may carry earlier rows as the LSTM's history), with the why.

    Confidence is the calibrated P(the trade wins after costs), `expected_value` the expected net trade
    return. SHAP drivers (toward a win) are computed for the `explain_top` rows with the highest EV per
    day and every BUY call (all rows when None): SHAP is most of the prediction time.
    """
    import numpy as np
    import pandas as pd

    from backend.ml.training import WON, raw_win_score

    everything = ensemble.predict_all(X, rows=rows)  # only `rows` are scored; the rest is history
    raw = raw_win_score(everything["raw"])
    p_win = outcome.win_probability(raw)
    ev = outcome.expected_value(p_win)
    signal = classify(p_win, ev)
    chosen = X.iloc[rows]
    index = chosen.index
    dates = pd.Series(index.get_level_values("trade_date"))
    if explain_top is None:
        explained = np.ones(len(rows), dtype=bool)
    else:
        ev_rank = pd.Series(ev).groupby(dates.to_numpy()).rank(ascending=False, method="first").to_numpy()
        explained = (ev_rank <= explain_top) | (signal == "BUY")
    top: list[list[tuple[str, float]]] = [[] for _ in rows]
    if explained.any():
        won = np.full(int(explained.sum()), WON)
        for i, row in zip(
            np.flatnonzero(explained),
            ensemble.top_contributions(X, k, rows=rows[explained], classes=won),
            strict=True,
        ):
            top[i] = row
    values = chosen.to_numpy(dtype="float64")
    position = {c: j for j, c in enumerate(chosen.columns)}
    return pd.DataFrame(
        {
            "ticker": index.get_level_values("ticker"),
            "trade_date": index.get_level_values("trade_date"),
            # The outcome is binary: p_buy is P(win), p_sell P(loss); HOLD is a decision, not an outcome.
            "p_sell": 1.0 - p_win,
            "p_hold": 0.0,
            "p_buy": p_win,
            "signal": signal,
            "confidence": p_win,
            "expected_value": ev,
            "raw_score": raw,  # before calibration: what pooled out-of-sample calibration is fitted on
            "member_probabilities": [
                {name: [round(float(v), 6) for v in everything[name][i]] for name in ensemble.members}
                for i in range(len(rows))
            ],
            "contributions": [
                [
                    {"feature": f, "contribution": round(c, 6), "value": float(values[i, position[f]])}
                    for f, c in row
                ]
                for i, row in enumerate(top)
            ],
        }
    )
