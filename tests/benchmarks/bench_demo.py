"""Wall time of `tft-trader demo --no-serve` on a fresh SQLite file, and its split by step.

    uv run --no-sync python tests/benchmarks/bench_demo.py [--repeat 1] [--tickers N] [--sessions N]
        [--build]

Each repeat runs the whole demo flow (`backend.pipeline.demo.run_demo`) against a new temp database and
prints the seconds per step; with several repeats, the median per step. The 1-minute load average before
and after is printed too: on a machine shared with other work the wall times are not the code's alone.
The dashboard build is off unless `--build` (it needs npm and measures npm, not this code).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from backend.core.settings import override_settings


def once(tickers: int | None, sessions: int, build: bool) -> tuple[dict[str, float], dict]:
    from backend.pipeline import demo

    with tempfile.TemporaryDirectory(prefix="bench_demo_") as home:
        demo_changes: dict = {"replay_sessions": sessions, "build_dashboard": build}
        if tickers:
            demo_changes["tickers"] = tickers
        db = Path(home) / "demo.db"
        with override_settings(data_dir=Path(home), database_url=f"sqlite:///{db}", demo=demo_changes):
            started, cpu = time.perf_counter(), time.process_time()
            result = demo.run_demo(None, build_dashboard=build)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    timings = dict(result.timings)
    timings["total (wall)"] = wall
    # CPU seconds of this process (both threads of a fit count): what the run costs when the machine is
    # shared; on an idle 2-core machine the wall time is at most about this.
    timings["total (cpu)"] = cpu
    bt = result.backtest
    facts = {
        "tickers": len(result.tickers),
        "live model trusted": result.model_trusted,
        "replay trusted": bt.get("model_quality", {}).get("trusted"),
        "replay rank IC (t)": (
            bt.get("model_quality", {}).get("rank_ic"),
            bt.get("model_quality", {}).get("rank_ic_t"),
        ),
        "retrains": bt.get("model", {}).get("retrains"),
        "model trades": bt.get("strategy", {}).get("n_trades"),
        "model return": bt.get("strategy", {}).get("total_return"),
        "RSI return / trades": (
            bt.get("baselines", {}).get("rsi_mean_reversion", {}).get("total_return"),
            bt.get("baselines", {}).get("rsi_mean_reversion", {}).get("n_trades"),
        ),
        "MACD return / trades": (
            bt.get("baselines", {}).get("macd_momentum", {}).get("total_return"),
            bt.get("baselines", {}).get("macd_momentum", {}).get("n_trades"),
        ),
        "buy & hold return": bt.get("benchmark", {}).get("total_return"),
        "replay timings": bt.get("timings_seconds"),
    }
    return timings, facts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tickers", type=int, default=None, help="first N tickers (default: all 505)")
    parser.add_argument("--sessions", type=int, default=504)
    parser.add_argument("--build", action="store_true", help="include the dashboard build (npm)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    runs = []
    for i in range(args.repeat):
        timings, facts = once(args.tickers, args.sessions, args.build)
        runs.append(timings)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
        for key, value in facts.items():
            print(f"  {key}: {value}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("median seconds per step:")
    for step in runs[0]:
        values = [r[step] for r in runs]
        print(f"  {step:14} {statistics.median(values):7.1f}")


if __name__ == "__main__":
    main()
