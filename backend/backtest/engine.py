"""The replay engine: history walked one session at a time through the live steps, plus its predictors.

`replay` calls `signals.monitor.run_session` (fills at the open, exits, marks) and
`signals.generate.generate_signals` (exit orders, risk manager, entries) for each session in order, exactly
as the live portfolio does after each close. What differs is where a session's predictions come from:

- `RetrainingPredictor`: the ensemble, refitted every `retrain_every` sessions on what was known at the
  previous close (features, and labels whose whole window had closed by then), then predicting the next
  block of sessions; features are the one point-in-time implementation, so a session's row never reads a
  later price;
- `RulePredictor`: a textbook indicator rule (RSI mean reversion, MACD/EMA momentum) as BUY / SELL calls,
  put through the same risk manager so the comparison is about the signal, not the rules around it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import cast

import numpy as np
import pandas as pd

from backend.core.calendar import add_trading_days, previous_trading_day
from backend.core.settings import RiskSettings
from backend.features.build import FEATURE_COLUMNS, usable_rows
from backend.features.labels import triple_barrier_labels
from backend.ml import baselines, training
from backend.ml.members.base import CLASS_NAMES, INDEX_NAMES
from backend.ml.service import prediction_frame
from backend.portfolio.book import PaperBook
from backend.signals.candidates import CandidateRow, rank_candidates
from backend.signals.generate import generate_signals
from backend.signals.market import MarketDay
from backend.signals.monitor import run_session

log = logging.getLogger(__name__)
Predictor = Callable[[date], pd.DataFrame]
EMPTY = pd.DataFrame(columns=["ticker", "signal", "confidence"])
PREDICTION_KEEP = (
    "ticker",
    "trade_date",
    "signal",
    "confidence",
    "p_buy",
    "expected_value",
    "raw_score",
    "prior",
    "fold",
    "trusted",
)


def replay(
    sessions: Sequence[date],
    market: dict[date, MarketDay],
    predictor: Predictor,
    book: PaperBook,
    on_session: Callable[[date], None] | None = None,
    candidates: list[CandidateRow] | None = None,
) -> PaperBook:
    """Run the live session steps over `sessions` in order; entries still pending at the end lapse.

    With a `candidates` list, each session's ranked candidates (as the live chain stores them) go into it.
    """
    for day in sessions:
        today = market.get(day) or MarketDay(day, {})
        run_session(book, today)
        calls = predictor(day)
        report = generate_signals(book, today, calls)
        if candidates is not None:
            candidates.extend(rank_candidates(calls, report, today, book.settings))
        if on_session is not None:
            on_session(day)
    for record in book.pending.values():
        record.status = "expired"
        record.reasons.append("replay_ended")
        record.messages.append("the replay ended before the next open")
        book.touch(record)
    book.pending.clear()
    return book


@dataclass
class RetrainingPredictor:
    """Outcome-model predictions, refitted every `retrain_every` sessions on data known before the block.

    The first fit runs a walk-forward over the history known then, for the out-of-sample rows the outcome
    model is calibrated and edge-tested on. Every later fit adds the replay's own earlier predictions whose
    trades had closed by then (and drops those older than `oos_sessions`): calibration, payoffs and the
    `trusted` verdict come only from predictions made before the outcome was known.
    """

    prices: pd.DataFrame
    features: pd.DataFrame
    sessions: Sequence[date]
    risk: RiskSettings
    members: list[str]
    retrain_every: int
    sequence_length: int
    progress: Callable[[str], None] | None = None
    oos_sessions: int = 252
    predictions: list[pd.DataFrame] = field(default_factory=list)  # every block, for the model metrics
    retrains: int = 0
    trusted_retrains: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    _block: dict[date, pd.DataFrame] = field(default_factory=dict)
    _X: pd.DataFrame | None = None
    _oos: pd.DataFrame | None = None
    _pending: pd.DataFrame | None = None
    _rules: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self._index = {day: i for i, day in enumerate(self.sessions)}

    def __call__(self, day: date) -> pd.DataFrame:
        index = self._index.get(day, -1)
        if index >= 0 and index % self.retrain_every == 0:
            self._refit(list(self.sessions[index : index + self.retrain_every]))
        return self._block.get(day, EMPTY)

    def _timed(self, what: str, started: float) -> None:
        self.timings[what] = self.timings.get(what, 0.0) + time.perf_counter() - started

    def _refit(self, block: list[date]) -> None:
        started = time.perf_counter()
        as_of = previous_trading_day(block[0])
        known = self.prices[self.prices["trade_date"] <= as_of]
        labels = triple_barrier_labels(known, self.risk)
        ts = training.make_training_set(self.features[self.features["trade_date"] <= as_of], labels, known)
        self._timed("labels", started)
        started = time.perf_counter()
        with _quiet("backend.ml.ensemble"):  # a line per member per fit would bury the progress
            if self._oos is None:
                self._oos = training.walk_forward(ts, member_names=self.members).drop(columns="row")
            self._timed("walk_forward", started)
            self._add_closed(labels)
            assessment = training.assess(self._oos)
            started = time.perf_counter()
            ensemble = training.fit_final(ts, member_names=self.members)
        self._timed("fit", started)
        self.retrains += 1
        self.trusted_retrains += int(assessment.trusted)
        started = time.perf_counter()
        X = self._usable()
        dates = X.index.get_level_values("trade_date")
        history_start = add_trading_days(block[0], -(self.sequence_length + 5))
        window = X[(dates >= history_start) & (dates <= block[-1])]
        rows = np.flatnonzero(window.index.get_level_values("trade_date").isin(block))
        if len(rows) == 0:
            self._block = {}
            return
        frame = prediction_frame(
            ensemble, assessment.outcome, window, rows, explain_top=self.risk.candidates_top_n
        )
        frame["model_version"] = f"replay-{as_of:%Y%m%d}"
        frame["trusted"] = assessment.trusted
        quality = assessment.quality
        frame["beats_prior"] = quality["log_loss"] < quality["prior_log_loss"]
        self._timed("predict", started)
        frame["prior"] = float(ts.win.mean())
        frame["fold"] = self.retrains
        self.predictions.append(frame[[*PREDICTION_KEEP]])
        self._queue(frame)
        self._block = by_session(frame)
        if self.progress is not None:
            q = assessment.quality
            self.progress(
                f"retrained on {len(ts.win):,} rows known at {as_of} ({self.retrains} fits); "
                f"{'trusted' if assessment.trusted else 'not trusted'}, rank IC {q['rank_ic'] or 0:+.3f} "
                f"(t {q['rank_ic_t'] or 0:.1f})"
            )

    def _queue(self, frame: pd.DataFrame) -> None:
        """Keep this block's raw scores until their trades have closed."""
        queued = frame[["ticker", "trade_date", "raw_score", "prior"]].rename(columns={"raw_score": "raw"})
        queued["fold"] = 1000 + self.retrains
        self._pending = (
            queued if self._pending is None else pd.concat([self._pending, queued], ignore_index=True)
        )

    def _add_closed(self, labels: pd.DataFrame) -> None:
        """Move queued predictions whose trade outcome is known in `labels` into the pooled OOS rows."""
        if self._pending is None or self._pending.empty or self._oos is None:
            return
        key = ["ticker", "trade_date"]
        closed = labels[labels["label_complete"].astype(bool)][[*key, "win", "net_return"]]
        merged = self._pending.merge(closed, on=key, how="left")
        done = merged["win"].notna().to_numpy()
        rules = self._rule_calls()
        added = merged[done].merge(rules, on=key, how="left").fillna({"rsi_buy": False, "macd_buy": False})
        self._pending = self._pending[~done].reset_index(drop=True)
        oos = pd.concat([self._oos, added[list(self._oos.columns)]], ignore_index=True)
        sessions = np.sort(oos["trade_date"].unique())
        self._oos = oos[oos["trade_date"] >= sessions[max(0, len(sessions) - self.oos_sessions)]].reset_index(
            drop=True
        )

    def _rule_calls(self) -> pd.DataFrame:
        if self._rules is None:
            frame = self.prices.sort_values(["ticker", "trade_date"], kind="stable").set_index(
                list(INDEX_NAMES)
            )
            rsi, macd = training.rule_calls(frame)
            self._rules = pd.DataFrame(
                {
                    "ticker": frame.index.get_level_values("ticker"),
                    "trade_date": frame.index.get_level_values("trade_date"),
                    "rsi_buy": rsi,
                    "macd_buy": macd,
                }
            )
        return self._rules

    def _usable(self) -> pd.DataFrame:
        if self._X is None:
            usable = self.features[usable_rows(self.features).to_numpy()]
            self._X = usable.set_index(list(INDEX_NAMES)).sort_index()[list(FEATURE_COLUMNS)]
        return self._X


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def by_session(frame: pd.DataFrame) -> dict[date, pd.DataFrame]:
    """Rows of `frame` grouped by their trade date."""
    return {cast(date, d): g.reset_index(drop=True) for d, g in frame.groupby("trade_date", sort=False)}


