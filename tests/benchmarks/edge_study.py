"""What the cross-sectional features add: the edge test with and without them, on a stored universe.

Run by hand against a database holding the history (e.g. the 505-stock S&P 500 file imported with
`tft-trader prices import`):

    DATABASE_URL=postgresql://... uv run --no-sync python tests/benchmarks/edge_study.py \\
        --as-of 2016-02-05 [--members lightgbm] [--folds 4]

Both variants use the same walk-forward folds, rows and settings; only the feature columns differ.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date

from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.features import service as feature_service
from backend.features.cross_section import CROSS_SECTION_COLUMNS
from backend.features.labels import triple_barrier_labels
from backend.ml import training
from backend.pipeline import ml as ml_pipeline


async def load(as_of: date) -> training.TrainingSet:
    async with transaction() as session:
        tickers = await ml_pipeline.resolve_tickers(session=session, tickers=None, end=as_of)
        inputs = await feature_service.load_inputs(
            session=session, tickers=tickers, start=ml_pipeline.EARLIEST, end=as_of
        )
    features = feature_service.features_between(inputs, ml_pipeline.EARLIEST, as_of)
    labels = triple_barrier_labels(inputs.prices, get_settings().risk)
    return training.make_training_set(features, labels, inputs.prices)


def line(name: str, q: dict) -> str:
    top, every = q["top_bucket"], q["all_candidates"]
    return (
        f"{name:<22} rank IC {q['rank_ic']:+.4f} (t {q['rank_ic_t']:+.2f}, {q['ic_periods']} periods)  "
        f"top bucket hit {top['hit_rate']:.3f} net {top['net_return']:+.4%}  all hit {every['hit_rate']:.3f} "
        f"net {every['net_return']:+.4%}  log loss {q['log_loss']:.4f} vs prior {q['prior_log_loss']:.4f}  "
        f"trusted {q['trusted']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as-of", default="2018-01-26")
    parser.add_argument("--members", default="lightgbm")
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    members = args.members.split(",")
    started = time.perf_counter()
    ts = asyncio.run(load(date.fromisoformat(args.as_of)))
    print(
        f"{len(ts.win):,} labelled rows, {ts.X.index.get_level_values(0).nunique()} tickers "
        f"({time.perf_counter() - started:.0f} s to load); base rate {ts.win.mean():.3f}"
    )
    without = training.TrainingSet(
        ts.X.drop(columns=list(CROSS_SECTION_COLUMNS)), ts.win, ts.net_return, ts.indicators
    )
    for name, data in (("with cross-section", ts), ("without cross-section", without)):
        started = time.perf_counter()
        oos = training.walk_forward(data, member_names=members, n_splits=args.folds)
        q = training.assess(oos).quality
        print(line(name, q) + f"  ({time.perf_counter() - started:.0f} s)")
    print("RSI rule BUY rows:", q["rsi_rule"], " MACD rule BUY rows:", q["macd_rule"])


if __name__ == "__main__":
    main()
