"""The outcome model's honesty layer: calibration of P(win), payoffs, reliability and the edge test.

Everything here works on pooled out-of-sample rows (walk-forward folds, or a replay's earlier blocks), one
row per (ticker, trade_date) with the model's raw win score, the trade's realised net return and whether it
won, the fold it came from, the trailing base rate known when that fold's model was fitted, and the two
textbook rules' calls on that row:

- calibration: Platt's logistic map on the log-odds of the raw score. Two parameters fitted on thousands of
  rows cannot produce 0 or 1 from a handful of them (isotonic maps did); the stored map is fitted on all
  pooled rows, the reliability and log loss reported are cross-fitted (each fold calibrated by the others);
- payoffs: average net return of the winners and of the losers per calibrated-probability bin (pooled when a
  bin is thin), so expected value = p x avg_win + (1 - p) x avg_loss is measured, not assumed;
- edge test: rank IC of the expected value against the realised net return (daily Spearman, averaged over
  non-overlapping periods of one trade length, with its t-statistic), the daily top bucket's hit rate and
  mean net return against all candidates and against the RSI and MACD rules' BUY calls on the same rows,
  and the log loss against the trailing class-frequency prior. Trusted only if all three hold, the top
  bucket's net return being positive and its excess over all candidates significant (t >= 2 over the same
  non-overlapping periods): a predictable win rate without money in it is no edge.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PROB_CLIP = 1e-4
MIN_BIN_ROWS = 50  # reliability bins and payoff bins below this are merged / pooled
RELIABILITY_BINS = 10
PAYOFF_BINS = 5
TOP_BUCKET_FRACTION = 0.10  # the daily top 10% by expected value (at least one row a day)
MIN_T_STAT = 2.0
MIN_TICKERS_PER_DAY = 3  # a rank correlation over fewer rows is noise
OOS_COLUMNS = ("trade_date", "ticker", "fold", "raw", "win", "net_return", "prior", "rsi_buy", "macd_buy")


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype="float64"), PROB_CLIP, 1 - PROB_CLIP)
    return np.log(q / (1 - q))


@dataclass
class PlattMap:
    """P(win) = sigmoid(coef x logit(raw) + intercept)."""

    coef: float
    intercept: float
    n_fit: int

    @classmethod
    def fit(cls, raw: np.ndarray, win: np.ndarray) -> PlattMap:
        """Fit on held-out raw scores and outcomes; a single-outcome sample gives its smoothed rate."""
        y = np.asarray(win, dtype="float64")
        if len(y) == 0:
            raise ValueError("calibration needs held-out rows")
        if y.min() == y.max():
            rate = (y.sum() + 1.0) / (len(y) + 2.0)  # Laplace: never exactly 0 or 1
            return cls(0.0, float(_logit(np.array([rate]))[0]), len(y))
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0).fit(_logit(raw)[:, None], y.astype(int))
        if model.coef_[0, 0] <= 0:
            # A score that predicts worse with more confidence has no skill to calibrate: inverting it
            # would be fitting noise, so every row gets the observed rate.
            rate = (y.sum() + 1.0) / (len(y) + 2.0)
            return cls(0.0, float(_logit(np.array([rate]))[0]), len(y))
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]), len(y))

    def transform(self, raw: np.ndarray) -> np.ndarray:
        z = self.coef * _logit(raw) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype="float64")


@dataclass
class PayoffTable:
    """Average net return of winning and losing trades per calibrated-probability bin."""

    upper: list[float]  # bin upper edges on P(win); the last is 1.0
    avg_win: list[float]
    avg_loss: list[float]
    n: list[int]
    pooled_win: float
    pooled_loss: float

    @classmethod
    def fit(cls, p: np.ndarray, net: np.ndarray, win: np.ndarray) -> PayoffTable:
        p, net, won = np.asarray(p), np.asarray(net), np.asarray(win) > 0.5
        pooled_win = float(net[won].mean()) if won.any() else 0.0
        pooled_loss = float(net[~won].mean()) if (~won).any() else 0.0
        quantiles = np.linspace(0, 1, PAYOFF_BINS + 1)[1:-1]
        edges: list[float] = [float(v) for v in np.unique(np.quantile(p, quantiles))] if len(p) else []
        upper = [*edges, 1.0]
        bins = np.searchsorted(np.asarray(upper), p, side="left")
        avg_win, avg_loss, counts = [], [], []
        for b in range(len(upper)):
            inside = bins == b
            w, lo = inside & won, inside & ~won
            # A thin bin would turn a couple of lucky trades into a payoff: fall back on the pooled one.
            avg_win.append(float(net[w].mean()) if w.sum() >= MIN_BIN_ROWS // 2 else pooled_win)
            avg_loss.append(float(net[lo].mean()) if lo.sum() >= MIN_BIN_ROWS // 2 else pooled_loss)
            counts.append(int(inside.sum()))
        return cls(upper, avg_win, avg_loss, counts, pooled_win, pooled_loss)

    def expected_value(self, p: np.ndarray) -> np.ndarray:
        """Expected net trade return at calibrated win probability `p`."""
        p = np.asarray(p, dtype="float64")
        bins = np.minimum(np.searchsorted(np.asarray(self.upper), p, side="left"), len(self.upper) - 1)
        return p * np.asarray(self.avg_win)[bins] + (1 - p) * np.asarray(self.avg_loss)[bins]


@dataclass
class OutcomeModel:
    """What turns the ensemble's raw win score into the confidence and EV users see; stored with the model."""

    calibration: PlattMap
    payoffs: PayoffTable
    base_rate: float

    def win_probability(self, raw: np.ndarray) -> np.ndarray:
        return self.calibration.transform(raw)

    def expected_value(self, p_win: np.ndarray) -> np.ndarray:
        return self.payoffs.expected_value(p_win)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calibration": asdict(self.calibration),
            "payoffs": asdict(self.payoffs),
            "base_rate": self.base_rate,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutcomeModel:
        try:
            return cls(
                PlattMap(**data["calibration"]), PayoffTable(**data["payoffs"]), float(data["base_rate"])
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an outcome model record: {exc}") from exc


@dataclass
class Assessment:
    """The outcome model fitted on pooled out-of-sample rows, and the evidence on it."""

    outcome: OutcomeModel
    quality: dict[str, Any]
    trusted: bool
    reasons: list[str] = field(default_factory=list)  # why not trusted (empty when trusted)
    oos_p: np.ndarray | None = None  # the cross-fitted P(win) of each OOS row (for same-row comparisons)

    def record(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.as_dict(),
            "quality": self.quality,
            "trusted": self.trusted,
            "reasons": self.reasons,
        }


def cross_fitted(oos: pd.DataFrame) -> np.ndarray:
    """Calibrated P(win) of each row from a Platt map fitted on the other folds (all rows if one fold)."""
    folds = oos["fold"].to_numpy()
    raw, win = oos["raw"].to_numpy(), oos["win"].to_numpy()
    out = np.empty(len(oos))
    unique = np.unique(folds)
    for fold in unique:
        inside = folds == fold
        train = ~inside if len(unique) > 1 else inside
        out[inside] = PlattMap.fit(raw[train], win[train]).transform(raw[inside])
    return out


def reliability(p: np.ndarray, win: np.ndarray) -> tuple[list[dict[str, float]], float]:
    """Equal-count bins of P(win) (each >= MIN_BIN_ROWS rows): mean P, observed win rate, n; and the ECE."""
    order = np.argsort(p, kind="stable")
    n_bins = max(1, min(RELIABILITY_BINS, len(p) // MIN_BIN_ROWS))
    table, ece = [], 0.0
    for chunk in np.array_split(order, n_bins):
        if len(chunk) == 0:
            continue
        mean_p, rate = float(p[chunk].mean()), float(win[chunk].mean())
        table.append({"p_mean": round(mean_p, 4), "win_rate": round(rate, 4), "n": len(chunk)})
        ece += len(chunk) / len(p) * abs(rate - mean_p)
    return table, float(ece)


def log_loss(p: np.ndarray, win: np.ndarray) -> float:
    q = np.clip(p, PROB_CLIP, 1 - PROB_CLIP)
    return float(-np.mean(win * np.log(q) + (1 - win) * np.log(1 - q)))


def rank_ic(frame: pd.DataFrame, score: str, period_days: int) -> dict[str, Any]:
    """Daily Spearman IC of `score` vs net return, averaged within non-overlapping periods of `period_days`
    sessions (trades of one period overlap; periods do not), with mean, t-statistic and counts."""
    daily = []
    for day, group in frame.groupby("trade_date", sort=True):
        if (
            len(group) < MIN_TICKERS_PER_DAY
            or group[score].nunique() < 2
            or group["net_return"].nunique() < 2
        ):
            continue
        ic = group[score].rank().corr(group["net_return"].rank())
        if math.isfinite(ic):
            daily.append((day, ic))
    if not daily:
        return {"rank_ic": None, "rank_ic_t": None, "ic_days": 0, "ic_periods": 0}
    values = np.array([ic for _, ic in daily])
    periods = np.arange(len(values)) // max(1, period_days)
    per_period = pd.Series(values).groupby(periods).mean().to_numpy()
    mean = float(per_period.mean())
    sd = float(per_period.std(ddof=1)) if len(per_period) > 1 else float("nan")
    t = mean / sd * math.sqrt(len(per_period)) if sd and math.isfinite(sd) and sd > 0 else None
    return {"rank_ic": mean, "rank_ic_t": t, "ic_days": len(values), "ic_periods": len(per_period)}


def excess_return(frame: pd.DataFrame, top: pd.DataFrame, period_days: int) -> dict[str, Any]:
    """The top bucket's daily mean net return minus all candidates', averaged within non-overlapping
    periods of `period_days` sessions: its mean and t-statistic over the periods."""
    daily = top.groupby("trade_date")["net_return"].mean() - frame.groupby("trade_date")["net_return"].mean()
    daily = daily.dropna().sort_index()
    if daily.empty:
        return {"top_bucket_excess": None, "top_bucket_excess_t": None}
    periods = np.arange(len(daily)) // max(1, period_days)
    per_period = daily.groupby(periods).mean().to_numpy()
    mean = float(per_period.mean())
    sd = float(per_period.std(ddof=1)) if len(per_period) > 1 else float("nan")
    t = mean / sd * math.sqrt(len(per_period)) if math.isfinite(sd) and sd > 0 else None
    return {"top_bucket_excess": mean, "top_bucket_excess_t": t}


def _bucket(rows: pd.DataFrame) -> dict[str, Any]:
    if rows.empty:
        return {"n": 0, "hit_rate": None, "net_return": None}
    return {
        "n": len(rows),
        "hit_rate": float(rows["win"].mean()),
        "net_return": float(rows["net_return"].mean()),
    }


def assess(oos: pd.DataFrame, *, period_days: int) -> Assessment:
    """Fit the outcome model on pooled out-of-sample rows and run the edge test on them.

    Args:
        oos: rows with OOS_COLUMNS (`raw` the ensemble's uncalibrated win score).
        period_days: sessions per non-overlapping IC period (the trade length: max_hold_days + 1).
    """
    missing = [c for c in OOS_COLUMNS if c not in oos.columns]
    if missing:
        raise ValueError(f"out-of-sample frame lacks {missing}")
    if oos.empty:
        raise ValueError("the edge test needs out-of-sample rows")
    frame = oos.reset_index(drop=True).copy()
    win = frame["win"].to_numpy(dtype="float64")
    net = frame["net_return"].to_numpy(dtype="float64")
    frame["p"] = cross_fitted(frame)
    payoffs_cv = PayoffTable.fit(frame["p"].to_numpy(), net, win)
    frame["ev"] = payoffs_cv.expected_value(frame["p"].to_numpy())

    calibration = PlattMap.fit(frame["raw"].to_numpy(), win)
    p_final = calibration.transform(frame["raw"].to_numpy())
    outcome = OutcomeModel(calibration, PayoffTable.fit(p_final, net, win), float(win.mean()))

    table, ece = reliability(frame["p"].to_numpy(), win)
    ic = rank_ic(frame, "ev", period_days)
    ranks = frame.groupby("trade_date")["ev"].rank(ascending=False, method="first")
    per_day = frame.groupby("trade_date")["ev"].transform("count")
    top = frame[ranks <= np.maximum(1, np.floor(per_day * TOP_BUCKET_FRACTION))]
    model_ll = log_loss(frame["p"].to_numpy(), win)
    prior_ll = log_loss(frame["prior"].to_numpy(dtype="float64"), win)
    quality: dict[str, Any] = {
        **ic,
        "n_rows": len(frame),
        "n_days": int(frame["trade_date"].nunique()),
        "n_folds": int(frame["fold"].nunique()),
        "first_date": str(frame["trade_date"].min()),
        "last_date": str(frame["trade_date"].max()),
        "base_rate": float(win.mean()),
        "ece": ece,
        "reliability": table,
        "log_loss": model_ll,
        "prior_log_loss": prior_ll,
        "top_bucket": _bucket(top),
        "all_candidates": _bucket(frame),
        "rsi_rule": _bucket(frame[frame["rsi_buy"].astype(bool)]),
        "macd_rule": _bucket(frame[frame["macd_buy"].astype(bool)]),
        "top_bucket_fraction": TOP_BUCKET_FRACTION,
        "calibration_method": "platt (cross-fitted across folds)",
    }
    quality["top_bucket_hit_rate"] = quality["top_bucket"]["hit_rate"]
    quality["top_bucket_net_return"] = quality["top_bucket"]["net_return"]
    reasons = []
    if ic["rank_ic"] is None or ic["rank_ic"] <= 0 or (ic["rank_ic_t"] or 0.0) < MIN_T_STAT:
        reasons.append(
            f"rank IC {_fmt(ic['rank_ic'])} with t {_fmt(ic['rank_ic_t'])}: "
            f"needs IC > 0 with t >= {MIN_T_STAT:g}"
        )
    top_ret, all_ret = quality["top_bucket"]["net_return"], quality["all_candidates"]["net_return"]
    excess = excess_return(frame, top, period_days)
    quality.update(excess)
    # Win probability alone can be predictable without money in it (on a random walk a quiet stock's tight
    # stop loses more often, its far target pays more): the top bucket must also earn more, reliably.
    if top_ret is None or top_ret <= all_ret or top_ret <= 0:
        reasons.append(
            f"top bucket net return {_fmt(top_ret)} does not beat all candidates' {_fmt(all_ret)} and zero"
        )
    elif (excess["top_bucket_excess_t"] or 0.0) < MIN_T_STAT:
        reasons.append(
            f"top bucket's excess net return has t {_fmt(excess['top_bucket_excess_t'])}: needs t >= "
            f"{MIN_T_STAT:g} over non-overlapping periods"
        )
    if model_ll >= prior_ll:
        reasons.append(f"log loss {model_ll:.4f} does not beat the trailing prior's {prior_ll:.4f}")
    quality["trusted"] = not reasons
    quality["untrusted_reasons"] = reasons
    return Assessment(outcome, quality, not reasons, reasons, frame["p"].to_numpy())


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