def rule_predictor(prices: pd.DataFrame, rule: str) -> Predictor:
    """A baseline rule's BUY / SELL calls per session (HOLD rows dropped), at full confidence.

    Rules have no probability; calling them certain lets the confidence rule pass them, so every other
    risk rule (sizing, caps, cooldowns, drawdown halt) applies to them exactly as to the model.
    """
    frame = prices.sort_values(["ticker", "trade_date"], kind="stable").set_index(list(INDEX_NAMES))
    if rule == "rsi_mean_reversion":
        predicted, _ = baselines.rsi_mean_reversion(frame, confidence=1.0)
    elif rule == "macd_momentum":
        predicted, _ = baselines.macd_ema_momentum(frame, confidence=1.0)
    else:
        raise ValueError(f"unknown baseline rule {rule!r}")
    calls = pd.DataFrame(
        {
            "ticker": frame.index.get_level_values("ticker"),
            "trade_date": frame.index.get_level_values("trade_date"),
            "signal": [CLASS_NAMES[c] for c in predicted],
            "confidence": 1.0,
            "model_version": f"rule:{rule}",
            # A rule is not a model: the trusted-model requirement does not apply to it.
            "trusted": True,
        }
    )
    calls = calls[calls["signal"] != "HOLD"]
    by_day = by_session(calls)
    return lambda day: by_day.get(day, EMPTY)


