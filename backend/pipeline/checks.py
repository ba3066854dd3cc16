"""The lookahead check: every stored or used value against its recomputation from raw data at a cut-off.

For each checked date d (spread over the history, plus the dates that have stored predictions) four layers
are recomputed from what was known at the close of d (`backend.pipeline.recompute`) and compared:

- indicators: stored RSI, MACD, Bollinger, SMAs, EMAs, volume ratio on d vs the same computed from the
  stored OHLCV bars up to d;
- sentiment: stored daily aggregates of the sessions up to d vs the aggregates of the posts created
  before d's close;
- features: the features used for training (full history, stored inputs) and the stored feature rows on
  d vs the features built from the recomputed inputs;
- predictions: stored predictions on d (their own model) and the active model on full-history features
  vs the same model on the recomputed features.

A leak anywhere upstream (an indicator that reads ahead, a post counted before it was written, a feature
with a future row) shows up as mismatches in the layer where it entered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import add_trading_days
from backend.core.settings import get_settings
from backend.features import service as feature_service
from backend.features.build import FEATURE_COLUMNS, usable_rows
from backend.market.models import INDICATOR_COLUMNS
from backend.ml import service as ml_service
from backend.ml.edge import OutcomeModel
from backend.ml.ensemble import Ensemble
from backend.ml.members.base import INDEX_NAMES
from backend.ml.training import raw_win_score
from backend.pipeline import recompute
from backend.pipeline.ml import EARLIEST, resolve_tickers

LAYERS = ("indicators", "sentiment", "features", "predictions")
SENTIMENT_VALUES = ("mentions", "score", "bullish", "bearish", "neutral", "score_ma5", "trend", "conviction")
# What a stored prediction says: the calibrated P(the trade wins) that confidence, EV and the call follow.
CLASSES = ["confidence"]
# Recomputation differs from the stored value only by float rounding and the EMA/ATR seeds of a shorter
# window ((1 - 2/27)^600 ~ 1e-20); any leak moves a value by far more than this.
RTOL, ATOL = 1e-6, 1e-8


@dataclass
class Mismatch:
    layer: str
    ticker: str
    trade_date: date
    what: str  # an indicator, aggregate or feature name (with its source), or "prediction:<class>"
    stored: float
    recomputed: float


@dataclass
class LayerStats:
    compared: int = 0
    mismatches: int = 0


@dataclass
class LookaheadReport:
    dates_checked: list[date]
    model_version: str | None = None
    layers: dict[str, LayerStats] = field(default_factory=lambda: {name: LayerStats() for name in LAYERS})
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def values_compared(self) -> int:
        return sum(s.compared for s in self.layers.values())

    @property
    def predictions_compared(self) -> int:
        return self.layers["predictions"].compared // len(CLASSES)

    @property
    def failing_layers(self) -> list[str]:
        return [name for name in LAYERS if self.layers[name].mismatches]

    def compare(
        self,
        layer: str,
        day: date,
        stored: pd.DataFrame,
        recomputed: pd.DataFrame,
        columns: Sequence[str],
        *,
        label: str = "",
    ) -> None:
        """Compare two frames indexed by ticker (rows of `day`) or by (ticker, trade_date) on `columns`;
        a row on one side only is a mismatch too."""

        def key(entry: object) -> tuple[str, date]:
            return (str(entry[0]), entry[1]) if isinstance(entry, tuple) else (str(entry), day)

        stats = self.layers[layer]
        for entry in stored.index.symmetric_difference(recomputed.index):
            present = float(entry in stored.index)
            self._add(Mismatch(layer, *key(entry), f"row{label}", present, 1.0 - present))
        common = stored.index.intersection(recomputed.index)
        a = stored.loc[common, list(columns)].to_numpy(dtype="float64")
        b = recomputed.loc[common, list(columns)].to_numpy(dtype="float64")
        stats.compared += a.size
        differs = ~np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
        for i, j in zip(*np.nonzero(differs), strict=True):
            self._add(Mismatch(layer, *key(common[i]), f"{columns[j]}{label}", a[i, j], b[i, j]))

    def _add(self, mismatch: Mismatch) -> None:
        self.layers[mismatch.layer].mismatches += 1
        self.mismatches.append(mismatch)


def _probabilities(model: _Loaded, features: pd.DataFrame, day: date) -> pd.DataFrame:
    """The model's calibrated P(win) for `day`'s rows (earlier rows are the LSTM's history), computed as
    predictions compute it: the members' raw win score through the model's stored calibration."""
    usable = features[usable_rows(features).to_numpy()]
    X = usable.set_index(list(INDEX_NAMES))[list(FEATURE_COLUMNS)]
    rows = X.index.get_level_values("trade_date") == day
    if not rows.any():
        return pd.DataFrame(columns=CLASSES)
    raw = raw_win_score(model.ensemble.raw_proba(X, rows=np.flatnonzero(rows)))
    p_win = model.outcome.win_probability(raw)
    return pd.DataFrame({"confidence": p_win}, index=X.index[rows].get_level_values("ticker"))


@dataclass
class _Loaded:
    ensemble: Ensemble
    outcome: OutcomeModel


class _Models:
    """Ensembles by version, loaded once; versions that cannot load here are noted and skipped."""

    def __init__(self, session: AsyncSession, report: LookaheadReport) -> None:
        self._session, self._report = session, report
        self._loaded: dict[str, _Loaded | None] = {}

    async def get(self, version: str) -> _Loaded | None:
        if version not in self._loaded:
            try:
                model = await ml_service.get(session=self._session, version=version)
                self._loaded[version] = _Loaded(
                    await ml_service.load_ensemble(session=self._session, model=model),
                    ml_service.outcome_of(model),
                )
            except Exception as exc:  # a model this installation cannot run (no PyTorch, old feature set)
                self._report.notes.append(f"predictions of model {version} not rechecked: {exc}")
                self._loaded[version] = None
        return self._loaded[version]


def _picks(full: pd.DataFrame, prediction_dates: Sequence[date], n_dates: int) -> list[date]:
    candidates = np.array(sorted(full.loc[usable_rows(full).to_numpy(), "trade_date"].unique()))
    spread = candidates[np.linspace(0, len(candidates) - 1, min(n_dates, len(candidates))).astype(int)]
    return sorted({*spread.tolist(), *prediction_dates})


async def check_lookahead(
    *,
    session: AsyncSession,
    tickers: Sequence[str] | None,
    end: date,
    n_dates: int = 20,
    progress: Callable[[int], None] | None = None,
) -> LookaheadReport:
    """Recompute indicators, sentiment aggregates, features and predictions at `n_dates` cut-offs up to
    `end` (and every date with stored predictions among the newest `n_dates`); report what differs."""
    symbols = await resolve_tickers(session=session, tickers=tickers, end=end)
    inputs = await feature_service.load_inputs(session=session, tickers=symbols, start=EARLIEST, end=end)
    full = feature_service.features_between(inputs, EARLIEST, end)
    predicted = await ml_service.prediction_dates(session=session, end=end, limit=n_dates)
    picks = _picks(full, sorted({d for d, _ in predicted}), n_dates)
    active = await ml_service.active_model(session=session)
    report = LookaheadReport(dates_checked=picks, model_version=active.version if active else None)
    models = _Models(session, report)
    bars = recompute.BarHistory(inputs.prices)
    history = get_settings().features.sequence_length + 5  # feature rows the LSTM reads before the cut-off
    window = (
        get_settings().market.indicator_lookback_bars + feature_service.FEATURE_LOOKBACK_SESSIONS + history
    )
    checked = set(bars.tickers)

    for day in picks:
        first = add_trading_days(day, -history)
        prices = recompute.prices_with_indicators(bars.until(day, window))
        report.compare(
            "indicators",
            day,
            recompute.stored_rows(inputs.prices, day),
            recompute.stored_rows(prices, day),
            INDICATOR_COLUMNS,
        )
        sentiment = await recompute.sentiment_as_of(session=session, first=first, day=day)
        # Every session of the window: an aggregate of t may use no post written after t's close.
        report.compare(
            "sentiment",
            day,
            recompute.rows_between(inputs.sentiment, first, day, checked),
            recompute.rows_between(sentiment, first, day, checked),
            SENTIMENT_VALUES,
        )
        cut = feature_service.FeatureInputs(
            prices, sentiment, inputs.market[inputs.market["trade_date"] <= day], sectors=inputs.sectors
        )
        features = feature_service.features_between(cut, first, day)
        today = recompute.stored_rows(features, day)
        report.compare("features", day, recompute.stored_rows(full, day), today, FEATURE_COLUMNS)
        stored = await feature_service.load(session=session, tickers=sorted(checked), start=day, end=day)
        if not stored.empty:
            kept = recompute.stored_rows(stored, day)
            report.compare(
                "features", day, kept, today.loc[today.index.intersection(kept.index)], FEATURE_COLUMNS,
                label=" (stored row)",
            )  # fmt: skip
        await _check_predictions(session, report, models, day, full, features, predicted, checked)
        if progress:
            progress(1)
    if not predicted:
        report.notes.append(f"no stored predictions up to {end}: only the active model was rechecked")
    return report


async def _check_predictions(
    session: AsyncSession,
    report: LookaheadReport,
    models: _Models,
    day: date,
    full: pd.DataFrame,
    features: pd.DataFrame,
    predicted: Sequence[tuple[date, str]],
    checked: set[str],
) -> None:
    recomputed: dict[str, pd.DataFrame] = {}

    async def recompute_with(version: str) -> pd.DataFrame | None:
        if version not in recomputed:
            ensemble = await models.get(version)
            if ensemble is None:
                return None
            recomputed[version] = _probabilities(ensemble, features, day)
        return recomputed[version]

    for version in sorted({v for d, v in predicted if d == day}):
        again = await recompute_with(version)
        if again is None:
            continue
        stored = await ml_service.load_predictions(session=session, trade_date=day, model_version=version)
        stored = stored[stored["ticker"].isin(list(checked))].set_index("ticker")
        report.compare("predictions", day, stored, again, CLASSES, label=f" (stored, model {version})")
    if report.model_version is not None:
        again = await recompute_with(report.model_version)
        if again is not None:
            ensemble = await models.get(report.model_version)
            assert ensemble is not None
            used = _probabilities(ensemble, full[full["trade_date"] <= day], day)
            report.compare("predictions", day, used, again, CLASSES, label=" (active model)")
