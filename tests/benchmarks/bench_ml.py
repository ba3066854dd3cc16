"""Features and ensemble at scale: 500 tickers x 1,260 sessions (~600k feature rows) on this machine.

Run by hand (not part of the test suite):

    uv run --no-sync python tests/benchmarks/bench_ml.py [--tickers 500] [--days 1260] [--repeat 3]
        [--no-lstm]

Measured side by side in one run, medians of --repeat runs:
  * feature building  - `build_features` (+ `triple_barrier_labels`) over the whole universe
  * XGBoost + LightGBM - our members' `fit` with the default settings (class weights included)
  * plain LightGBM    - `lightgbm.LGBMClassifier().fit` on the same matrix (the reference)
  * LSTM              - our member's `fit`; it subsamples to `ml.lstm_max_train_samples` rows (60,000)
  * inference         - the fitted ensemble's calibrated probabilities for every ticker's newest day,
                        given each ticker's last 30 rows (the LSTM's window)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import lightgbm
import numpy as np
import pandas as pd

from backend.core.settings import get_settings
from backend.features.build import FEATURE_COLUMNS, FEATURE_SET_VERSION, build_features, usable_rows
from backend.features.labels import triple_barrier_labels
from backend.features.market_index import load_sample_index
from backend.market.indicators import compute_indicators
from backend.market.models import INDICATOR_COLUMNS
from backend.ml.ensemble import Ensemble
from backend.ml.members import MEMBERS, available_members
from tests.factories import make_bars


def universe(n_tickers: int, n_days: int) -> pd.DataFrame:
    frames = []
    for i in range(n_tickers):
        bars = make_bars(f"T{i:04d}"[:5], n=n_days, seed=i, start=pd.Timestamp("2012-01-03").date())
        bars[list(INDICATOR_COLUMNS)] = compute_indicators(bars)
        frames.append(bars)
    return pd.concat(frames, ignore_index=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def one_run(
    prices: pd.DataFrame, market: pd.DataFrame, lstm: bool
) -> tuple[dict[str, float], int, list[str]]:
    """Every step once; returns seconds per step, training rows and the members fitted."""
    seconds: dict[str, float] = {}
    seconds["feature building"], features = timed(lambda: build_features(prices, None, market))
    seconds["labels"], labels = timed(lambda: triple_barrier_labels(prices, get_settings().risk))
    data = features.merge(
        labels[["ticker", "trade_date", "label", "label_complete"]], on=["ticker", "trade_date"]
    )
    data = data[usable_rows(data).to_numpy() & data["label_complete"].to_numpy(dtype=bool)]
    X = data.set_index(["ticker", "trade_date"])[list(FEATURE_COLUMNS)]
    y = data["label"].to_numpy(dtype=np.int64)
    names = ["xgboost", "lightgbm"] + (["lstm"] if lstm and "lstm" in available_members() else [])
    members = {}
    for name in names:
        label = "fit lstm (subsampled)" if name == "lstm" else f"fit {name}"
        seconds[label], members[name] = timed(
            lambda n=name: MEMBERS[n]().fit(X, y, feature_set_version=FEATURE_SET_VERSION)
        )
    seconds["fit xgboost + lightgbm"] = seconds["fit xgboost"] + seconds["fit lightgbm"]
    seconds["plain LGBMClassifier.fit"], _ = timed(
        lambda: lightgbm.LGBMClassifier(verbose=-1).fit(X.to_numpy(), y)
    )
    ensemble = Ensemble(members)
    # The newest day needs only each ticker's last `sequence_length` rows (the LSTM's window).
    recent = X.groupby(level="ticker", group_keys=False).tail(get_settings().features.sequence_length)
    dates = recent.index.get_level_values("trade_date")
    newest = np.flatnonzero(dates == dates.max())
    seconds[f"inference ({len(newest)} tickers)"], _ = timed(lambda: ensemble.predict_proba(recent)[newest])
    return seconds, len(X), sorted(members)


def main(n_tickers: int, n_days: int, repeat: int, lstm: bool) -> None:
    prices = universe(n_tickers, n_days)
    market = load_sample_index()
    print(f"{n_tickers} tickers x {n_days} sessions = {len(prices):,} price rows; {repeat} repetitions\n")
    results: dict[str, list[float]] = {}
    for r in range(repeat):
        seconds, n_rows, members = one_run(prices, market, lstm)
        for name, value in seconds.items():
            results.setdefault(name, []).append(value)
        print(
            f"  run {r + 1}: {n_rows:,} training rows; "
            + ", ".join(f"{k} {v:.2f}s" for k, v in seconds.items())
        )

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{'step':<28} {'median s':>9}")
    for k, v in med.items():
        print(f"{k:<28} {v:>9.2f}")
    ratio = med["fit xgboost + lightgbm"] / med["plain LGBMClassifier.fit"]
    print(f"\nour XGBoost + LightGBM training / plain LightGBM fit: {ratio:.2f}x")
    print(f"ensemble members: {members}; LSTM max samples {get_settings().ml.lstm_max_train_samples:,}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-lstm", action="store_true")
    args = parser.parse_args()
    main(args.tickers, args.days, args.repeat, not args.no_lstm)
