"""Throughput of the finance scorer (+ ticker extraction) vs plain VADER on the same texts, one core.

    uv run --no-sync python tests/benchmarks/bench_sentiment.py [--reps 5]

Texts: the shared StockTwits + Twitter financial-news sets (see eval_sentiment.py), or, without them, the
hand-written posts replicated to 20,000. Each repetition times every variant over all texts, alternating
the order; medians are printed, then the time for single 1 MB posts. Budget: custom >= 2,000 posts/s
and <= 1.5x plain VADER's time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
for extra in (REPO_ROOT, Path(__file__).resolve().parent):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from eval_sentiment import SHARED_DATA, load_posts, load_stocktwits, load_twitter  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from backend.market.universe import bundled_universe  # noqa: E402
from backend.sentiment.extract import extract_tickers  # noqa: E402
from backend.sentiment.scoring import SentimentScorer  # noqa: E402
from backend.sentiment.ticker_index import TickerIndex  # noqa: E402


def load_texts() -> list[str]:
    if SHARED_DATA.is_dir():
        tune, held = load_stocktwits()
        rows = tune + held + load_twitter("train") + load_twitter("valid")
        return [text for text, _ in rows]
    posts = [text for text, _ in load_posts()]
    return (posts * (20_000 // len(posts) + 1))[:20_000]


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def time_once(fn: Callable[[str], object], texts: Sequence[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        fn(text)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    where = pin_to_one_core()
    texts = load_texts()
    # The real universe for extraction: the bundled US listing + ETFs as `tickers seed` stores it.
    infos, _ = bundled_universe()
    known = TickerIndex((t.symbol, t.market_cap, t.asset_type) for t in infos)
    scorer = SentimentScorer()
    vader = SentimentIntensityAnalyzer()

    def custom(text: str) -> None:
        scorer.score(text)
        extract_tickers(text, known)

    variants: dict[str, Callable[[str], object]] = {
        "plain VADER polarity_scores": vader.polarity_scores,
        "custom score": scorer.score,
        "custom score + extract_tickers": custom,
        "extract_tickers alone": lambda text: extract_tickers(text, known),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for rep in range(args.reps):
        order = list(variants) if rep % 2 == 0 else list(reversed(variants))
        for name in order:
            timings[name].append(time_once(variants[name], texts))

    print(f"{len(texts)} texts, {args.reps} repetitions, {where}, {len(known)} known symbols")
    plain = statistics.median(timings["plain VADER polarity_scores"])
    print(f"{'variant':34} {'median s':>9} {'posts/s':>9} {'vs plain':>9}")
    for name, runs in timings.items():
        median = statistics.median(runs)
        print(f"{name:34} {median:>9.3f} {len(texts) / median:>9.0f} {median / plain:>8.2f}x")

    # One huge post (the unit tests check only the results on these, never the time they take).
    huge: dict[str, tuple[Callable[[str], object], str]] = {
        "score, 1 MB post": (
            scorer.score,
            "Diamond hands, calls printing, to the moon 🚀 but puts are cheap and drilling. " * 13_000,
        ),
        "extract, 1 MB post": (
            lambda text: extract_tickers(text, known),
            "Bought $TSLA and NVDA, sold AAPL. https://x.com/MSFT " * 20_000,
        ),
        "extract, 1 MB without spaces": (lambda text: extract_tickers(text, known), "x/AAPL/" * 150_000),
    }
    for name, (fn, text) in huge.items():
        median = statistics.median(time_once(fn, [text]) for _ in range(args.reps))
        print(f"{name:34} {median:>9.3f} s")


if __name__ == "__main__":
    main()
