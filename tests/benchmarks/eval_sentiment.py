"""Accuracy of plain VADER vs the finance scorer on labelled posts; run by hand, prints a table.

    uv run --no-sync python tests/benchmarks/eval_sentiment.py

Data sets:
* tests/data/sentiment_posts.csv: hand-written Reddit-style posts, 3-class accuracy;
* the shared labelled data (see its README.md; path overridable with TFT_SENTIMENT_DATA):
  - Twitter financial news, 3-class accuracy. The lexicon was tuned on *train*; *valid* is held out.
  - StockTwits (Bullish/Bearish tagged by the authors): accuracy on the messages the scorer does not call
    neutral, plus coverage (share of messages it does call). It has no split, so a fixed random 30%
    (seed 0) is held out for reporting and the rest was used for tuning; both are printed.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.sentiment.scoring import (  # noqa: E402
    BEARISH_THRESHOLD,
    BULLISH_THRESHOLD,
    SentimentScorer,
    plain_vader_score,
)

POSTS_CSV = REPO_ROOT / "tests/data/sentiment_posts.csv"
SHARED_DATA = Path(
    os.environ.get("TFT_SENTIMENT_DATA", Path(__file__).resolve().parents[3] / "shared/data/sentiment")
)
TWITTER_LABELS = {"0": "bearish", "1": "bullish", "2": "neutral"}
STOCKTWITS_HOLDOUT = 0.3
STOCKTWITS_SEED = 0

Labelled = list[tuple[str, str]]


def load_posts(path: Path = POSTS_CSV) -> Labelled:
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def load_twitter(split: str, data_dir: Path = SHARED_DATA) -> Labelled:
    path = data_dir / f"twitter_financial_news_sent_{split}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["text"], TWITTER_LABELS[row["label"]]) for row in csv.DictReader(f)]


def load_stocktwits(data_dir: Path = SHARED_DATA) -> tuple[Labelled, Labelled]:
    """(tuning part, held-out part): a fixed seeded 70/30 split of the headerless label,text file."""
    with (data_dir / "stocktwits_labelled.csv").open(encoding="utf-8", newline="") as f:
        rows = [(text, label.lower()) for label, text in csv.reader(f)]
    order = list(range(len(rows)))
    random.Random(STOCKTWITS_SEED).shuffle(order)
    cut = int(len(rows) * STOCKTWITS_HOLDOUT)
    held = {*order[:cut]}
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


@dataclass(frozen=True)
class Result:
    accuracy: float  # over all rows, or over the called (non-neutral) rows when polar_only
    coverage: float  # share of rows labelled bullish/bearish
    n: int


def evaluate(
    rows: Sequence[tuple[str, str]], predict: Callable[[str], str], polar_only: bool = False
) -> Result:
    predicted = [(predict(text), gold) for text, gold in rows]
    called = [(p, g) for p, g in predicted if p != "neutral"]
    pool = called if polar_only else predicted
    correct = sum(p == g for p, g in pool)
    return Result(correct / max(len(pool), 1), len(called) / max(len(rows), 1), len(rows))


def main() -> None:
    scorer = SentimentScorer()

    def custom(text: str) -> str:
        return scorer.label(scorer.score(text))

    def plain(text: str) -> str:
        # VADER's own convention (±0.05), the baseline the targets are quoted against.
        compound = plain_vader_score(text)
        return "bullish" if compound >= 0.05 else "bearish" if compound <= -0.05 else "neutral"

    def plain_our_thresholds(text: str) -> str:
        return scorer.label(plain_vader_score(text))  # isolates what the lexicon adds

    sets: list[tuple[str, Labelled, bool]] = [("own posts (3-class)", load_posts(), False)]
    if SHARED_DATA.is_dir():
        tune_st, held_st = load_stocktwits()
        sets += [
            ("Twitter valid (3-class, held out)", load_twitter("valid"), False),
            ("Twitter train (3-class, tuned on)", load_twitter("train"), False),
            ("StockTwits holdout 30% (non-neutral)", held_st, True),
            ("StockTwits tuning 70% (non-neutral)", tune_st, True),
        ]
    else:
        print(f"shared data not found at {SHARED_DATA}; set TFT_SENTIMENT_DATA", file=sys.stderr)

    started = time.perf_counter()
    print(f"thresholds: plain VADER ±0.05; custom {BULLISH_THRESHOLD} / {BEARISH_THRESHOLD}")
    header = f"{'data set':38} {'n':>6} {'plain':>13} {'plain@custom thr':>17} {'custom':>13}"
    print(header + "\n" + f"{'':38} {'':>6} {'acc   cov':>13} {'acc   cov':>17} {'acc   cov':>13}")
    for name, rows, polar_only in sets:
        cells = [evaluate(rows, fn, polar_only) for fn in (plain, plain_our_thresholds, custom)]
        p, q, c = (f"{r.accuracy:.3f} {r.coverage:.3f}" for r in cells)
        print(f"{name:38} {cells[0].n:>6} {p:>13} {q:>17} {c:>13}")
    print(f"({time.perf_counter() - started:.1f}s; cov = share of rows called bullish or bearish)")


if __name__ == "__main__":
    main()