def buy_and_hold(prices: pd.DataFrame, sessions: Sequence[date], risk: RiskSettings) -> pd.Series:
    """Equal-weight buy-and-hold of `prices`' tickers: bought at the first session's open (with slippage
    and commission), marked at each close (the last close carried over a missing day), splits applied."""
    window = prices[prices["trade_date"].isin(list(sessions))]
    closes = window.pivot(index="trade_date", columns="ticker", values="close")
    closes = closes.reindex(list(sessions)).ffill()
    first = window[window["trade_date"] == sessions[0]].set_index("ticker")["open"]
    first = first[first > 0].dropna()
    capital = risk.starting_capital
    if first.empty:
        return pd.Series(capital, index=pd.DatetimeIndex(pd.to_datetime(list(sessions))), name="equity")
    budget = capital / len(first)
    fill = first * (1.0 + risk.slippage_bps / 10_000.0)
    shares = np.floor((budget - risk.commission_per_trade) / fill).clip(lower=0)
    cash = capital - float((shares * fill).sum()) - risk.commission_per_trade * int((shares > 0).sum())
    # Shares multiply on a split (the price halves, the holding does not); fractions are kept here. The
    # ratio comes from the split events (`split_ratio`, as `market.service.load_usable_bars` sets it).
    ratios = window.assign(split_ratio=window.get("split_ratio", 1.0))
    growth = ratios.pivot(index="trade_date", columns="ticker", values="split_ratio").reindex(list(sessions))
    growth = growth.fillna(1.0)
    growth.iloc[0] = 1.0  # bought at the first open, after any split of that day
    held = growth.cumprod()[shares.index].mul(shares, axis=1)
    values = (closes[shares.index] * held).sum(axis=1)
    equity = values + cash
    equity.index = pd.DatetimeIndex(pd.to_datetime(equity.index), name="trade_date")
    return equity.rename("equity")


def prediction_accuracy(
    predictions: Sequence[pd.DataFrame], labels: pd.DataFrame, min_confidence: float
) -> dict[str, float | int | None]:
    """The replay's predictions scored against their realised labels (complete windows only)."""
    if not predictions:
        return {"oos_accuracy": None, "n_predictions": 0, "always_hold_accuracy": None}
    calls = pd.concat(predictions, ignore_index=True)
    known = labels[labels["label_complete"].astype(bool)][["ticker", "trade_date", "label"]]
    scored = calls.merge(known, on=["ticker", "trade_date"], how="inner")
    if scored.empty:
        return {"oos_accuracy": None, "n_predictions": len(calls), "always_hold_accuracy": None}
    truth = np.array([CLASS_NAMES[int(v)] for v in scored["label"]])
    return {
        "oos_accuracy": float(np.mean(scored["signal"].to_numpy() == truth)),
        "n_predictions": len(calls),
        "n_scored": len(scored),
        "always_hold_accuracy": float(np.mean(truth == "HOLD")),
        "buy_calls": int((calls["signal"] == "BUY").sum()),
        "buy_calls_above_min_confidence": int(
            ((calls["signal"] == "BUY") & (calls["confidence"] > min_confidence)).sum()
        ),
    }
