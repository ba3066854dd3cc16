"""Replay 2 years x the stored universe with monthly retraining: wall time and where it goes.

Run by hand against a database holding the history (the bundled 505-stock S&P 500 history,
`tft-trader prices load-history`):

    DATABASE_URL=postgresql://... uv run --no-sync python tests/benchmarks/bench_edge_replay.py \\
        --start 2016-02-08 --end 2018-01-31 [--retrain-every 21] [--members xgboost,lightgbm]

Prints the backtest's `timings_seconds` (labels, the first walk-forward, the monthly fits, block
prediction, the whole strategy replay, the daily loop per session without training), the edge test on the
replay's own predictions and the strategy beside buy-and-hold and both rules.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

from backend.backtest import service as backtest_service
from backend.cli.common import run
from backend.core.settings import override_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2016-02-08")
    parser.add_argument("--end", default="2018-01-31")
    parser.add_argument("--retrain-every", type=int, default=21)
    parser.add_argument("--members", default="lightgbm")
    args = parser.parse_args()
    request = backtest_service.BacktestRequest(
        start=date.fromisoformat(args.start),
        end=date.fromisoformat(args.end),
        retrain_every=args.retrain_every,
        members=args.members.split(","),
    )
    started = time.perf_counter()
    with override_settings(backtest={"members": args.members.split(",")}):
        results = run(lambda: backtest_service.run_backtest(request, progress=print))
    print(f"wall time {time.perf_counter() - started:.0f} s")
    keys = ("total_return", "sharpe", "max_drawdown", "win_rate", "n_trades")
    print("strategy ", {k: results["strategy"].get(k) for k in keys})
    print("buy&hold ", results["benchmark"])
    for name, rule in results["baselines"].items():
        print(f"{name:<9}", {k: rule.get(k) for k in keys})
    print(
        json.dumps(
            {"timings_seconds": results["timings_seconds"], "model_quality": results["model_quality"]},
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
