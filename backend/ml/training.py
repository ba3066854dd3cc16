"""Walk-forward training of the outcome model: out-of-sample scores, the edge test, the final fit.

The ensemble learns one thing: whether the trade the risk manager would place at a row's close (next open,
the barrier stop and target, the time exit, costs; `features.labels`) ends with a net profit. Its members
are three-class models; the outcome is fed to them as BUY (won) or SELL (lost), so the raw win score is
P(BUY) / (P(BUY) + P(SELL)). That score is calibrated and priced by `ml.edge` on pooled out-of-sample rows.

Pure computation on frames (no database): the pipeline gathers features, labels and indicators known at
`as_of`, this module turns them into a fitted ensemble, its outcome model and the honest numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.features.build import FEATURE_COLUMNS, FEATURE_SET_VERSION, check_finite, usable_rows
from backend.ml import baselines, edge
from backend.ml.ensemble import Ensemble
from backend.ml.members.base import INDEX_NAMES
from backend.ml.splits import walk_forward_splits

log = logging.getLogger(__name__)

BASELINE_INDICATORS = ("rsi_14", "macd", "macd_signal", "ema_12", "ema_26")
WON, LOST = 2, 0  # the member classes the outcome is taught as (BUY, SELL)
Progress = Callable[[str], None]


@dataclass
class TrainingSet:
    """Rows a model may learn from: finite features, a complete trade outcome, the rules' indicators."""

    X: pd.DataFrame  # MultiIndex (ticker, trade_date), FEATURE_COLUMNS
    win: np.ndarray  # 1.0 when the trade's net return is positive
    net_return: np.ndarray
    indicators: pd.DataFrame  # aligned with X

    @property
    def dates(self) -> pd.Index:
        return self.X.index.get_level_values("trade_date")

    @property
    def y(self) -> np.ndarray:
        """The members' class labels: WON or LOST."""
        return np.where(self.win > 0.5, WON, LOST).astype(np.int64)

    def window(self, first: date) -> TrainingSet:
        """The rows dated `first` or later (a rolling training window)."""
        keep = np.asarray(self.dates >= first)
        return TrainingSet(self.X[keep], self.win[keep], self.net_return[keep], self.indicators[keep])


def make_training_set(features: pd.DataFrame, labels: pd.DataFrame, prices: pd.DataFrame) -> TrainingSet:
    """Join features, trade outcomes and indicators on (ticker, trade_date); keep only learnable rows.

    Rows whose trade has not closed by the data's end (the last days before `as_of`) or whose features are
    still warming up are dropped here, so they can never be trained on.
    """
    key = list(INDEX_NAMES)
    joined = (
        features.merge(labels[[*key, "label_complete", "win", "net_return"]], on=key, how="inner")
        .merge(prices[[*key, *BASELINE_INDICATORS]], on=key, how="left")
        .sort_values(key, kind="stable")
    )
    keep = usable_rows(joined) & joined["label_complete"].astype(bool) & joined["win"].notna()
    rows = joined[keep.to_numpy()].set_index(key)
    check_finite(rows.reset_index())
    win = rows["win"].to_numpy(dtype="float64")
    if len(np.unique(win)) < 2:
        raise ValidationFailed(
            f"training needs both winning and losing trades; {len(win)} complete rows hold "
            f"{'none' if len(win) == 0 else 'only one outcome'}: use more history or more tickers"
        )
    return TrainingSet(
        X=rows[list(FEATURE_COLUMNS)].astype("float64"),
        win=win,
        net_return=rows["net_return"].to_numpy(dtype="float64"),
        indicators=rows[list(BASELINE_INDICATORS)],
    )


def raw_win_score(probs: np.ndarray) -> np.ndarray:
    """The members' uncalibrated P(win) from their three-class output."""
    won, lost = probs[:, WON], probs[:, LOST]
    return np.asarray(won / np.maximum(won + lost, 1e-12), dtype="float64")


