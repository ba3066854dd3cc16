"""How often would the outcome model signal? Base rate, P(win) distribution and signals per week.

Run by hand on the bundled sample history (AAPL, GOOG, IBM, MSFT, FB, 2000-2013):

    uv run --no-sync python tests/benchmarks/signal_rate.py [--lstm] [--as-of 2012-12-31]

Walk-forward out-of-sample P(win) (default settings: 4 folds of 63 sessions, Platt calibration cross-fitted
across folds) is swept over confidence bars, so the trade-off between the 0.60 default, the spec's 0.70,
the signal rate and the hit rate / mean net return of the calls is visible side by side. Rates are scaled
to a 50-ticker universe.
"""

from __future__ import annotations

import argparse
from datetime import date

import numpy as np
import pandas as pd

from backend.core.settings import get_settings, override_settings
from backend.features.build import build_features
from backend.features.labels import triple_barrier_labels
from backend.features.market_index import load_sample_index
from backend.market.indicators import compute_indicators
from backend.market.models import INDICATOR_COLUMNS
from backend.market.providers import SampleProvider
from backend.ml import training

BARS = (0.45, 0.50, 0.55, 0.60, 0.65, 0.70)


def sample_prices(as_of: date) -> pd.DataFrame:
    bars = SampleProvider().fetch().bars
    frames = []
    for _, one in bars.groupby("ticker"):
        one = one.sort_values("trade_date").reset_index(drop=True)
        one[list(INDICATOR_COLUMNS)] = compute_indicators(one)
        frames.append(one)
    prices = pd.concat(frames, ignore_index=True)
    return prices[prices["trade_date"] <= as_of].reset_index(drop=True)


def run(as_of: date, members: list[str], label: str) -> None:
    prices = sample_prices(as_of)
    features = build_features(prices, None, load_sample_index())
    labels = triple_barrier_labels(prices, get_settings().risk)
    ts = training.make_training_set(features, labels, prices)
    oos = training.walk_forward(ts, member_names=members)
    assessment = training.assess(oos)
    p = assessment.oos_p if assessment.oos_p is not None else np.zeros(len(oos))
    n_tickers = oos["ticker"].nunique()
    weeks = oos["trade_date"].nunique() / 5
    print(
        f"\n== {label}: members {members}, {len(ts.win)} labelled rows, OOS {len(oos)} rows, "
        f"{n_tickers} tickers"
    )
    print(
        f"base rate (net-profitable trades), all rows: {ts.win.mean():.3f}; "
        f"out of sample: {oos['win'].mean():.3f}"
    )
    q = np.quantile(p, [0.5, 0.9, 0.99, 1.0])
    print(f"P(win) out of sample: median {q[0]:.3f}  p90 {q[1]:.3f}  p99 {q[2]:.3f}  max {q[3]:.3f}")
    print("trusted:", assessment.trusted, assessment.reasons)
    print(f"{'bar':>5} {'signals':>8} {'per week / 50 tickers':>22} {'hit rate':>10} {'mean net return':>16}")
    for bar in BARS:
        hit = p >= bar
        n = int(hit.sum())
        rate = float(oos["win"].to_numpy()[hit].mean()) if n else float("nan")
        mean_ret = float(oos["net_return"].to_numpy()[hit].mean()) if n else float("nan")
        print(f"{bar:>5.2f} {n:>8} {n / weeks * 50 / n_tickers:>22.2f} {rate:>10.3f} {mean_ret:>16.4f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as-of", default="2012-12-31")
    parser.add_argument("--lstm", action="store_true", help="include the LSTM member (slow on CPU)")
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    members = ["xgboost", "lightgbm"] + (["lstm"] if args.lstm else [])
    run(as_of, members, "defaults")
    with override_settings(ml={"calibration": "none"}):
        run(as_of, members, "no calibration")
    with override_settings(ml={"walk_forward_splits": 12}):
        run(as_of, members, "defaults, 12 folds (3 years out of sample)")


if __name__ == "__main__":
    main()
