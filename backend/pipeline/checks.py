"""Bias checks a user can run: recompute on history truncated at many dates and compare with full history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.features import service as feature_service
from backend.features.build import FEATURE_COLUMNS, usable_rows
from backend.ml import service as ml_service
from backend.ml.ensemble import Ensemble
from backend.ml.members.base import INDEX_NAMES
from backend.pipeline.ml import EARLIEST, resolve_tickers

TOLERANCE = 1e-9


@dataclass
class Mismatch:
    ticker: str
    trade_date: date
    what: str  # a feature name, or "prediction:<class>"
    full: float
    truncated: float


@dataclass
class LookaheadReport:
    dates_checked: list[date]
    values_compared: int = 0
    predictions_compared: int = 0
    model_version: str | None = None
    mismatches: list[Mismatch] = field(default_factory=list)


def _truncate(inputs: feature_service.FeatureInputs, day: date) -> feature_service.FeatureInputs:
    return feature_service.FeatureInputs(
        prices=inputs.prices[inputs.prices["trade_date"] <= day],
        sentiment=inputs.sentiment[inputs.sentiment["trade_date"] <= day],
        market=inputs.market[inputs.market["trade_date"] <= day],
    )


def _predict(ensemble: Ensemble, features: pd.DataFrame, day: date) -> pd.DataFrame:
    usable = features[usable_rows(features).to_numpy()]
    X = usable.set_index(list(INDEX_NAMES))[list(FEATURE_COLUMNS)]
    rows = X.index.get_level_values("trade_date") == day
    if not rows.any():
        return pd.DataFrame()
    probs = ensemble.predict_proba(X, rows=np.flatnonzero(rows))
    return pd.DataFrame(
        probs, index=X.index[rows].get_level_values("ticker"), columns=["SELL", "HOLD", "BUY"]
    )


async def check_lookahead(
    *,
    session: AsyncSession,
    tickers: Sequence[str] | None,
    end: date,
    n_dates: int = 20,
    progress: Callable[[int], None] | None = None,
) -> LookaheadReport:
    """Features (and the active model's predictions) for `n_dates` dates, full vs truncated history."""
    symbols = await resolve_tickers(session=session, tickers=tickers, end=end)
    inputs = await feature_service.load_inputs(session=session, tickers=symbols, start=EARLIEST, end=end)
    full = feature_service.features_between(inputs, EARLIEST, end)
    candidates = np.array(sorted(full.loc[usable_rows(full).to_numpy(), "trade_date"].unique()))
    picks = candidates[np.linspace(0, len(candidates) - 1, min(n_dates, len(candidates))).astype(int)]
    model = await ml_service.active_model(session=session)
    ensemble = await ml_service.load_ensemble(session=session, model=model) if model else None
    report = LookaheadReport(dates_checked=[d for d in picks], model_version=model.version if model else None)
    full_by_key = full.set_index(["ticker", "trade_date"])
    for day in picks:
        truncated = feature_service.features_between(_truncate(inputs, day), EARLIEST, day)
        today = truncated[truncated["trade_date"] == day].set_index(["ticker", "trade_date"])
        reference = full_by_key.loc[today.index, list(FEATURE_COLUMNS)]
        a, b = reference.to_numpy(dtype="float64"), today[list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
        report.values_compared += a.size
        differs = ~(np.isclose(a, b, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True))
        for i, j in zip(*np.nonzero(differs), strict=True):
            ticker, trade_date = today.index[i]
            report.mismatches.append(Mismatch(ticker, trade_date, FEATURE_COLUMNS[j], a[i, j], b[i, j]))
        if ensemble is not None:
            history = full[full["trade_date"] <= day]  # the full-history frame, cut only for speed
            p_full, p_cut = _predict(ensemble, history, day), _predict(ensemble, truncated, day)
            common = p_full.index.intersection(p_cut.index)
            report.predictions_compared += len(common)
            full_p = p_full.loc[common].to_numpy(dtype="float64")
            cut_p = p_cut.loc[common].to_numpy(dtype="float64")
            for i, j in zip(*np.nonzero(~np.isclose(full_p, cut_p, rtol=1e-7, atol=1e-9)), strict=True):
                report.mismatches.append(
                    Mismatch(
                        str(common[i]), day, f"prediction:{p_full.columns[j]}", full_p[i, j], cut_p[i, j]
                    )
                )
        if progress:
            progress(1)
    return report