def rule_calls(indicators: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Where the RSI and the MACD rules would buy (the baselines of the edge test)."""
    rsi, _ = baselines.rsi_mean_reversion(indicators)
    macd, _ = baselines.macd_ema_momentum(indicators)
    return rsi == baselines.BUY, macd == baselines.BUY


def oos_frame(ts: TrainingSet, rows: np.ndarray, raw: np.ndarray, *, fold: int, prior: float) -> pd.DataFrame:
    """Out-of-sample rows in `edge.OOS_COLUMNS` layout."""
    index = ts.X.index[rows]
    rsi, macd = rule_calls(ts.indicators.iloc[rows])
    return pd.DataFrame(
        {
            "trade_date": index.get_level_values("trade_date"),
            "ticker": index.get_level_values("ticker"),
            "fold": fold,
            "raw": raw,
            "win": ts.win[rows],
            "net_return": ts.net_return[rows],
            "prior": prior,
            "rsi_buy": rsi,
            "macd_buy": macd,
            "row": rows,  # position in the training set, to score another model on the same rows
        }
    )


def walk_forward(
    ts: TrainingSet,
    *,
    member_names: list[str] | None = None,
    progress: Progress | None = None,
    n_splits: int | None = None,
) -> pd.DataFrame:
    """Fit-predict on consecutive validation windows, each after an embargo; the pooled OOS rows."""
    ml = get_settings().ml
    splits = walk_forward_splits(
        ts.dates,
        n_splits=n_splits or folds_that_fit(ts),
        validation_days=ml.validation_days,
        min_train_days=ml.min_train_days + ml.embargo_days,
        embargo_days=ml.embargo_days,
    )
    parts = []
    y = ts.y
    for i, split in enumerate(splits, start=1):
        if progress:
            progress(
                f"fold {i}/{len(splits)}: train to {split.train_end}, validate {split.validation_start}.."
            )
        train = _recent(ts, split.train)
        ensemble = Ensemble.fit(
            ts.X.iloc[train], y[train], member_names=member_names, feature_set_version=FEATURE_SET_VERSION
        )
        raw = raw_win_score(ensemble.raw_proba(ts.X, rows=split.validation))
        parts.append(oos_frame(ts, split.validation, raw, fold=i, prior=float(ts.win[train].mean())))
    return pd.concat(parts, ignore_index=True)


def folds_that_fit(ts: TrainingSet) -> int:
    """`ml.walk_forward_splits`, or fewer when the history cannot hold them (at least one)."""
    ml = get_settings().ml
    sessions = len(np.unique(np.asarray(ts.dates)))
    room = (sessions - ml.min_train_days - ml.embargo_days) // ml.validation_days
    if room < 1:
        raise ValidationFailed(
            f"{sessions} labelled sessions cannot hold one out-of-sample fold of {ml.validation_days} "
            f"sessions after {ml.min_train_days} training sessions and an embargo of {ml.embargo_days}: "
            "use more history (or lower ML__MIN_TRAIN_DAYS / ML__VALIDATION_DAYS)"
        )
    return int(min(ml.walk_forward_splits, room))


def _recent(ts: TrainingSet, rows: np.ndarray) -> np.ndarray:
    """`rows` limited to the last `ml.max_train_days` sessions among them (all when unset)."""
    limit = get_settings().ml.max_train_days
    if not limit or len(rows) == 0:
        return rows
    dates = ts.dates[rows]
    sessions = np.unique(np.asarray(dates))
    if len(sessions) <= limit:
        return rows
    return rows[np.asarray(dates >= sessions[-limit])]


def assess(oos: pd.DataFrame) -> edge.Assessment:
    """The outcome model and edge test from pooled OOS rows (IC periods of one trade length)."""
    return edge.assess(oos, period_days=get_settings().risk.max_hold_days + 1)


def fit_final(ts: TrainingSet, *, member_names: list[str] | None = None) -> Ensemble:
    """The model to deploy: members fitted on the latest `ml.max_train_days` sessions (all by default)."""
    rows = _recent(ts, np.arange(len(ts.win)))
    return Ensemble.fit(
        ts.X.iloc[rows], ts.y[rows], member_names=member_names, feature_set_version=FEATURE_SET_VERSION
    )


def class_balance(ts: TrainingSet) -> dict[str, float]:
    """Share of winning and losing trades among the training rows."""
    rate = float(ts.win.mean()) if len(ts.win) else 0.0
    return {"WIN": rate, "LOSS": 1.0 - rate}


def summary(assessment: edge.Assessment) -> dict[str, Any]:
    """The registry's metrics record: the edge test's numbers."""
    return dict(assessment.quality)
